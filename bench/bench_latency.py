"""Query latency before/after the fast query paths, measured in one run (nothing is asserted).

Builds a real index with the pipeline (a few images, full ViT-B-32 architecture with random
weights: same cost as the real ones), grows it to 25k vectors with random unit vectors through
index_store.save_bundle, and serves it with the real API (uvicorn search_api:app) five ways:

- before: plain open_clip ``encode_text`` (77 tokens) and ``encode_image`` in torch, no query or
  result cache, FAISS on all cores, torch called from the request's pool thread with torch
  normalisation, 2 searches at a time, full JPEG decode, uvicorn on h11 + asyncio;
- after: the default settings (exact: query towers on ONNX Runtime in fp32, truncated causal
  text tower, one compute thread with batching, numpy normalisation, LRU text and result
  caches, one FAISS thread per search, uvicorn on httptools + uvloop);
- int8 (opt-in ``IMAGESEARCH_QUERY_PRECISION=int8``): int8 query towers, approximate;
- int8 + draft 2 / draft 1: also ``IMAGESEARCH_JPEG_DRAFT_FACTOR=2`` or ``1`` (reduced-scale
  JPEG decode down to >= 448 or >= 224 px).

Requests go over a keep-alive ``http.client`` connection (httpx's own per-request cost, ~0.8 ms
here, would be counted as server time otherwise). Then: pipeline images/s on local 2-5 MP JPEGs
vs the bare encoder at the same batch size.

    .venv/bin/python bench/bench_latency.py [--queries 500] [--vectors 25000] [--uploads 20]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "backend" / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_core import WORDS, measure_pipeline, random_vit_b32  # noqa: E402
from support.images import make_image, write_images  # noqa: E402
from support.servers import free_port  # noqa: E402
from support.tiny import settings_env  # noqa: E402

from imagesearch.config import Settings  # noqa: E402
from imagesearch.encoders.factory import load_encoder  # noqa: E402
from imagesearch.encoders.protocol import Encoder  # noqa: E402
from imagesearch.index.store import build_flat_index, load_bundle, save_bundle  # noqa: E402
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline  # noqa: E402
from imagesearch.vectors import normalize_rows  # noqa: E402

# "before": the reference text path (open_clip's own encode_text over all 77 positions).
# "before" also calls torch from whichever thread serves the request (no single torch thread) and
# normalises images with torch in those threads.
BEFORE_PATCHES = (
    "e.text_path = lambda model: 'reference'; e.split_preprocess = lambda preprocess: None; "
    "t.TorchThread.run = lambda self, function, *args: function(*args); "
    "t.TorchThread.run_batched = lambda self, function, items, *limit: function(list(items)); "
)
BEFORE_SERVER = (
    "import sys, uvicorn, imagesearch.encoders.clip as e, imagesearch.compute as t; "
    + BEFORE_PATCHES
    + "uvicorn.run('search_api:app', host='127.0.0.1', port=int(sys.argv[1]), log_level='warning', "
    "http='h11', loop='asyncio')"
)
AFTER_SERVER = BEFORE_SERVER.replace(BEFORE_PATCHES, "").replace(", http='h11', loop='asyncio'", "")
UPLOAD_SIZES = [(1152, 864), (1600, 1200), (2048, 1536), (2592, 1944)]  # 1.0 to 5.0 MP


def distinct_queries(count: int) -> list[str]:
    rng = np.random.default_rng(0)
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen[" ".join(rng.choice(WORDS, size=int(rng.integers(2, 13))))] = None
    return list(seen)


def jpeg_bytes(seed: int, size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    make_image(seed, size).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def build_index(settings: Settings, encoder: Encoder, folder: Path, vectors: int) -> None:
    """A real pipeline index of a few images, grown to ``vectors`` with random unit vectors."""
    write_images(folder, 8)
    run_pipeline(settings, PipelineOptions(source=folder, progress=False), encoder)
    bundle = load_bundle(settings)
    real = bundle.index.reconstruct_n(0, bundle.index.ntotal)
    rng = np.random.default_rng(1)
    extra = normalize_rows(rng.standard_normal((vectors - len(real), real.shape[1])).astype(np.float32))
    urls = bundle.urls + [f"https://images.example.com/{n}.jpg" for n in range(len(extra))]
    save_bundle(settings, build_flat_index(np.concatenate([real, extra])), urls, bundle.manifest)


class Client:
    """One keep-alive HTTP/1.1 connection (stdlib: the least client time counted as latency)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.base_url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.base_url, timeout=120)  # for other benchmarks' calls

    def call(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[float, int, Any]:
        """(milliseconds, status, parsed JSON or None) for one request."""
        started = time.perf_counter()
        self.connection.request(method, path, body=body, headers=headers or {})
        response = self.connection.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        is_json = response.getheader("content-type", "").startswith("application/json")
        return elapsed, response.status, json.loads(data) if is_json else None

    def search(self, text: str) -> tuple[float, list[int]]:
        query = urllib.parse.urlencode({"query": text, "top_k": 10})
        ms, status, payload = self.call("GET", f"/search?{query}")
        assert status == 200, payload
        return ms, [hit["id"] for hit in payload["results"]]

    def upload(self, data: bytes) -> tuple[float, list[int]]:
        files = {"file": ("q.jpg", data, "image/jpeg")}
        request = httpx.Request("POST", "http://127.0.0.1/search-by-image", files=files)
        ms, status, payload = self.call("POST", "/search-by-image", request.read(), dict(request.headers))
        assert status == 200, payload
        return ms, [hit["id"] for hit in payload["results"]]


@contextmanager
def api(settings: Settings, code: str, env: dict[str, str]) -> Iterator[Client]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(port)], cwd=ROOT / "backend", env=settings_env(settings) | env
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        yield Client(port)
    finally:
        process.terminate()
        process.wait()


def percentiles(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), float(np.percentile(values, 99))


def measure(client: Client, texts: list[str], uploads: list[bytes]) -> dict[str, object]:
    client.search("warm up")
    client.upload(uploads[0])
    health = [client.call("GET", "/health")[0] for _ in range(100)]
    text = [client.search(t) for t in texts]
    repeated = [client.search(texts[0])[0] for _ in range(50)]
    image = [client.upload(data) for data in uploads]
    return {
        "health": percentiles(health),
        "text": percentiles([ms for ms, _ in text]),
        "repeat": percentiles(repeated),
        "image": percentiles([ms for ms, _ in image]),
        "text_ids": [ids for _, ids in text],
        "image_ids": [ids for _, ids in image],
    }


def agreement(reference: object, other: object) -> str:
    """Identical top-10 lists, and the mean share of reference ids found in the other's top 10."""
    pairs = list(zip(reference, other, strict=True))  # type: ignore[call-overload]
    identical = sum(a == b for a, b in pairs)
    overlap = statistics.mean(len(set(a) & set(b)) / max(len(a), 1) for a, b in pairs)
    return f"{identical}/{len(pairs)} (overlap {overlap:.3f})"


def bench_pipeline(settings: Settings, encoder: Encoder, folder: Path, count: int) -> tuple[float, float]:
    folder.mkdir()
    for seed in range(count):
        (folder / f"img{seed:05d}.jpg").write_bytes(jpeg_bytes(seed, UPLOAD_SIZES[1 + seed % 3]))
    return measure_pipeline(settings, encoder, folder)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--vectors", type=int, default=25_000)
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--pipeline-images", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    texts = distinct_queries(args.queries)
    uploads = [jpeg_bytes(100 + n, UPLOAD_SIZES[n % len(UPLOAD_SIZES)]) for n in range(args.uploads)]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        settings = random_vit_b32(tmp, args.batch_size)
        encoder = load_encoder(settings)
        build_index(settings, encoder, tmp / "index-images", args.vectors)
        plain = {
            "IMAGESEARCH_TEXT_CACHE_SIZE": "0",
            "IMAGESEARCH_RESULT_CACHE_SIZE": "0",
            "IMAGESEARCH_MAX_CONCURRENT_SEARCHES": "2",
            "IMAGESEARCH_JPEG_DRAFT_FACTOR": "0",
            "IMAGESEARCH_FAISS_THREADS": "0",
            "IMAGESEARCH_QUERY_RUNTIME": "torch",
        }
        int8 = {"IMAGESEARCH_QUERY_PRECISION": "int8"}
        runs = {}
        for name, code, env, queries in (
            ("before", BEFORE_SERVER, plain, texts),
            ("after", AFTER_SERVER, {}, texts),
            ("int8", AFTER_SERVER, int8, texts),
            ("int8+draft2", AFTER_SERVER, int8 | {"IMAGESEARCH_JPEG_DRAFT_FACTOR": "2"}, texts[:50]),
            ("int8+draft1", AFTER_SERVER, int8 | {"IMAGESEARCH_JPEG_DRAFT_FACTOR": "1"}, texts[:50]),
        ):
            with api(settings, code, env) as client:
                runs[name] = measure(client, queries, uploads)
        pipeline_settings = settings.model_copy(update={"data_dir": tmp / "pipeline-data"})
        bare, piped = bench_pipeline(
            pipeline_settings, encoder, tmp / "pipeline-images", args.pipeline_images
        )
        draft_settings = settings.model_copy(
            update={"data_dir": tmp / "pipeline-draft", "jpeg_draft_factor": 2}
        )
        bare_again, piped_draft = measure_pipeline(draft_settings, encoder, tmp / "pipeline-images")
    write_table(runs, args, (bare, piped), (bare_again, piped_draft))


def write_table(
    runs: dict[str, dict[str, object]],
    args: argparse.Namespace,
    pipeline: tuple[float, float],
    pipeline_draft: tuple[float, float],
) -> None:
    names = ["before", "after", "int8", "int8+draft2", "int8+draft1"]
    drafts = ("int8+draft2", "int8+draft1")  # text is the same as int8: not repeated
    before = runs["before"]

    def cells(key: str, index: int, skip: tuple[str, ...] = ()) -> list[str]:
        return ["-" if name in skip else f"{runs[name][key][index]:.1f}" for name in names]  # type: ignore[index]

    def versus(key: str, skip: tuple[str, ...] = ()) -> list[str]:
        return ["-" if name in skip else agreement(before[key], runs[name][key]) for name in names[1:]]

    (bare, piped), (bare_again, piped_draft) = pipeline, pipeline_draft
    rows = [
        ["HTTP round trip: /health p50 ms", *cells("health", 0)],
        [f"/search p50 ms ({args.queries} distinct 2-12 word queries, {args.vectors} images)",
         *cells("text", 0, drafts)],
        ["/search p99 ms", *cells("text", 1, drafts)],
        ["/search repeated query p50 ms", *cells("repeat", 0)],
        ["text top-10 identical to before", "-", *versus("text_ids", drafts)],
        [f"/search-by-image p50 ms ({args.uploads} JPEGs, 1-5 MP)", *cells("image", 0)],
        ["/search-by-image p99 ms", *cells("image", 1)],
        ["image top-10 identical to before", "-", *versus("image_ids")],
        [f"bare encoder images/s (batch {args.batch_size})", "-", f"{bare:.1f}", "-",
         f"{bare_again:.1f}", "-"],
        [f"pipeline images/s ({args.pipeline_images} local 2-5 MP JPEGs; draft 2 column: draft only)", "-",
         f"{piped:.1f}", "-", f"{piped_draft:.1f}", "-"],
        ["pipeline / bare encoder", "-", f"{piped / bare:.0%}", "-", f"{piped_draft / bare_again:.0%}", "-"],
    ]  # fmt: skip
    header = ["measure", "before", "after (default, exact)", "int8 (opt-in)", "int8 + draft 2"]
    header.append("int8 + draft 1")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    out = sys.stdout
    out.write(f"machine: {os.cpu_count()} CPUs; model ViT-B-32 (random weights)\n")
    for row in [header, ["-" * w for w in widths], *rows]:
        out.write("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) + "\n")


if __name__ == "__main__":
    main()
