"""Load shedding: admit a search only when it can be answered within the budget.

Why a budget and not a queue length: past capacity a FIFO queue makes every request wait its turn
(at 200 clients on 2 cores, 2+ s each). How long a new search would take is the time the server
needs to finish the searches admitted before it, plus its own; that is what is compared with the
budget, and a search over it is refused at once (503 + Retry-After) instead of being served late.

Both parts are measured, not configured. Every search ends up on one compute resource
(imagesearch/compute.py runs each torch / ONNX / FAISS call on one thread; the rest of a search
shares the same two cores):

- What is ahead. A search that completes at ``t`` is charged the time since ``max(previous
  completion, its own admission)``: under load that is the gap since the previous completion, so
  the charges of a busy period add up to its length; with the server idle, a search's charge is
  its own latency. An exponentially weighted mean of the charges per kind of search (text, image,
  batch, ...) is that kind's cost, and the searches admitted and not done, at their kinds' costs,
  are the work ahead of a new one: its wait.
- Its own time. Concurrent texts are encoded as one batch (compute.TorchThread.run_batched), so a
  text is answered when its whole batch is, with the texts admitted after it: a new search takes
  its wait plus that. Each completion's time beyond the wait estimated when it was admitted is
  measured too (one mean over all searches); it holds the batch and whatever the estimate missed
  (other processes on the cores), so the prediction corrects itself.

Everything here runs on the event loop (no locks); time comes from an injected clock, so the
logic is tested without sleeping.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass

# Cost assumed for a kind of search (and for a search's own time) before one completes (ViT-B/32
# text on 2 cores: ~16 ms alone; an upload: ~40 ms): the first measurement replaces it.
INITIAL_COST_S = 0.05
# Weight of a new sample in a mean: ~1/20, so a batch of ~16 texts (one charged the batch, the
# others nothing) moves it little, while the mix can still change it within a second or two.
SMOOTHING = 0.05
# The longest wait Retry-After asks for the clients ahead of a refused one: a server closes a
# keep-alive connection idle for 5 s (uvicorn's default), so a client told to wait longer would
# find its connection closed when it comes back.
MAX_BACKLOG_RETRY_S = 4.0


@dataclass(frozen=True)
class Refusal:
    """Why a search was refused: the time it would have taken, over the budget; and the time the
    server needs for the clients already told to come back (``backlog_s``)."""

    expected_s: float
    budget_s: float
    backlog_s: float = 0.0

    @property
    def retry_after_s(self) -> int:
        """Whole seconds (as ``Retry-After`` carries them) until the queue is back within budget,
        or, when more clients are waiting than that, until those refused before are served: a
        client then comes back about when there is room for it, instead of being refused again
        (each refusal still costs the cores its HTTP exchange)."""
        backlog = min(self.backlog_s, MAX_BACKLOG_RETRY_S)
        return max(1, math.ceil(max(self.expected_s - self.budget_s, backlog) - 1e-9))

    @property
    def message(self) -> str:
        return (
            f"the server is busy: a search now would take about {self.expected_s:.2f} s, over its "
            f"{self.budget_s:g} s budget; retry after {self.retry_after_s} s"
        )


@dataclass(eq=False)
class Ticket:
    """One admitted search, until ``AdmissionQueue.done``."""

    kind: str
    admitted_at: float
    wait_s: float  # the wait estimated at admission


class _Mean:
    """The plain mean of the first samples (weight 1/n), then the exponential one: the initial
    guess is gone after one sample, early noise after ~1/smoothing."""

    def __init__(self, initial: float, smoothing: float) -> None:
        self.value = initial
        self._smoothing = smoothing
        self._samples = 0

    def add(self, sample: float) -> None:
        self._samples += 1
        weight = max(self._smoothing, 1 / self._samples)
        self.value += weight * (sample - self.value)


class AdmissionQueue:
    """Predicts how long a search admitted now would take; refuses it past ``budget_s``.

    ``budget_s`` 0 turns shedding off (every search is admitted and waits its turn); the costs
    are still measured, so ``expected_s`` reports the queue either way.
    """

    def __init__(
        self,
        budget_s: float,
        clock: Callable[[], float] = time.monotonic,
        smoothing: float = SMOOTHING,
        initial_cost_s: float = INITIAL_COST_S,
    ) -> None:
        self.budget_s = budget_s
        self._clock = clock
        self._initial_cost_s = initial_cost_s
        self._smoothing = smoothing
        self._costs: dict[str, _Mean] = {}
        self._own = self._new_mean()
        self._admitted: Counter[str] = Counter()  # kind -> searches admitted and not done
        self._last_done = -math.inf

    @property
    def enabled(self) -> bool:
        return self.budget_s > 0

    @property
    def admitted(self) -> int:
        """Searches admitted and not done."""
        return sum(self._admitted.values())

    def cost_s(self, kind: str) -> float:
        """The measured cost of one search of ``kind`` (the initial guess until one completes)."""
        mean = self._costs.get(kind)
        return mean.value if mean is not None else self._initial_cost_s

    @property
    def own_s(self) -> float:
        """The measured time a search takes once the work ahead of it is done (its batch included)."""
        return self._own.value

    def wait_s(self) -> float:
        """Seconds of work ahead of a search admitted now: the searches admitted before it."""
        return sum(count * self.cost_s(kind) for kind, count in self._admitted.items())

    def expected_s(self) -> float:
        """Seconds until a search admitted now would be answered: its wait and its own time."""
        return self.wait_s() + self.own_s

    def refusal(self, waiting: Callable[[], int] = lambda: 0) -> Refusal | None:
        """A Refusal when a search now would take longer than the budget, else None (no change).
        ``waiting``: how many clients were refused before and told to come back (RetryBook.waiting),
        asked only for a refusal.

        A search that would wait for nothing is always admitted, however long searches took: the
        budget refuses waiting, not work (and the measurements would stop if nothing ran).
        """
        if not self.enabled or not self._admitted:
            return None
        expected = self.expected_s()
        if expected <= self.budget_s:
            return None
        # The waiting clients at the mean cost of the searches admitted now.
        backlog = waiting() * self.wait_s() / self.admitted
        return Refusal(expected, self.budget_s, backlog)

    def admit(self, kind: str, waiting: Callable[[], int] = lambda: 0) -> Ticket | Refusal:
        """Admit a search of ``kind`` (a Ticket to hand back to ``done``) or refuse it."""
        refused = self.refusal(waiting)
        if refused is not None:
            return refused
        ticket = Ticket(kind, self._clock(), self.wait_s())
        self._admitted[kind] += 1
        return ticket

    def done(self, ticket: Ticket) -> None:
        """The search finished (answered, failed or timed out): measure it, and count it out."""
        now = self._clock()
        self._admitted[ticket.kind] -= 1
        if not self._admitted[ticket.kind]:
            del self._admitted[ticket.kind]
        self._costs.setdefault(ticket.kind, self._new_mean()).add(
            now - max(self._last_done, ticket.admitted_at)
        )
        self._own.add(max(0.0, now - ticket.admitted_at - ticket.wait_s))
        self._last_done = now

    def _new_mean(self) -> _Mean:
        return _Mean(self._initial_cost_s, self._smoothing)


class RetryBook:
    """When each connection was told to come back (``Retry-After``), so that one that comes back
    early is told again no sooner than that time.

    Clients that honour Retry-After never notice it. A client that retries at once is answered as
    soon as there is room (its retry is read and admitted like any request, so an accepted search
    never carries a wait it did not cause), but a retry that is refused again gets its 503 only
    when the previous one said to come back: such clients then cost the server one refusal per
    ``Retry-After`` seconds each instead of one per round trip, which past capacity would turn the
    cores into a refusal loop. A connection is its (host, port): one TCP connection, not a host
    (clients behind one proxy address keep their own answers).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._not_before: dict[Hashable, float] = {}
        self._pruned_at = 64  # size at which expired entries are next dropped

    def delay_s(self, connection: Hashable | None) -> float:
        """Seconds until ``connection`` may be refused again (0: at once)."""
        if connection is None:
            return 0.0
        return max(0.0, self._not_before.get(connection, -math.inf) - self._clock())

    def refused(self, connection: Hashable | None, retry_after_s: float, delay_s: float) -> None:
        """A 503 for ``connection`` leaves after ``delay_s``, saying to retry ``retry_after_s`` later."""
        if connection is None:
            return
        now = self._clock()
        self._not_before[connection] = now + delay_s + retry_after_s
        if len(self._not_before) >= self._pruned_at:
            self._not_before = {key: at for key, at in self._not_before.items() if at > now}
            self._pruned_at = max(64, 2 * len(self._not_before))

    def forget(self, connection: Hashable | None) -> None:
        """``connection`` was admitted: it no longer waits."""
        if connection is not None:
            self._not_before.pop(connection, None)

    def waiting(self) -> int:
        """Connections told to come back later that are not back yet (one pass over the book)."""
        now = self._clock()
        return sum(1 for at in self._not_before.values() if at > now)

    def __len__(self) -> int:
        return len(self._not_before)
