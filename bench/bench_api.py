"""API benchmark: /search over HTTP with 1, 8 and 64 concurrent clients on a 100k-image index.

    .venv/bin/python bench/bench_api.py [--vectors 100000] [--seconds 20] [--clients 1 8 64]

Builds a real index the way the pipeline does (a few real images encoded by the full ViT-B-32
architecture with random weights, grown to ``--vectors`` with clustered random unit vectors,
then ``index_factory.build_index``: the index type and knobs the pipeline would choose), serves it
with ``uvicorn search_api:app`` and runs closed-loop clients that each send distinct text queries
(never repeated, so the query cache never answers). Prints p50/p99 latency and requests/s per
concurrency level, and where the server's time went, read from its own ``/metrics``: the text
encoder, FAISS, result metadata, and the rest (HTTP, validation, JSON, and at concurrency > 1 the
wait for a free encoder slot).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "backend" / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_ann import clustered  # noqa: E402
from bench_core import random_vit_b32  # noqa: E402
from bench_latency import AFTER_SERVER, Client, api, distinct_queries  # noqa: E402
from support.images import write_images  # noqa: E402

from imagesearch.config import Settings  # noqa: E402
from imagesearch.encoders.factory import load_encoder  # noqa: E402
from imagesearch.index.factory import build_index  # noqa: E402
from imagesearch.index.store import load_bundle, save_bundle  # noqa: E402
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline  # noqa: E402


def build_large_index(settings: Settings, folder: Path, vectors: int) -> str:
    encoder = load_encoder(settings)
    write_images(folder, 8)
    run_pipeline(settings, PipelineOptions(source=folder, progress=False), encoder)
    bundle = load_bundle(settings)
    real = bundle.index.reconstruct_n(0, bundle.index.ntotal)
    extra = clustered(vectors - len(real), seed=3)
    index, tuning = build_index(np.concatenate([real, extra]), settings)
    urls = bundle.urls + [f"https://images.example.com/{n}.jpg" for n in range(len(extra))]
    manifest = bundle.manifest.model_copy(
        update={
            "index_factory": tuning.factory,
            "search_params": tuning.search_params,
            "recall_at_10": tuning.recall_at_10,
        }
    )
    save_bundle(settings, index, urls, manifest)
    knobs = ",".join(f"{k}={v}" for k, v in tuning.search_params.items())
    return f"{tuning.factory} ({knobs or 'exact'}, tuned recall@10 {tuning.recall_at_10:.3f})"


def server_seconds(client: Client) -> dict[str, float]:
    """Cumulative seconds by stage, and in /search requests, from the server's /metrics."""
    totals = {"encode": 0.0, "search": 0.0, "metadata": 0.0, "requests": 0.0}
    for family in text_string_to_metric_families(client.http.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "imagesearch_stage_seconds_sum":
                totals[sample.labels["stage"]] += sample.value
            elif sample.name == "imagesearch_http_request_seconds_sum":
                totals["requests"] += sample.value if sample.labels["route"] == "/search" else 0.0
    return totals


async def closed_loop(base_url: str, clients: int, seconds: float, queries: list[str]) -> list[float]:
    """``clients`` loops, each sending its next distinct query as soon as the last one answered."""
    latencies: list[float] = []
    pending = iter(queries)
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, keepalive_expiry=2.0)

    async def one(http: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            query = next(pending)
            started = time.perf_counter()
            response = await http.get("/search", params={"query": query, "top_k": 10})
            response.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)

    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as http:
        await asyncio.gather(*(one(http) for _ in range(clients)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, nargs="*", default=[1, 8, 64])
    args = parser.parse_args()
    queries = distinct_queries(60_000)
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        settings = random_vit_b32(tmp, 32)
        described = build_large_index(settings, tmp / "images", args.vectors)
        with api(settings, AFTER_SERVER, {}) as client:
            for warm in queries[:20]:
                client.http.get("/search", params={"query": warm})
            used = 20
            for clients in args.clients:
                before = server_seconds(client)
                started = time.perf_counter()
                latencies = asyncio.run(closed_loop(client.base_url, clients, args.seconds, queries[used:]))
                wall = time.perf_counter() - started
                used += len(latencies) + clients
                after = server_seconds(client)
                spent = {key: after[key] - before[key] for key in after}
                total = max(spent["requests"], 1e-9)
                rest = total - spent["encode"] - spent["search"] - spent["metadata"]
                rows.append(
                    (
                        str(clients),
                        str(len(latencies)),
                        f"{len(latencies) / wall:.1f}",
                        f"{statistics.median(latencies):.1f}",
                        f"{np.percentile(latencies, 99):.1f}",
                        f"{spent['encode'] / total:.0%}",
                        f"{spent['search'] / total:.1%}",
                        f"{spent['metadata'] / total:.1%}",
                        f"{rest / total:.0%}",
                    )
                )
    header = ("clients", "requests", "req/s", "p50 ms", "p99 ms", "encoder", "FAISS", "metadata", "rest")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(f"index: {args.vectors:,} vectors, {described}; ViT-B-32 text encoder (random weights)")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
