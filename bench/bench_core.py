"""Core figures, measured in one run on this machine (not a test; nothing is asserted).

1. Pipeline throughput on local JPEG files vs the bare encoder at the same batch size.
2. /search latency over real HTTP (p50/p99 of sequential distinct queries), and the split
   between the text encoder and FAISS measured in-process on the same index.

Default model: the full ViT-B-32 architecture with deterministic random weights (same cost as
the real weights). With --data-dir pointing at an existing index (e.g. the demo index) the
latency part runs on that index with the encoder configured by IMAGESEARCH_* variables.

    .venv/bin/python bench/bench_core.py [--images 128] [--queries 200] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "backend" / "tests"))

from support.images import make_image  # noqa: E402
from support.servers import free_port  # noqa: E402
from support.tiny import settings_env  # noqa: E402
from support.weights import save_random_checkpoint  # noqa: E402

from imagesearch.config import Settings  # noqa: E402
from imagesearch.encoders.factory import load_encoder  # noqa: E402
from imagesearch.encoders.protocol import Encoder  # noqa: E402
from imagesearch.images import decode_image  # noqa: E402
from imagesearch.index.store import load_bundle  # noqa: E402
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline  # noqa: E402

WORDS = [
    "a",
    "person",
    "dog",
    "cat",
    "red",
    "blue",
    "city",
    "night",
    "beach",
    "mountain",
    "car",
    "bicycle",
    "rain",
    "street",
    "old",
    "young",
    "tree",
    "flower",
    "house",
    "river",
    "sunset",
    "snow",
    "food",
    "table",
    "window",
    "bird",
    "boat",
    "train",
    "coffee",
    "happy",
]


def queries(count: int) -> list[str]:
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 13)))) + f" {n}" for n in range(count)]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def random_vit_b32(tmp: Path, batch_size: int) -> Settings:
    """Settings for the full ViT-B-32 with deterministic random weights saved under ``tmp``."""
    settings = Settings(
        model="ViT-B-32", pretrained=str(tmp / "vitb32.pt"), data_dir=tmp / "data", batch_size=batch_size
    )
    save_random_checkpoint(settings, Path(settings.pretrained))
    return settings


def bench_pipeline(settings: Settings, folder: Path, count: int) -> tuple[float, float]:
    for seed in range(count):
        make_image(seed, (1600, 1200)).save(folder / f"img{seed:05d}.jpg", quality=90)
    return measure_pipeline(settings, load_encoder(settings), folder)


def measure_pipeline(settings: Settings, encoder: Encoder, folder: Path) -> tuple[float, float]:
    """Images/s of the bare encoder on pre-decoded images, and of the pipeline on the files."""
    files = sorted(folder.glob("*.jpg"))
    prepared = [encoder.prepare(decode_image(p.read_bytes(), settings.max_image_pixels)) for p in files]
    encoder.encode_prepared(prepared[: settings.batch_size])  # warm-up
    started = time.perf_counter()
    encoder.encode_prepared(prepared)
    bare = len(prepared) / (time.perf_counter() - started)
    report = run_pipeline(settings, PipelineOptions(source=folder, progress=False), encoder)
    return bare, report.ok / report.seconds


def bench_latency(settings: Settings, n_queries: int) -> dict[str, float]:
    texts = queries(n_queries)
    encoder = load_encoder(settings)
    bundle = load_bundle(settings)
    encode_ms, faiss_ms = [], []
    for text in texts[:50]:
        started = time.perf_counter()
        vector = encoder.encode_texts([text])
        middle = time.perf_counter()
        bundle.index.search(vector, 10)
        encode_ms.append((middle - started) * 1000)
        faiss_ms.append((time.perf_counter() - middle) * 1000)
    del encoder
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "search_api:app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT / "backend",
        env=settings_env(settings),
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        http_ms = []
        with httpx.Client(base_url=url) as client:
            client.get("/search", params={"query": "warm up"})
            for text in texts:
                started = time.perf_counter()
                response = client.get("/search", params={"query": text, "top_k": 10})
                http_ms.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
    finally:
        server.terminate()
        server.wait()
    return {
        "http_p50": statistics.median(http_ms),
        "http_p99": percentile(http_ms, 99),
        "encode_p50": statistics.median(encode_ms),
        "faiss_p50": statistics.median(faiss_ms),
        "images": float(bundle.index.ntotal),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data-dir", type=Path, help="existing index for the latency part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        settings = random_vit_b32(tmp, args.batch_size)
        (tmp / "images").mkdir()
        bare, piped = bench_pipeline(settings, tmp / "images", args.images)
        latency_settings = Settings(data_dir=args.data_dir) if args.data_dir else settings
        latency = bench_latency(latency_settings, args.queries)
    rows = [
        (f"bare encoder, images/s (batch {args.batch_size})", f"{bare:.1f}"),
        ("pipeline on local 1600x1200 JPEGs, images/s", f"{piped:.1f}"),
        ("pipeline / bare encoder", f"{piped / bare:.0%}"),
        (f"/search over HTTP p50 ms ({args.queries} queries, {int(latency['images'])} images)",
         f"{latency['http_p50']:.1f}"),
        ("/search over HTTP p99 ms", f"{latency['http_p99']:.1f}"),
        ("text encoder p50 ms (in-process)", f"{latency['encode_p50']:.1f}"),
        ("FAISS top-10 p50 ms (in-process)", f"{latency['faiss_p50']:.3f}"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    sys.stdout.write(f"{'measure':<{width}}  value\n{'-' * width}  -----\n")
    for name, value in rows:
        sys.stdout.write(f"{name:<{width}}  {value}\n")


if __name__ == "__main__":
    main()
