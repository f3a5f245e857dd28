"""Shared fixtures: a deterministic tiny CLIP checkpoint, real image files, a real index, a live API.

The tiny model is a real open_clip CLIP (ViT image tower + transformer text tower) with random
weights registered from tests/data/test-tiny-clip.json; tests marked ``slow`` use the full
ViT-B-32 architecture. Random weights make text -> image content meaningless, so tests only
assert on image -> image behaviour and on structure.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

TESTS_DIR = Path(__file__).resolve().parent
BACKEND_DIR = TESTS_DIR.parent
sys.path.insert(0, str(TESTS_DIR))

from imagegen import write_images  # noqa: E402

from imagesearch.config import Settings  # noqa: E402
from imagesearch.encoder import Encoder, load_encoder, save_random_checkpoint  # noqa: E402
from imagesearch.pipeline import PipelineOptions, PipelineReport, run_pipeline  # noqa: E402

TINY_CONFIG = TESTS_DIR / "data" / "test-tiny-clip.json"
TINY_MODEL = "test-tiny-clip"


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = Settings(model=TINY_MODEL, model_config_file=TINY_CONFIG)
    return save_random_checkpoint(base, tmp_path_factory.mktemp("model") / "tiny.pt", seed=0)


def tiny_settings(checkpoint: Path, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "model": TINY_MODEL,
        "model_config_file": TINY_CONFIG,
        "pretrained": str(checkpoint),
        "data_dir": data_dir,
        "fetch_retries": 1,
        "fetch_timeout_s": 2.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a subprocess see ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("IMAGESEARCH_")}
    env.update(
        IMAGESEARCH_MODEL=settings.model,
        IMAGESEARCH_PRETRAINED=settings.pretrained,
        IMAGESEARCH_DATA_DIR=str(settings.data_dir),
        IMAGESEARCH_CHUNK_SIZE=str(settings.chunk_size),
        IMAGESEARCH_BATCH_SIZE=str(settings.batch_size),
    )
    if settings.model_config_file is not None:
        env["IMAGESEARCH_MODEL_CONFIG_FILE"] = str(settings.model_config_file)
    return env


@pytest.fixture(scope="session")
def tiny_reference(tiny_checkpoint: Path) -> Any:
    """The tiny checkpoint as a plain open_clip model (the reference the fast paths must equal)."""
    import open_clip

    open_clip.add_model_config(TINY_CONFIG)
    model, _, _ = open_clip.create_model_and_transforms(TINY_MODEL, pretrained=str(tiny_checkpoint))
    return model.eval()


@pytest.fixture(scope="session")
def tiny_encoder(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    return load_encoder(tiny_settings(tiny_checkpoint, tmp_path_factory.mktemp("unused")))


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    write_images(folder, 24)
    return folder


@dataclass
class BuiltIndex:
    settings: Settings
    report: PipelineReport
    source: Path


@pytest.fixture(scope="session")
def built_index(
    tiny_checkpoint: Path, tiny_encoder: Encoder, image_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> BuiltIndex:
    settings = tiny_settings(tiny_checkpoint, tmp_path_factory.mktemp("data"), batch_size=8)
    report = run_pipeline(settings, PipelineOptions(source=image_dir, progress=False), tiny_encoder)
    return BuiltIndex(settings=settings, report=report, source=image_dir)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_api(settings: Settings, log: Path, extra_env: dict[str, str] | None = None) -> Server:
    """Start ``uvicorn search_api:app`` from backend/, exactly as the README documents."""
    port = free_port()
    env = settings_env(settings) | (extra_env or {})
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "search_api:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=BACKEND_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(url=f"http://127.0.0.1:{port}", process=process, log=log)


def wait_ready(server: Server, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"API exited early:\n{server.log.read_text()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
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
    settings: Settings, log: Path, extra_env: dict[str, str] | None = None, timeout_s: float = 90.0
) -> Iterator[Server]:
    """A ready API process for the duration of the block, stopped afterwards."""
    server = start_api(settings, log, extra_env)
    try:
        wait_ready(server, timeout_s)
        yield server
    finally:
        stop(server)


@pytest.fixture(scope="session")
def api(built_index: BuiltIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(built_index.settings, tmp_path_factory.mktemp("logs") / "api.log") as server:
        yield server
