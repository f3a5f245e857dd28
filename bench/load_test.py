"""Bounded load test: many concurrent clients mixing text and image searches, loopback only.

    .venv/bin/python bench/load_test.py [--clients 200] [--seconds 60] [--image-share 0.2]
                                        [--url http://127.0.0.1:8000 | --data-dir DIR]

With --url it loads a running API (127.0.0.1/localhost/::1 only). Otherwise it builds a small
index with the tiny random-weight test model (or serves --data-dir with the IMAGESEARCH_*
settings of this shell), starts `uvicorn search_api:app` itself and stops it at the end.
Prints requests, failures, p50/p99 latency and the server's RSS growth; exits 1 on any failure.
A 503 with Retry-After (the API shedding load past its queue budget) is counted apart, not as
a failure, and the client waits the Retry-After seconds before its next search, as clients
should (docs/reliability.md "Overload"). `make load` is bench/load_wrk.py; this mixed text +
image run is `make load-mixed` and, short, tests/e2e/test_load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "backend" / "tests"))

from support.images import make_image, write_images  # noqa: E402
from support.paths import TINY_CONFIG, TINY_MODEL  # noqa: E402
from support.servers import start_api, stop, wait_ready  # noqa: E402
from support.weights import save_random_checkpoint  # noqa: E402

from imagesearch.config import Settings  # noqa: E402
from imagesearch.encoders.factory import load_encoder  # noqa: E402
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline  # noqa: E402

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
WORDS = [
    "a",
    "person",
    "dog",
    "cat",
    "red",
    "city",
    "night",
    "beach",
    "car",
    "bicycle",
    "rain",
    "tree",
    "house",
    "river",
    "snow",
    "boat",
]


async def client_loop(
    client: httpx.AsyncClient, deadline: float, image_share: float, seed: int, out: dict[str, list[Any]]
) -> None:
    rng = np.random.default_rng(seed)
    uploads = []
    for n in range(3):
        buffer = io.BytesIO()
        make_image(seed * 10 + n, (640, 480)).save(buffer, "JPEG", quality=85)
        uploads.append(buffer.getvalue())
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            if rng.random() < image_share:
                response = await client.post(
                    "/search-by-image", files={"file": ("q.jpg", uploads[int(rng.integers(3))], "image/jpeg")}
                )
            else:
                words = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 8))))
                response = await client.get("/search", params={"query": words, "top_k": 10})
            if response.status_code == 503 and response.headers.get("retry-after", "").isdigit():
                out["shed"].append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(min(int(response.headers["retry-after"]), deadline - time.monotonic()))
                continue
            ok = response.status_code == 200 and bool(response.json()["results"])
            reason = f"HTTP {response.status_code}: {response.text[:120]}"
        except httpx.HTTPError as exc:
            ok, reason = False, f"{type(exc).__name__}: {exc}"
        out["latency" if ok else "failed"].append((time.perf_counter() - started) * 1000)
        if not ok:
            out["reasons"].append(reason)


async def run_load(url: str, clients: int, seconds: float, image_share: float) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"latency": [], "failed": [], "reasons": [], "shed": []}
    # Idle connections expire on the client (2 s) before uvicorn closes them (5 s): otherwise a
    # request sent on a connection the server is closing at that moment fails with ReadError.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(client_loop(client, deadline, image_share, n, out) for n in range(clients)))
    return out


def serve_tiny_index(tmp: Path) -> Settings:
    settings = Settings(
        model=TINY_MODEL,
        model_config_file=TINY_CONFIG,
        pretrained=str(tmp / "tiny.pt"),
        data_dir=tmp / "data",
    )
    save_random_checkpoint(settings, Path(settings.pretrained))
    write_images(tmp / "images", 200)
    run_pipeline(settings, PipelineOptions(source=tmp / "images", progress=False), load_encoder(settings))
    return settings


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--image-share", type=float, default=0.2)
    parser.add_argument("--url")
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    if args.url and urlparse(args.url).hostname not in LOOPBACK:
        parser.error("load tests only target this machine (127.0.0.1, localhost, ::1)")
    with tempfile.TemporaryDirectory() as tmp_name:
        server = None
        if args.url:
            url, pid = args.url, None
        else:
            tmp = Path(tmp_name)
            settings = Settings(data_dir=args.data_dir) if args.data_dir else serve_tiny_index(tmp)
            server = start_api(settings, tmp / "api.log")
            wait_ready(server)
            url, pid = server.url, server.process.pid
        process = psutil.Process(pid) if pid else None
        rss_before = process.memory_info().rss if process else 0
        try:
            out = asyncio.run(run_load(url, args.clients, args.seconds, args.image_share))
            rss_after = process.memory_info().rss if process else 0
        finally:
            if server:
                stop(server)
    latency = out["latency"]
    total = len(latency) + len(out["failed"])
    rows = [
        ("clients x seconds", f"{args.clients} x {args.seconds:g}"),
        ("requests (text + image)", str(total)),
        ("failed requests", str(len(out["failed"]))),
        ("shed requests (503 + Retry-After)", str(len(out["shed"]))),
        ("throughput, requests/s", f"{total / args.seconds:.1f}"),
        ("latency p50 ms", f"{statistics.median(latency):.0f}" if latency else "-"),
        ("latency p99 ms", f"{np.percentile(latency, 99):.0f}" if latency else "-"),
        (
            "server RSS before -> after, MB",
            f"{rss_before / 2**20:.0f} -> {rss_after / 2**20:.0f}" if pid else "-",
        ),
    ]
    for name, value in rows:
        sys.stdout.write(f"{name:<32} {value}\n")
    for reason, count in Counter(out["reasons"]).most_common(5):
        sys.stdout.write(f"failure x{count}: {reason}\n")
    return 1 if out["failed"] or not latency else 0


if __name__ == "__main__":
    sys.exit(main())
