"""Load shedding over real HTTP: past the queue budget a search gets 503 + Retry-After at once.

The busy condition is real: a server with a tiny budget (1 µs: any search admitted before puts a
new one over it) decodes an uploaded 49-megapixel PNG, which takes this CPU about a second. While
/metrics shows that upload admitted, every other search is refused; once it is done, they are
served again. Nothing is timed: the test waits for states (the gauge, the upload's answer).
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest
from PIL import Image
from support.metrics import requests, scrape
from support.servers import Server, serving, wait_for
from support.tiny import BuiltIndex

QUEUED = ("imagesearch_search_queue_searches", ())


def shed(samples: dict, route: str) -> float:
    return samples.get(("imagesearch_searches_shed_total", (("route", route),)), 0.0)


@pytest.fixture(scope="module")
def busy_api(built_index: BuiltIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"IMAGESEARCH_QUEUE_BUDGET_S": "0.000001"}
    with serving(built_index.settings, tmp_path_factory.mktemp("busy") / "api.log", env) as server:
        yield server


def slow_png() -> bytes:
    """A real 7000x7000 PNG (under the 50 MP limit, ~0.7 MB): slow to decode, quick to send."""
    buffer = io.BytesIO()
    Image.new("RGB", (7000, 7000), (200, 40, 40)).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


class SlowSearch:
    """An image search running in a thread; ``wait_admitted`` returns once the server counts it."""

    def __init__(self, api: Server) -> None:
        self.api = api
        self.status: int | None = None
        self.thread = threading.Thread(target=self._send, args=(slow_png(),))

    def _send(self, data: bytes) -> None:
        files = {"file": ("big.png", data, "image/png")}
        self.status = httpx.post(f"{self.api.url}/search-by-image", files=files, timeout=120).status_code

    def __enter__(self) -> SlowSearch:
        self.thread.start()
        deadline = time.monotonic() + 60
        while (
            self.thread.is_alive() and scrape(self.api).get(QUEUED, 0.0) < 1 and time.monotonic() < deadline
        ):
            time.sleep(0.005)
        assert self.thread.is_alive(), f"the slow search ended before the test saw it: {self.status}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join()


def raw_exchange(api: Server, head: bytes) -> tuple[bytes, socket.socket]:
    """Send request headers only (no body) on a new connection; the response head and body read."""
    url = urlparse(api.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=60)
    sock.sendall(head)
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head_part, _, body = received.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1]
            for line in head_part.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head_part + b"\r\n\r\n" + body, sock


def test_busy_searches_get_503_with_retry_after_and_are_counted(busy_api: Server) -> None:
    before = scrape(busy_api)
    with SlowSearch(busy_api) as slow:
        refused = httpx.get(f"{busy_api.url}/search", params={"query": "a red square"}, timeout=60)
        by_id = httpx.get(f"{busy_api.url}/similar/1", timeout=60)
        embed = httpx.post(f"{busy_api.url}/embed/text", json={"texts": ["x"]}, timeout=60)
    assert slow.status == 200  # the admitted search itself was served
    for response in (refused, by_id, embed):
        assert response.status_code == 503, response.text
        body = response.json()
        seconds = int(response.headers["retry-after"])
        assert seconds >= 1 and body["retry_after_s"] == seconds
        assert "busy" in body["detail"] and "budget" in body["detail"]
        assert f"retry after {seconds} s" in body["detail"]
    after = scrape(busy_api)
    for route in ("/search", "/similar/{image_id}", "/embed/text"):
        assert shed(after, route) - shed(before, route) == 1
    # The request metrics count an answer when its ASGI call ends, just after the client has it.
    wait_for(
        lambda: (
            requests(scrape(busy_api), "/search", "GET", "503") - requests(before, "/search", "GET", "503")
            == 1
        )
    )
    # Once the queue is empty, searches are served again.
    assert (
        httpx.get(f"{busy_api.url}/search", params={"query": "a red square"}, timeout=60).status_code == 200
    )


def test_a_refused_upload_is_not_read(busy_api: Server) -> None:
    # The client announces a 1 MB body and waits for "100 Continue" before sending it, as curl
    # does for large uploads: the refusal comes first, so the body is never sent at all.
    host = urlparse(busy_api.url).netloc
    head = (
        f"POST /search-by-image HTTP/1.1\r\nHost: {host}\r\nExpect: 100-continue\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1048576\r\n\r\n"
    ).encode()
    with SlowSearch(busy_api):
        answer, sock = raw_exchange(busy_api, head)
    sock.close()
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 503 Service Unavailable", answer[:200]
    assert b"100 Continue" not in answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["retry_after_s"] >= 1


def test_an_upload_admitted_before_the_server_got_busy_is_refused_at_the_gate(busy_api: Server) -> None:
    # The upload starts while the server is idle (it passes the check before the body), then the
    # slow search is admitted while the upload's body is still on its way: the upload is checked
    # again when its body is in, and refused there.
    started, finish = threading.Event(), threading.Event()
    answer: dict[str, httpx.Response] = {}

    def body() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        started.set()
        finish.wait(60)
        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), (10, 200, 10)).save(buffer, "PNG")
        yield buffer.getvalue() + b"\r\n--b--\r\n"

    def upload() -> None:
        answer["upload"] = httpx.post(
            f"{busy_api.url}/search-by-image",
            content=body(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
            timeout=120,
        )

    before = scrape(busy_api)
    thread = threading.Thread(target=upload)
    thread.start()
    try:
        assert started.wait(60)
        with SlowSearch(busy_api):
            finish.set()
            thread.join()
    finally:
        finish.set()
        thread.join()
    refused = answer["upload"]
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["retry-after"]) >= 1 and "busy" in refused.json()["detail"]
    assert shed(scrape(busy_api), "/search-by-image") - shed(before, "/search-by-image") == 1


def test_a_connection_that_retries_at_once_is_served_when_there_is_room(busy_api: Server) -> None:
    # A retry before Retry-After is read and admitted like any request once the server has room:
    # no hold of the connection, so an accepted search carries no wait it did not cause.
    with httpx.Client(base_url=busy_api.url, timeout=60) as client:
        with SlowSearch(busy_api):
            assert client.get("/search", params={"query": "early"}).status_code == 503
        started = time.monotonic()
        assert client.get("/search", params={"query": "early"}).status_code == 200
        assert time.monotonic() - started < 1.0  # well before the 503's Retry-After (>= 1 s)
        assert client.get("/health").json()["limits"]["queue_budget_s"] == pytest.approx(0.000001)


def test_a_retry_refused_again_is_answered_no_sooner_than_retry_after(busy_api: Server) -> None:
    # Retrying at once while the server is still busy does not buy a faster refusal: the second
    # 503 leaves when the first said to come back (api/admission.py RetryBook), so such clients
    # cost one refusal per Retry-After each.
    with httpx.Client(base_url=busy_api.url, timeout=60) as client, SlowSearch(busy_api):
        first = client.get("/search", params={"query": "again"})
        received = time.monotonic()
        second = client.get("/search", params={"query": "again"})
        waited = time.monotonic() - received
        assert (first.status_code, second.status_code) == (503, 503)
        # The server sleeps until the first 503's send time + Retry-After; the first answer's
        # transit is the only slack on this side.
        assert waited >= int(first.headers["retry-after"]) - 0.1


def test_health_reports_the_default_budget(api: Server) -> None:
    assert httpx.get(f"{api.url}/health").json()["limits"]["queue_budget_s"] == 0.5


def test_cors_lets_the_ui_read_retry_after(busy_api: Server) -> None:
    origin = "http://localhost:3000"
    with SlowSearch(busy_api):
        response = httpx.get(
            f"{busy_api.url}/search", params={"query": "x"}, headers={"Origin": origin}, timeout=60
        )
    assert response.status_code == 503
    assert response.headers["access-control-allow-origin"] == origin
    assert "retry-after" in response.headers["access-control-expose-headers"].lower()
