"""Reloading a rebuilt index over real HTTP: admin call and SIGHUP, with searches in flight."""

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from support.metrics import per_worker, requests, scrape
from support.servers import WORKERS_2, Server, serving, wait_for
from support.tiny import tiny_settings

from imagesearch.encoders.protocol import Encoder
from imagesearch.files import write_bytes_atomic
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline

TOKEN = "s3cret-token"


def build(settings: object, image_dir: Path, n: int, tmp_path: Path, encoder: Encoder) -> list[str]:
    paths = sorted(str(p) for p in image_dir.rglob("*.*"))[:n]
    listing = tmp_path / f"list-{n}.txt"
    listing.write_text("\n".join(paths))
    run_pipeline(settings, PipelineOptions(source=listing, progress=False), encoder)  # type: ignore[arg-type]
    return paths


class Traffic:
    """Clients searching in a loop until stopped; every status code is kept."""

    def __init__(self, server: Server, query_image: bytes, clients: int = 3) -> None:
        self.statuses: Counter[int] = Counter()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(server, query_image, n), daemon=True)
            for n in range(clients)
        ]
        for thread in self._threads:
            thread.start()

    def _loop(self, server: Server, query_image: bytes, n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not self._stop.is_set():
                if n % 2:
                    response = client.get("/search", params={"query": f"photo {n}", "top_k": 5})
                else:
                    response = client.post("/search-by-image", files={"file": ("q.jpg", query_image)})
                self.statuses[response.status_code] += 1

    def stop(self) -> Counter[int]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        return self.statuses


def images(server: Server) -> int:
    return int(httpx.get(f"{server.url}/health").json()["images"])


def reload(server: Server, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{server.url}/admin/reload", headers=headers, timeout=60)


def test_reload_swaps_the_index_without_failing_requests_and_refuses_a_bad_one(
    image_dir: Path, tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path
) -> None:
    settings = tiny_settings(tiny_checkpoint, tmp_path / "data", batch_size=8)
    paths = build(settings, image_dir, 10, tmp_path, tiny_encoder)
    with serving(settings, tmp_path / "api.log", {"IMAGESEARCH_ADMIN_TOKEN": TOKEN}) as server:
        traffic = Traffic(server, Path(paths[0]).read_bytes())
        time.sleep(0.5)
        build(settings, image_dir, 24, tmp_path, tiny_encoder)
        assert images(server) == 10  # nothing changes before the reload
        assert reload(server, token=None).status_code == 403
        assert reload(server, token="wrong").status_code == 403

        response = reload(server)
        assert response.status_code == 200, response.text
        assert response.json()["images"] == 24 and response.json()["previous_images"] == 10
        assert images(server) == 24

        # A damaged index is refused; the one serving goes on.
        write_bytes_atomic(settings.index_path, b"not a faiss index")
        refused = reload(server)
        assert refused.status_code == 409 and "previous one keeps serving" in refused.json()["detail"]
        assert images(server) == 24

        # SIGHUP picks up the next good build.
        build(settings, image_dir, 16, tmp_path, tiny_encoder)
        os.kill(server.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 30
        while images(server) != 16 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert images(server) == 16
        statuses = traffic.stop()
    assert set(statuses) == {200} and sum(statuses.values()) > 10, statuses


def test_reload_is_disabled_without_a_token(api: Server) -> None:
    response = httpx.post(f"{api.url}/admin/reload", headers={"Authorization": "Bearer x"})
    assert response.status_code == 404 and "IMAGESEARCH_ADMIN_TOKEN" in response.json()["detail"]


def worker_images(server: Server) -> dict[str, float]:
    """Images each live worker serves, by pid (the per-worker gauge in /metrics)."""
    return per_worker(scrape(server), "imagesearch_index_images")


def test_a_reload_reaches_every_worker_and_sighup_restarts_them(
    image_dir: Path, tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path
) -> None:
    settings = tiny_settings(tiny_checkpoint, tmp_path / "data", batch_size=8)
    build(settings, image_dir, 10, tmp_path, tiny_encoder)
    env = {"IMAGESEARCH_ADMIN_TOKEN": TOKEN}
    with serving(settings, tmp_path / "api.log", env, args=WORKERS_2) as server:
        # The server answers once one worker is up; the other may still be loading (its gauge
        # reads 0 until its index is in), so wait for both.
        wait_for(lambda: list(worker_images(server).values()) == [10.0, 10.0], 300)
        first = worker_images(server)

        # The admin call lands on one worker; the other follows the shared generation.
        build(settings, image_dir, 24, tmp_path, tiny_encoder)
        response = reload(server)
        assert response.status_code == 200, response.text
        wait_for(lambda: worker_images(server) == {pid: 24.0 for pid in first})
        generations = per_worker(scrape(server), "imagesearch_index_generation")
        assert generations == {pid: 1.0 for pid in first}
        assert {images(server) for _ in range(10)} == {24}

        # SIGHUP to uvicorn's supervisor: it replaces the workers one by one; the new ones load
        # the index at start-up, and the old ones' gauges leave with them.
        counted = requests(scrape(server), "/health", "GET", "200")
        build(settings, image_dir, 16, tmp_path, tiny_encoder)
        os.kill(server.process.pid, signal.SIGHUP)

        # Two model loads one after the other: on a busy 2-core machine that can take minutes.
        def replaced() -> bool:
            now = worker_images(server)
            return now.keys().isdisjoint(first) and list(now.values()) == [16.0, 16.0]

        wait_for(replaced, 300)
        # Counters keep the retired workers' counts: the totals never go back.
        assert requests(scrape(server), "/health", "GET", "200") >= counted
