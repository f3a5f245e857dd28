"""Several worker processes serving one index: ``uvicorn search_api:app --workers 2`` as it is.

Each worker keeps its own memory-mapped metrics files in the run folder the workers share
(imagesearch/api/workers.py); ``GET /metrics`` on any of them adds them all up.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client import Gauge
from support.metrics import per_worker, requests, scrape
from support.servers import WORKERS_2, Server, serving
from support.tiny import BuiltIndex

from imagesearch.api.reload_generation import ReloadGeneration
from imagesearch.api.workers import check_private, mark_dead_workers, remove_stale_runs, supervisor_run_name
from imagesearch.telemetry import REGISTRY


def live_pid(server: Server) -> int:
    """Which worker answers a fresh connection."""
    response = httpx.get(f"{server.url}/health/live", headers={"Connection": "close"})
    assert response.status_code == 200
    return int(response.json()["pid"])


def counted(samples: dict, route: str) -> float:
    return requests(samples, route, "GET", "200")


def test_metrics_add_up_over_two_workers_whichever_answers(built_index: BuiltIndex, tmp_path: Path) -> None:
    with serving(built_index.settings, tmp_path / "api.log", args=WORKERS_2) as server:
        before = scrape(server)
        answered: Counter[int] = Counter()
        with ThreadPoolExecutor(4) as pool:  # concurrent connections, so both workers accept some
            while len(answered) < 2 and sum(answered.values()) < 400:
                answered.update(pool.map(lambda _: live_pid(server), range(20)))
        assert len(answered) == 2, answered  # both workers answered
        searches = 12
        for n in range(searches):
            response = httpx.get(
                f"{server.url}/search", params={"query": f"q {n}"}, headers={"Connection": "close"}
            )
            assert response.status_code == 200

        sent = sum(answered.values())
        for _ in range(6):  # every scrape, whichever worker renders it, counts every request
            after = scrape(server)
            assert counted(after, "/health/live") - counted(before, "/health/live") == sent
            assert counted(after, "/search") - counted(before, "/search") == searches
        assert per_worker(after, "imagesearch_index_images") == {str(pid): 24.0 for pid in answered}
        stage = ("imagesearch_stage_seconds_count", (("stage", "encode"),))
        assert after[stage] - before[stage] == searches  # histograms too


def test_a_lone_server_keeps_per_process_metrics(api: Server) -> None:
    """No workers: the one registry, no pid labels, nothing written to a run folder."""
    samples = scrape(api)
    assert samples[("imagesearch_index_images", ())] == 24.0
    assert not per_worker(samples, "imagesearch_index_images")


def test_every_gauge_says_how_workers_combine() -> None:
    """'all' (the default) would keep a dead worker's value forever: each gauge picks a live mode."""
    import imagesearch.api.app  # noqa: F401 (registers every metric of the API)

    gauges = [c for c in REGISTRY._collector_to_names if isinstance(c, Gauge)]
    assert gauges
    assert all(g._multiprocess_mode.startswith("live") for g in gauges), [g._name for g in gauges]


def test_stale_run_folders_go_and_live_ones_stay(tmp_path: Path) -> None:
    mine = supervisor_run_name(os.getpid())
    assert mine is not None
    pid, started = mine.split("-")
    live = tmp_path / mine
    recycled = tmp_path / f"{pid}-{int(started) - 5000}"  # this pid, an earlier start: another run
    gone = tmp_path / f"{max(psutil.pids()) + 10_000}-1"
    other = tmp_path / "notes"
    for folder in (live, recycled, gone, other):
        (folder / "metrics").mkdir(parents=True)
    assert sorted(remove_stale_runs(tmp_path)) == sorted([recycled, gone])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine, "notes"])


def test_dead_workers_lose_their_live_gauges_and_keep_their_counts(tmp_path: Path) -> None:
    dead = max(psutil.pids()) + 10_000
    for name in (f"gauge_liveall_{dead}.db", f"gauge_livesum_{dead}.db", f"counter_{dead}.db"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / f"gauge_liveall_{os.getpid()}.db").write_bytes(b"")
    assert mark_dead_workers(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{dead}.db", f"gauge_liveall_{os.getpid()}.db"]
    )


def test_the_reload_generation_counts_every_bump(tmp_path: Path) -> None:
    generation = ReloadGeneration(tmp_path)
    assert generation.read() == 0
    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(lambda _: generation.bump(), range(8))) == list(range(1, 9))
    assert ReloadGeneration(tmp_path).read() == 8


def test_a_run_folder_others_may_write_to_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    check_private(folder)
    folder.chmod(0o777)
    with pytest.raises(RuntimeError, match="writable by others"):
        check_private(folder)
