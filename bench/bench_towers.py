"""Query towers in-process: torch fp32 against ONNX Runtime fp32 and int8, one table, one run.

For the full ViT-B-32 architecture (deterministic random weights: the same cost as the real
ones) it times one query at a time through each runtime, on the compute thread the API uses,
and compares every vector with torch's: largest difference of the unit vectors, and how many
top-10 lists over a fixed 25,000-vector flat index stay identical (mean overlap alongside).
Nothing is asserted; the figures go to bench/RESULTS.md.

    .venv/bin/python bench/bench_towers.py [--queries 300] [--images 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "backend" / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import faiss  # noqa: E402
from bench_core import random_vit_b32  # noqa: E402
from bench_latency import UPLOAD_SIZES, agreement, distinct_queries, jpeg_bytes  # noqa: E402

from imagesearch import compute  # noqa: E402
from imagesearch.encoders.clip import ClipEncoder  # noqa: E402
from imagesearch.images import decode_image  # noqa: E402
from imagesearch.vectors import normalize_rows  # noqa: E402


def timed_rows(encode: Callable[[Any], Any], items: list[Any]) -> tuple[float, np.ndarray]:
    """p50 ms of one-item calls, and the unit vectors they returned."""
    encode([items[0]])  # warm-up
    times, rows = [], []
    for item in items:
        started = time.perf_counter()
        rows.append(encode([item]))
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), normalize_rows(np.concatenate(rows))


def top10_agreement(index: Any, reference: np.ndarray, vectors: np.ndarray) -> str:
    _, expected = compute.shared().run(index.search, reference, 10)
    _, actual = compute.shared().run(index.search, vectors, 10)
    return agreement(expected.tolist(), actual.tolist())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--images", type=int, default=10)
    args = parser.parse_args()
    texts = distinct_queries(args.queries)
    # Photos decoded and sized to the model's 224 px input first: only the tower is timed.
    images = [
        decode_image(jpeg_bytes(seed, UPLOAD_SIZES[seed % len(UPLOAD_SIZES)]), 50_000_000).resize((224, 224))
        for seed in range(args.images)
    ]
    rows: list[tuple[str, str, float, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        # Every torch and FAISS call on the compute thread, as in the API: an OpenMP team started
        # on this thread too would slow torch's kernels (imagesearch/compute.py).
        base = compute.shared().run(random_vit_b32, Path(tmp_name), 32)
        encoders = {
            "torch fp32": ClipEncoder(base.model_copy(update={"query_runtime": "torch"})),
            "ONNX Runtime fp32": ClipEncoder(base.model_copy(update={"query_runtime": "onnxruntime"})),
            "ONNX Runtime int8": ClipEncoder(base.model_copy(update={"query_precision": "int8"})),
        }
        vectors = np.random.default_rng(1).standard_normal((25_000, 512)).astype(np.float32)
        index = faiss.IndexFlatIP(512)
        compute.shared().run(index.add, normalize_rows(vectors))
        for tower, items, call in (
            ("text", texts, lambda encoder: encoder.encode_texts),
            ("image", images, lambda encoder: encoder.encode_images),
        ):
            reference: np.ndarray | None = None
            for name, encoder in encoders.items():
                p50, found = timed_rows(call(encoder), items)
                reference = found if reference is None else reference
                difference = float(np.abs(found - reference).max())
                rows.append((tower, name, p50, difference, top10_agreement(index, reference, found)))
    print(f"ViT-B-32 (random weights), one query at a time; {len(texts)} texts, {len(images)} photos")
    print("| tower | runtime | p50 ms | max abs diff vs torch (unit vectors) | top-10 identical (25k flat) |")
    print("|---|---|---|---|---|")
    for tower, name, p50, difference, same in rows:
        print(f"| {tower} | {name} | {p50:.1f} | {difference:.1e} | {same} |")


if __name__ == "__main__":
    main()
