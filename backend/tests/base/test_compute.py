"""The compute thread: one thread, submission order, and batching of waiting calls."""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from imagesearch.compute import TorchThread


def test_calls_run_on_one_thread_and_nested_calls_run_inline() -> None:
    worker = TorchThread()
    seen = {worker.run(threading.get_ident) for _ in range(5)}
    with ThreadPoolExecutor(4) as pool:
        seen |= set(pool.map(lambda _: worker.run(threading.get_ident), range(8)))
    assert len(seen) == 1 and threading.get_ident() not in seen
    assert worker.run(lambda: worker.run(lambda: 7)) == 7  # no deadlock from inside
    worker.close()


def hold(worker: TorchThread) -> tuple[threading.Event, threading.Thread]:
    """Keep the worker busy until the returned event is set."""
    release = threading.Event()
    blocker = threading.Thread(target=worker.run, args=(release.wait,))
    blocker.start()
    return release, blocker


def wait_until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_waiting_batched_calls_run_as_one_call_and_each_gets_its_rows() -> None:
    worker = TorchThread()
    calls: list[list[int]] = []

    def square(items: list[int]) -> np.ndarray:
        calls.append(list(items))
        return np.array([[item, item * item] for item in items])

    release, blocker = hold(worker)
    inputs = [[n, n + 100] for n in range(6)]
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(worker.run_batched, square, items, 64) for items in inputs]
        wait_until(lambda: worker._queue.qsize() == 6)
        release.set()
        results = [future.result() for future in futures]
    blocker.join()
    assert len(calls) == 1 and sorted(calls[0]) == sorted(n for items in inputs for n in items)
    for items, rows in zip(inputs, results, strict=True):
        np.testing.assert_array_equal(rows, [[n, n * n] for n in items])
    worker.close()


def test_a_failing_item_fails_only_its_own_caller() -> None:
    worker = TorchThread()

    def checked(items: list[int]) -> np.ndarray:
        if any(item < 0 for item in items):
            raise ValueError("negative")
        return np.array([[item] for item in items])

    release, blocker = hold(worker)
    with ThreadPoolExecutor(3) as pool:
        good = pool.submit(worker.run_batched, checked, [1, 2])
        bad = pool.submit(worker.run_batched, checked, [-1])
        other = pool.submit(worker.run_batched, checked, [3])
        wait_until(lambda: worker._queue.qsize() == 3)
        release.set()
        np.testing.assert_array_equal(good.result(), [[1], [2]])
        np.testing.assert_array_equal(other.result(), [[3]])
        with pytest.raises(ValueError, match="negative"):
            bad.result()
    blocker.join()
    worker.close()


def tagger(order: list[str]) -> Callable[[list[str]], np.ndarray]:
    """A batched function that records each call's items (as "a,b") in ``order``."""

    def tag(items: list[str]) -> np.ndarray:
        order.append(",".join(items))
        return np.array([[len(item)] for item in items])

    return tag


def test_batches_stop_at_the_limit_and_keep_unrelated_calls_in_order() -> None:
    worker = TorchThread()
    order: list[str] = []
    tag = tagger(order)
    release, blocker = hold(worker)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(worker.run_batched, tag, ["a", "b", "c"], 4)
        wait_until(lambda: worker._queue.qsize() == 1)
        plain = pool.submit(worker.run, lambda: order.append("plain"))
        wait_until(lambda: worker._queue.qsize() == 2)
        last = pool.submit(worker.run_batched, tag, ["d", "e"], 4)
        wait_until(lambda: worker._queue.qsize() == 3)
        release.set()
        first.result(), plain.result(), last.result()
    blocker.join()
    assert order == ["a,b,c", "plain", "d,e"]
    worker.close()


def test_the_shared_compute_thread_is_one_thread_for_the_process() -> None:
    from imagesearch import compute

    with ThreadPoolExecutor(4) as pool:
        threads = set(pool.map(lambda _: compute.shared(), range(8)))
    assert len(threads) == 1
    assert threads.pop().run(threading.get_ident) != threading.get_ident()


def test_a_waiting_call_of_the_same_function_joins_the_batch_past_an_unrelated_one() -> None:
    worker = TorchThread()
    order: list[str] = []
    tag = tagger(order)
    release, blocker = hold(worker)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(worker.run_batched, tag, ["a"])
        wait_until(lambda: worker._queue.qsize() == 1)
        plain = pool.submit(worker.run, lambda: order.append("plain"))
        wait_until(lambda: worker._queue.qsize() == 2)
        later = pool.submit(worker.run_batched, tag, ["b"])
        wait_until(lambda: worker._queue.qsize() == 3)
        release.set()
        np.testing.assert_array_equal(later.result(), [[1]])
        first.result(), plain.result()
    blocker.join()
    assert order == ["a,b", "plain"]
    worker.close()
