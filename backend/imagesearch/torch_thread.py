"""One dedicated thread for all of an encoder's torch work, coalescing concurrent queries.

PyTorch's CPU kernels run on OpenMP. With GNU OpenMP every thread that starts a parallel region
becomes the master of its own team of worker threads, and once more threads are managed than
there are cores, every team stops spin-waiting between regions and sleeps instead. A CLIP
forward pass is hundreds of short regions, so each then pays a futex wake-up: a 2-core server
that encoded from whichever pool thread served the request ran its text tower at about half the
speed of a single thread that owns the only team. Funnelling every torch call (load, warm-up,
encode) through one long-lived thread keeps one team, whatever thread serves the request.

The same thread batches: calls made with ``run_batched`` that are waiting when it picks one up
(concurrent searches) run as one call over all their items, which reads the model's weights
once instead of once per query; each caller gets back the rows of its own items.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")
Rows = npt.NDArray[Any]


@dataclass
class _Job:
    function: Callable[..., Any]
    args: tuple[Any, ...]
    batch_key: object = None  # jobs with the same key may run as one call over their items
    future: Future[Any] = field(default_factory=Future)


class TorchThread:
    """Runs callables on one long-lived thread in submission order; calls from it run inline."""

    def __init__(self, name: str = "torch", max_batch: int = 32) -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._max_batch = max_batch
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def run(self, function: Callable[..., T], *args: object) -> T:
        if threading.current_thread() is self._thread:
            return function(*args)
        job = _Job(function, args)
        self._queue.put(job)
        result: T = job.future.result()
        return result

    def run_batched(self, function: Callable[[list[Any]], Rows], items: Sequence[Any]) -> Rows:
        """``function(items)`` -> one row per item; may run together with other waiting calls."""
        if threading.current_thread() is self._thread or len(items) >= self._max_batch:
            return self.run(function, list(items))
        job = _Job(function, (list(items),), batch_key=function)
        self._queue.put(job)
        result: Rows = job.future.result()
        return result

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _loop(self) -> None:
        deferred: deque[_Job | None] = deque()
        while True:
            job = deferred.popleft() if deferred else self._queue.get()
            if job is None:
                return
            if job.batch_key is None:
                _run_batch([job])
                continue
            batch, size = [job], len(job.args[0])
            while size < self._max_batch:
                try:
                    waiting = self._queue.get_nowait()
                except queue.Empty:
                    break
                if waiting is not None and waiting.batch_key == job.batch_key:
                    batch.append(waiting)
                    size += len(waiting.args[0])
                else:
                    deferred.append(waiting)  # runs next, in order
                    break
            _run_batch(batch)


def _run_batch(batch: list[_Job]) -> None:
    if len(batch) == 1:
        job = batch[0]
        try:
            job.future.set_result(job.function(*job.args))
        except BaseException as exc:
            job.future.set_exception(exc)
        return
    items = [item for job in batch for item in job.args[0]]
    try:
        rows = batch[0].function(items)
    except BaseException:
        for job in batch:  # one bad item must not fail the others: run them one by one
            _run_batch([job])
        return
    start = 0
    for job in batch:
        end = start + len(job.args[0])
        job.future.set_result(np.ascontiguousarray(rows[start:end]))
        start = end
