"""Liveness, readiness and drain: /health/live, /health/ready, SIGTERM with searches in flight."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from support.metrics import scrape
from support.servers import WORKERS_2, Server, serving, start_api, stop, wait_for, wait_ready
from support.tiny import BuiltIndex

import imagesearch.api.reload
from imagesearch.api.app import create_app
from imagesearch.index.store import IndexBundle, load_bundle

TOKEN = "s3cret-token"


def test_probes_of_a_ready_server(api: Server) -> None:
    live = httpx.get(f"{api.url}/health/live")
    assert live.status_code == 200 and live.json() == {"status": "live", "pid": api.process.pid}
    ready = httpx.get(f"{api.url}/health/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "images": 24}


def test_not_ready_while_a_new_index_loads_yet_still_searching(
    built_index: BuiltIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reload is held inside its load (the real load runs once released): meanwhile the old
    index answers searches and /health/ready says 503 reloading."""
    loading, release = threading.Event(), threading.Event()

    def held_load(settings: Any) -> IndexBundle:
        loading.set()
        assert release.wait(60)
        return load_bundle(settings)

    monkeypatch.setattr(imagesearch.api.reload, "load_bundle", held_load)
    settings = built_index.settings.model_copy(update={"admin_token": TOKEN})
    with TestClient(create_app(settings)) as client:
        assert client.get("/health/ready").json()["status"] == "ready"
        result: dict[str, httpx.Response] = {}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        reloading = threading.Thread(
            target=lambda: result.update(r=client.post("/admin/reload", headers=headers))
        )
        reloading.start()
        assert loading.wait(60)
        ready = client.get("/health/ready")
        assert ready.status_code == 503 and ready.json() == {"status": "reloading", "images": 24}
        assert ready.headers["retry-after"] == "1"
        assert client.get("/health/live").status_code == 200
        assert client.get("/search", params={"query": "still serving"}).status_code == 200
        release.set()
        reloading.join(60)
        assert result["r"].status_code == 200
        assert client.get("/health/ready").status_code == 200


class SlowUpload:
    """An image upload whose second half is sent only when released: a search in flight."""

    def __init__(self, server: Server, image: bytes) -> None:
        encoded = httpx.Request("POST", "/", files={"file": ("q.jpg", image, "image/jpeg")})
        self.body, self.content_type = encoded.read(), encoded.headers["Content-Type"]
        self.release = threading.Event()
        self.response: httpx.Response | None = None
        self.thread = threading.Thread(target=self._send, args=(server,))
        self.thread.start()

    def _chunks(self) -> Iterator[bytes]:
        half = len(self.body) // 2
        yield self.body[:half]
        assert self.release.wait(60)
        yield self.body[half:]

    def _send(self, server: Server) -> None:
        self.response = httpx.post(
            f"{server.url}/search-by-image",
            content=self._chunks(),
            headers={"Content-Type": self.content_type},
            timeout=60,
        )

    def finish(self) -> httpx.Response:
        self.release.set()
        self.thread.join(60)
        assert self.response is not None
        return self.response


def in_progress(server: Server) -> float:
    return scrape(server)[("imagesearch_http_requests_in_progress", ())]


@pytest.mark.parametrize("args", [(), WORKERS_2], ids=["one process", "two workers"])
def test_sigterm_finishes_the_search_in_flight(
    built_index: BuiltIndex, tmp_path: Path, args: tuple[str, ...]
) -> None:
    log = tmp_path / "api.log"
    server = start_api(built_index.settings, log, args=args)
    try:
        wait_ready(server)
        upload = SlowUpload(server, sorted(built_index.source.rglob("*.*"))[0].read_bytes())
        wait_for(lambda: in_progress(server) >= 2)  # the upload and this scrape: the app has it
        os.kill(server.process.pid, signal.SIGTERM)
        # uvicorn stopped accepting and waits for the open connection (its log says so): only now
        # does the rest of the upload arrive.
        wait_for(lambda: "Waiting for connections to close" in log.read_text())
        response = upload.finish()
        assert response.status_code == 200, response.text
        assert response.json()["results"][0]["score"] > 0.99  # the image finds itself
        server.process.wait(timeout=60)
        assert "timeout graceful shutdown exceeded" not in log.read_text()
    finally:
        stop(server)


def test_drain_says_not_ready_and_keeps_serving_until_the_second_sigterm(
    built_index: BuiltIndex, tmp_path: Path
) -> None:
    with serving(built_index.settings, tmp_path / "api.log", {"IMAGESEARCH_DRAIN_S": "600"}) as server:
        assert httpx.get(f"{server.url}/health/ready").status_code == 200
        os.kill(server.process.pid, signal.SIGTERM)
        wait_for(lambda: httpx.get(f"{server.url}/health/ready").status_code == 503)
        assert httpx.get(f"{server.url}/health/ready").json() == {"status": "draining", "images": 24}
        assert httpx.get(f"{server.url}/health/live").status_code == 200
        assert httpx.get(f"{server.url}/search", params={"query": "draining"}).status_code == 200
        os.kill(server.process.pid, signal.SIGTERM)  # the second one ends the drain now
        server.process.wait(timeout=60)
