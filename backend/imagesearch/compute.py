"""One thread for all OpenMP work of the process (torch and FAISS), coalescing concurrent queries.

PyTorch's CPU kernels run on OpenMP, and FAISS shares the same OpenMP runtime. Every thread that
starts a parallel region becomes the master of a team of its own, and as soon as a second team
exists the runtime stops letting idle workers spin between regions: a CLIP forward pass is
hundreds of short regions (layer norms, GELUs, small matmuls), and each then pays a sleep and a
wake-up. Measured on 2 cores with ViT-B-32: the text tower took 16 ms per query on the only team,
26 ms once one other thread had run torch once, and ~30 ms with FAISS searching from the API's
pool threads. Funnelling every torch call (load, encode) and every FAISS search through one
long-lived thread (``shared()``) keeps a single team, whatever thread serves the request.

The same thread batches: calls made with ``run_batched`` that are waiting when it picks one up
(concurrent searches) run as one call over all their items, which reads the model's weights
once instead of once per query; each caller gets back the rows of its own items.
"""

from __future__ import annotations

import functools
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
    max_batch: int = 0  # items per such call
    future: Future[Any] = field(default_factory=Future)


class TorchThread:
    """Runs callables on one long-lived thread in submission order; calls from it run inline."""

    def __init__(self, name: str = "compute") -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def run(self, function: Callable[..., T], *args: object) -> T:
        if threading.current_thread() is self._thread:
            return function(*args)
        job = _Job(function, args)
        self._queue.put(job)
        result: T = job.future.result()
        return result

    def run_batched(
        self, function: Callable[[list[Any]], Rows], items: Sequence[Any], max_batch: int = 32
    ) -> Rows:
        """``function(items)`` -> one row per item; may run together with other waiting calls of
        the same function, up to ``max_batch`` items in all."""
        if threading.current_thread() is self._thread or len(items) >= max_batch:
            return self.run(function, list(items))
        job = _Job(function, (list(items),), batch_key=function, max_batch=max_batch)
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
            # Every waiting call of the same function joins the batch while it fits; the others
            # keep their order and run right after it.
            batch, size = [job], len(job.args[0])
            while True:
                try:
                    waiting = self._queue.get_nowait()
                except queue.Empty:
                    break
                if waiting is None:  # closing: what came before still runs
                    deferred.append(None)
                    break
                if waiting.batch_key == job.batch_key and size + len(waiting.args[0]) <= job.max_batch:
                    batch.append(waiting)
                    size += len(waiting.args[0])
                else:
                    deferred.append(waiting)
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


_shared_lock = threading.Lock()


@functools.cache
def _create_shared() -> TorchThread:
    return TorchThread()


def shared() -> TorchThread:
    """The process's one compute thread (created on first use, lives as long as the process)."""
    with _shared_lock:
        return _create_shared()
