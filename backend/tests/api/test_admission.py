"""The admission queue on its own: measured costs, the expected time, refusals (a fake clock)."""

from __future__ import annotations

import pytest

from imagesearch.api.admission import MAX_BACKLOG_RETRY_S, AdmissionQueue, Refusal, RetryBook, Ticket


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def admitted(queue: AdmissionQueue, kind: str) -> Ticket:
    ticket = queue.admit(kind)
    assert isinstance(ticket, Ticket), ticket
    return ticket


def test_a_lone_search_is_charged_its_own_latency() -> None:
    clock = Clock()
    queue = AdmissionQueue(budget_s=0.5, clock=clock, initial_cost_s=0.05)
    assert queue.cost_s("text") == 0.05 and queue.own_s == 0.05  # the guesses, until one completes
    ticket = admitted(queue, "text")
    assert ticket.wait_s == 0.0
    clock.now += 0.02
    queue.done(ticket)
    assert queue.cost_s("text") == pytest.approx(0.02)  # the first measurement replaces the guess
    assert queue.own_s == pytest.approx(0.02)  # nothing was ahead: all of it was its own time
    clock.now += 5.0  # idle: the next one is charged from its own admission, not the last completion
    ticket = admitted(queue, "text")
    clock.now += 0.04
    queue.done(ticket)
    assert queue.cost_s("text") == pytest.approx(0.03)  # the mean of 0.02 and 0.04
    assert queue.cost_s("image") == 0.05  # another kind keeps the guess


def test_a_batch_shares_its_cost_and_each_text_waits_for_all_of_it() -> None:
    # Eight texts admitted at once and encoded as one 80 ms batch: the first completion is
    # charged the batch, the rest nothing, so the cost is the batch's time per text; but each
    # text was answered only when the batch was, beyond the wait estimated for it.
    clock = Clock()
    queue = AdmissionQueue(budget_s=1.0, clock=clock, smoothing=0.01, initial_cost_s=0.01)
    tickets = [admitted(queue, "text") for _ in range(8)]
    assert [ticket.wait_s for ticket in tickets] == pytest.approx([0.01 * n for n in range(8)])
    clock.now += 0.08
    for ticket in tickets:
        queue.done(ticket)
    assert queue.cost_s("text") == pytest.approx(0.01)
    assert queue.own_s == pytest.approx(sum(0.08 - 0.01 * n for n in range(8)) / 8)  # 0.045


def test_under_load_a_completion_is_charged_the_gap_since_the_previous_one() -> None:
    # A busy server: completions every 10 ms (texts) with 20 ms for each image between them.
    clock = Clock()
    queue = AdmissionQueue(budget_s=10.0, clock=clock, smoothing=0.1)
    queued = [admitted(queue, kind) for kind in ["text", "image"] * 50]
    for ticket in queued:
        clock.now += 0.01 if ticket.kind == "text" else 0.02
        queue.done(ticket)
    assert queue.cost_s("text") == pytest.approx(0.01)
    assert queue.cost_s("image") == pytest.approx(0.02)


def test_the_expected_time_is_the_work_ahead_and_a_searchs_own_time() -> None:
    clock = Clock()
    queue = AdmissionQueue(budget_s=1.0, clock=clock, initial_cost_s=0.1)
    assert queue.wait_s() == 0.0 and queue.expected_s() == pytest.approx(0.1)
    texts = [admitted(queue, "text") for _ in range(3)]
    image = admitted(queue, "image")
    assert queue.admitted == 4
    assert queue.wait_s() == pytest.approx(0.4)
    assert queue.expected_s() == pytest.approx(0.5)
    clock.now += 0.3
    queue.done(texts[0])  # charged 0.3 s: text searches now cost that; its own time was 0.3 s
    assert queue.wait_s() == pytest.approx(2 * 0.3 + 0.1)
    assert queue.expected_s() == pytest.approx(2 * 0.3 + 0.1 + 0.3)
    queue.done(image)
    assert queue.admitted == 2


def test_past_the_budget_a_search_is_refused_and_not_counted() -> None:
    clock = Clock()
    queue = AdmissionQueue(budget_s=0.35, clock=clock, initial_cost_s=0.1)
    tickets = [admitted(queue, "text") for _ in range(3)]  # expected 0.1, 0.2, 0.3 s: within budget
    refused = queue.admit("text")  # it would take 0.4 s
    assert isinstance(refused, Refusal)
    assert refused.expected_s == pytest.approx(0.4) and refused.budget_s == 0.35
    assert queue.refusal() == refused
    assert queue.admitted == 3  # a refusal takes no place in the queue
    clock.now += 0.01
    queue.done(tickets[0])  # it took 0.01 s: the cost and the own time fall with it
    assert queue.refusal() is None
    assert isinstance(queue.admit("text"), Ticket)


def test_time_the_estimate_missed_counts_as_own_time() -> None:
    # The cores are slower than the measured cost says (another process took them): ten texts
    # estimated at 10 ms each take 50 ms each, so the n-th waited 40 ms x n longer than its
    # estimate; that excess is measured as own time and raises the expected time of the next.
    clock = Clock()
    queue = AdmissionQueue(budget_s=1.0, clock=clock, initial_cost_s=0.01, smoothing=0.01)
    tickets = [admitted(queue, "text") for _ in range(10)]  # estimated waits 0, 0.01, .. 0.09 s
    for ticket in tickets:
        clock.now += 0.05
        queue.done(ticket)
    assert queue.cost_s("text") == pytest.approx(0.05)
    assert queue.own_s == pytest.approx(sum(0.05 + 0.04 * n for n in range(10)) / 10)  # 0.23 s
    assert queue.expected_s() == pytest.approx(0.23)


def test_a_search_that_would_wait_for_nothing_is_always_admitted() -> None:
    # Searches took far longer than the budget: the next ones are refused while one runs, but
    # once none is left the next is admitted (and measured), so the server cannot lock itself out.
    clock = Clock()
    queue = AdmissionQueue(budget_s=0.5, clock=clock)
    slow = admitted(queue, "image")
    clock.now += 3.0
    queue.done(slow)
    assert queue.expected_s() == pytest.approx(3.0)
    first = admitted(queue, "text")
    assert isinstance(queue.admit("text"), Refusal)
    clock.now += 0.01
    queue.done(first)
    assert isinstance(queue.admit("text"), Ticket)


def test_retry_after_is_the_whole_seconds_until_the_queue_is_back_within_budget() -> None:
    assert Refusal(expected_s=0.6, budget_s=0.5).retry_after_s == 1  # never 0: "at once" would hammer
    assert Refusal(expected_s=2.2, budget_s=0.5).retry_after_s == 2
    assert Refusal(expected_s=9.01, budget_s=1.0).retry_after_s == 9
    message = Refusal(expected_s=2.2, budget_s=0.5).message
    assert "busy" in message and "2.20 s" in message and "0.5 s budget" in message and "2 s" in message


def test_a_budget_of_zero_admits_everything_and_still_measures() -> None:
    clock = Clock()
    queue = AdmissionQueue(budget_s=0.0, clock=clock, initial_cost_s=1.0)
    assert not queue.enabled
    tickets = [admitted(queue, "image") for _ in range(100)]
    assert queue.refusal() is None
    assert queue.wait_s() == pytest.approx(100.0)
    clock.now += 0.5
    queue.done(tickets[0])
    assert queue.cost_s("image") == pytest.approx(0.5)


def test_the_mean_follows_a_change_in_cost() -> None:
    clock = Clock()
    queue = AdmissionQueue(budget_s=1.0, clock=clock, smoothing=0.1)
    for cost in [0.01] * 50 + [0.05] * 50:
        ticket = admitted(queue, "text")
        clock.now += cost
        queue.done(ticket)
    assert queue.cost_s("text") == pytest.approx(0.05, rel=0.01)  # 0.9 ** 50: the old cost is gone
    assert queue.own_s == pytest.approx(0.05, rel=0.01)


def test_a_connection_that_comes_back_early_is_refused_no_sooner_than_it_was_told() -> None:
    clock = Clock()
    book = RetryBook(clock=clock)
    client, other = ("127.0.0.1", 50001), ("127.0.0.1", 50002)
    assert book.delay_s(client) == 0.0  # a first refusal goes out at once
    book.refused(client, retry_after_s=2, delay_s=0.0)
    clock.now += 0.5  # it retries before the 2 s it was told
    assert book.delay_s(client) == pytest.approx(1.5)
    assert book.delay_s(other) == 0.0 and book.delay_s(None) == 0.0  # per connection, not per host
    book.refused(client, retry_after_s=1, delay_s=1.5)  # that 503 leaves at +2 s, saying 1 s more
    clock.now += 1.5
    assert book.delay_s(client) == pytest.approx(1.0)
    clock.now += 1.0  # a client that waited what it was told is answered at once
    assert book.delay_s(client) == 0.0


def test_the_retry_book_forgets_connections_whose_time_has_passed() -> None:
    clock = Clock()
    book = RetryBook(clock=clock)
    for port in range(1000):
        book.refused(("10.0.0.1", port), retry_after_s=1, delay_s=0.0)
        clock.now += 0.01
    # Only the connections refused in the last second can still be early: the rest were dropped.
    assert len(book) <= 2 * 100 + 64
    assert book.delay_s(("10.0.0.1", 999)) > 0 and book.delay_s(("10.0.0.1", 0)) == 0.0


def test_with_many_clients_waiting_retry_after_covers_serving_them_first() -> None:
    clock = Clock()
    queue = AdmissionQueue(budget_s=0.35, clock=clock, initial_cost_s=0.1)
    for _ in range(3):
        admitted(queue, "text")
    alone = queue.refusal()
    assert alone is not None and alone.retry_after_s == 1  # 0.4 s expected: back within budget in 1 s
    # 40 clients were told to come back: at 0.1 s a search, they take 4 s; come back after them.
    crowded = queue.refusal(lambda: 40)
    assert crowded is not None and crowded.backlog_s == pytest.approx(4.0)
    assert crowded.retry_after_s == 4 and "retry after 4 s" in crowded.message
    assert queue.refusal(lambda: 2) == Refusal(pytest.approx(0.4), 0.35, pytest.approx(0.2))
    # However many wait, no longer than a keep-alive connection stays open while idle.
    assert queue.refusal(lambda: 1000).retry_after_s == MAX_BACKLOG_RETRY_S  # type: ignore[union-attr]


def test_the_retry_book_counts_the_connections_still_told_to_wait() -> None:
    clock = Clock()
    book = RetryBook(clock=clock)
    book.refused(("10.0.0.1", 1), retry_after_s=1, delay_s=0.0)
    book.refused(("10.0.0.1", 2), retry_after_s=3, delay_s=0.0)
    book.refused(("10.0.0.1", 3), retry_after_s=3, delay_s=0.0)
    assert book.waiting() == 3
    clock.now += 2  # the first one's time has come
    assert book.waiting() == 2
    book.forget(("10.0.0.1", 2))  # came back early and was admitted: it waits no more
    assert book.waiting() == 1 and book.delay_s(("10.0.0.1", 2)) == 0.0
