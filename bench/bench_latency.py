"""Query latency before/after the fast query paths, measured in one run (nothing is asserted).

Builds a real index with the pipeline (a few images, full ViT-B-32 architecture with random
weights: same cost as the real ones), grows it to 25k vectors with random unit vectors through
index_store.save_bundle, and serves it with the real API (uvicorn search_api:app) three ways:

- before: plain open_clip ``encode_text`` (77 tokens), no query or result cache, FAISS on all
  cores, torch called from the request's pool thread with torch normalisation, 2 searches at a
  time, full JPEG decode;
- after: the default settings (exact: truncated causal text tower, one torch thread with
  batching, numpy normalisation, LRU text and result caches, one FAISS thread per search);
- after + draft: the opt-in ``IMAGESEARCH_JPEG_DRAFT_FACTOR=2`` (reduced-scale JPEG decode).

Then: pipeline images/s on local 2-5 MP JPEGs vs the bare encoder at the same batch size.

    .venv/bin/python bench/bench_latency.py [--queries 500] [--vectors 25000] [--uploads 20]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "backend" / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_core import WORDS, measure_pipeline, random_vit_b32  # noqa: E402
from conftest import free_port, settings_env  # noqa: E402
from imagegen import make_image, write_images  # noqa: E402

from imagesearch.config import Settings  # noqa: E402
from imagesearch.encoder import Encoder, load_encoder, normalize_rows  # noqa: E402
from imagesearch.index_store import build_flat_index, load_bundle, save_bundle  # noqa: E402
from imagesearch.pipeline import PipelineOptions, run_pipeline  # noqa: E402

# "before": the reference text path (open_clip's own encode_text over all 77 positions).
# "before" also calls torch from whichever thread serves the request (no single torch thread) and
# normalises images with torch in those threads.
BEFORE_PATCHES = (
    "e.text_path = lambda model: 'reference'; e.split_preprocess = lambda preprocess: None; "
    "t.TorchThread.run = lambda self, function, *args: function(*args); "
    "t.TorchThread.run_batched = lambda self, function, items, *limit: function(list(items)); "
)
BEFORE_SERVER = (
    "import sys, uvicorn, imagesearch.encoder as e, imagesearch.torch_thread as t; "
    + BEFORE_PATCHES
    + "uvicorn.run('search_api:app', host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')"
)
AFTER_SERVER = BEFORE_SERVER.replace(BEFORE_PATCHES, "")
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


@contextmanager
def api(settings: Settings, code: str, env: dict[str, str]) -> Iterator[httpx.Client]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(port)], cwd=ROOT / "backend", env=settings_env(settings) | env
    )
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        yield client
    finally:
        process.terminate()
        process.wait()


def timed(call: Callable[[], httpx.Response]) -> tuple[float, list[int]]:
    """Milliseconds for one request, and the ids it returned."""
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, [hit["id"] for hit in response.json()["results"]]


def measure(client: httpx.Client, texts: list[str], uploads: list[bytes]) -> dict[str, object]:
    client.get("/search", params={"query": "warm up"})
    text_ms, text_ids = [], []
    for text in texts:
        ms, ids = timed(lambda t=text: client.get("/search", params={"query": t, "top_k": 10}))
        text_ms.append(ms)
        text_ids.append(ids)
    repeated = [timed(lambda: client.get("/search", params={"query": texts[0]}))[0] for _ in range(50)]
    image_ms, image_ids = [], []
    client.post("/search-by-image", files={"file": ("w.jpg", uploads[0], "image/jpeg")})
    for data in uploads:
        files = {"file": ("q.jpg", data, "image/jpeg")}
        ms, ids = timed(lambda f=files: client.post("/search-by-image", files=f))
        image_ms.append(ms)
        image_ids.append(ids)
    return {
        "text_p50": statistics.median(text_ms),
        "text_p99": float(np.percentile(text_ms, 99)),
        "repeat_p50": statistics.median(repeated),
        "image_p50": statistics.median(image_ms),
        "image_p99": float(np.percentile(image_ms, 99)),
        "text_ids": text_ids,
        "image_ids": image_ids,
    }


def same_top10(a: object, b: object) -> str:
    pairs = list(zip(a, b, strict=True))  # type: ignore[call-overload]
    return f"{sum(x == y for x, y in pairs)}/{len(pairs)}"


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
        }
        with api(settings, BEFORE_SERVER, plain) as client:
            before = measure(client, texts, uploads)
        with api(settings, AFTER_SERVER, {}) as client:
            after = measure(client, texts, uploads)
        with api(settings, AFTER_SERVER, {"IMAGESEARCH_JPEG_DRAFT_FACTOR": "2"}) as client:
            draft = measure(client, texts[:50], uploads)
        pipeline_settings = settings.model_copy(update={"data_dir": tmp / "pipeline-data"})
        bare, piped = bench_pipeline(
            pipeline_settings, encoder, tmp / "pipeline-images", args.pipeline_images
        )
        draft_settings = settings.model_copy(
            update={"data_dir": tmp / "pipeline-draft", "jpeg_draft_factor": 2}
        )
        bare_again, piped_draft = measure_pipeline(draft_settings, encoder, tmp / "pipeline-images")
    n_text, n_img = len(texts), len(uploads)
    rows = [
        (f"/search p50 ms ({n_text} distinct 2-12 word queries, {args.vectors} images)",
         f"{before['text_p50']:.1f}", f"{after['text_p50']:.1f}", "-"),
        ("/search p99 ms", f"{before['text_p99']:.1f}", f"{after['text_p99']:.1f}", "-"),
        ("/search repeated query p50 ms", f"{before['repeat_p50']:.1f}", f"{after['repeat_p50']:.1f}", "-"),
        ("text top-10 identical to before", "-", same_top10(before["text_ids"], after["text_ids"]), "-"),
        (f"/search-by-image p50 ms ({n_img} JPEGs, 1-5 MP)",
         f"{before['image_p50']:.1f}", f"{after['image_p50']:.1f}", f"{draft['image_p50']:.1f}"),
        ("/search-by-image p99 ms", f"{before['image_p99']:.1f}", f"{after['image_p99']:.1f}",
         f"{draft['image_p99']:.1f}"),
        ("image top-10 identical to before", "-", same_top10(before["image_ids"], after["image_ids"]),
         same_top10(before["image_ids"], draft["image_ids"])),
        (f"bare encoder images/s (batch {args.batch_size})", "-", f"{bare:.1f}", "-"),
        (f"pipeline images/s ({args.pipeline_images} local 2-5 MP JPEGs)", "-", f"{piped:.1f}",
         f"{piped_draft:.1f}"),
        ("pipeline / bare encoder", "-", f"{piped / bare:.0%}", f"{piped_draft / bare_again:.0%}"),
    ]  # fmt: skip
    header = ("measure", "before", "after (default)", "after + JPEG draft")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    out = sys.stdout
    out.write(f"machine: {os.cpu_count()} CPUs; model ViT-B-32 (random weights)\n")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        out.write("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) + "\n")


if __name__ == "__main__":
    main()
