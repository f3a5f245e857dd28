"""Live API processes: ``uvicorn search_api:app`` started from backend/ as the README documents."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from imagesearch.config import Settings
from support.paths import BACKEND_DIR
from support.tiny import settings_env

# IMAGESEARCH_API_KEY of the servers that require one (frontend/lib/image-signature.test.ts pins
# a signature under it).
TEST_API_KEY = "k3y-for-tests-0123456789abcdefXYZ"
# Two workers, `uvicorn search_api:app --workers 2`; uvicorn's default of 5 s for a worker to answer
# its supervisor is tight for a model load on a busy machine (the Makefile and the Docker image give
# it as long too).
WORKERS_2 = ("--workers", "2", "--timeout-worker-healthcheck", "120")


def wait_for(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Poll until ``condition()`` holds; the bound only turns a hang into a failure."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    api_key: str | None = None  # the IMAGESEARCH_API_KEY it was started with

    @property
    def headers(self) -> dict[str, str]:
        """What a client must send: the key, where one is required."""
        return {"X-API-Key": self.api_key} if self.api_key else {}


def start_api(
    settings: Settings, log: Path, extra_env: dict[str, str] | None = None, args: Sequence[str] = ()
) -> Server:
    """Start ``uvicorn search_api:app`` from backend/, exactly as the README documents; ``args``
    go to uvicorn (e.g. ``--workers 2``)."""
    port = free_port()
    env = settings_env(settings) | (extra_env or {})
    command = [sys.executable, "-m", "uvicorn", "search_api:app", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, *args],
            cwd=BACKEND_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(f"http://127.0.0.1:{port}", process, log, env.get("IMAGESEARCH_API_KEY") or None)


def wait_ready(server: Server, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"API exited early:\n{server.log.read_text()}")
        try:
            if httpx.get(f"{server.url}/health", headers=server.headers, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"API not ready in {timeout_s} s:\n{server.log.read_text()}")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@contextlib.contextmanager
def serving(
    settings: Settings,
    log: Path,
    extra_env: dict[str, str] | None = None,
    timeout_s: float = 90.0,
    args: Sequence[str] = (),
) -> Iterator[Server]:
    """A ready API process for the duration of the block, stopped afterwards."""
    server = start_api(settings, log, extra_env, args)
    try:
        wait_ready(server, timeout_s)
        yield server
    finally:
        stop(server)
