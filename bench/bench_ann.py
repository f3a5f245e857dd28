"""ANN benchmark: every index type the factory can pick, on clustered 512-d unit vectors.

    .venv/bin/python bench/bench_ann.py            # 100k vectors
    .venv/bin/python bench/bench_ann.py --full     # 100k and 1M vectors

For each index: build time (train + add + the build-time tuning of efSearch / nprobe, exactly as
the pipeline does it), memory (serialised size, which is what a load maps or reads), recall@10
against exact search on held-out queries (drawn from the same clusters, not in the index),
single-query latency p50/p99 on one thread, and batch throughput on all cores. Prints a table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))

from imagesearch.config import Settings  # noqa: E402
from imagesearch.index.factory import build_index, choose_nlist  # noqa: E402

DIM = 512
QUERIES = 1000
LATENCY_QUERIES = 300


def clustered(n: int, seed: int, centres: int = 2000) -> np.ndarray:
    """Unit vectors around random centres with per-cluster spread: CLIP-like structure, not uniform."""
    rng = np.random.default_rng(seed)
    means = np.random.default_rng(12345).normal(size=(centres, DIM)).astype(np.float32)
    spread = np.random.default_rng(54321).uniform(0.6, 1.4, size=centres).astype(np.float32)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        labels = rng.integers(0, centres, min(100_000, n - start))
        block = means[labels] + spread[labels, None] * rng.normal(size=(len(labels), DIM)).astype(np.float32)
        out[start : start + len(labels)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def factories(n: int, opq: bool = True) -> list[str]:
    nlist = choose_nlist(n)
    compressed = [f"OPQ64,IVF{nlist},PQ64", f"OPQ16,IVF{nlist},PQ16"] if opq else [f"IVF{nlist},PQ64"]
    return ["Flat", "HNSW32,Flat", f"IVF{nlist},Flat", *compressed]


def measure(factory: str, base: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict[str, object]:
    threads = os.cpu_count() or 1
    faiss.omp_set_num_threads(threads)
    started = time.perf_counter()
    index, tuning = build_index(base, Settings(index_factory=factory))
    build_s = time.perf_counter() - started
    size = len(faiss.serialize_index(index))
    _, ids = index.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, truth, strict=True)])
    faiss.omp_set_num_threads(1)
    latencies = []
    for query in queries[:LATENCY_QUERIES]:
        t = time.perf_counter()
        index.search(query[None, :], 10)
        latencies.append((time.perf_counter() - t) * 1000)
    faiss.omp_set_num_threads(threads)
    t = time.perf_counter()
    index.search(queries, 10)
    qps = len(queries) / (time.perf_counter() - t)
    return {
        "index": factory,
        "knobs": ",".join(f"{k}={v}" for k, v in tuning.search_params.items()) or "-",
        "build s": f"{build_s:.1f}",
        "MB": f"{size / 1e6:.0f}",
        "tuned recall": f"{tuning.recall_at_10:.3f}" if tuning.recall_at_10 is not None else "-",
        "recall@10": f"{recall:.3f}",
        "p50 ms": f"{np.percentile(latencies, 50):.2f}",
        "p99 ms": f"{np.percentile(latencies, 99):.2f}",
        "batch q/s": f"{qps:.0f}",
    }


def estimate_10m(factory: str, n: int, row: dict[str, object]) -> str:
    """Scale a measured IVF-PQ row to 10M vectors: codes and ids grow linearly, centroids with nlist.

    Latency: at 10M the factory picks ~4 sqrt(n) lists, so each list holds sqrt(10M / n) times
    more codes; at the same nprobe a query scans that many times more codes (the PQ scan dominates).
    """
    big = 10_000_000
    code = int(factory.rsplit("PQ", 1)[1])
    nlist_small, nlist_big = choose_nlist(n), choose_nlist(big)
    measured = float(str(row["MB"])) * 1e6
    per_vector = code + 8  # PQ code + int64 id in the inverted lists
    fixed = measured - n * per_vector  # centroids, rotation, tables
    estimate = big * per_vector + fixed * nlist_big / nlist_small
    scan = (big / nlist_big) / (n / nlist_small)
    p50 = float(str(row["p50 ms"])) * scan
    return (
        f"  10M estimate for {factory.replace(f'IVF{nlist_small}', f'IVF{nlist_big}')}: "
        f"{estimate / 1e9:.2f} GB, p50 ~{p50:.1f} ms at the same nprobe, recall as measured here"
    )


def print_row(row: dict[str, object], header: bool) -> None:
    widths = [max(len(str(k)), 12) if k != "index" else 22 for k in row]
    if header:
        print(" | ".join(str(k).ljust(w) for k, w in zip(row, widths, strict=True)), flush=True)
    print(" | ".join(str(v).ljust(w) for v, w in zip(row.values(), widths, strict=True)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="also 1M vectors")
    parser.add_argument("--sizes", type=int, nargs="*", help="override the collection sizes")
    parser.add_argument("--only", nargs="*", help="only these factory strings / prefixes (e.g. HNSW IVF)")
    parser.add_argument(
        "--no-opq", action="store_true", help="IVF-PQ without the OPQ rotation (slow to train on 2 cores)"
    )
    args = parser.parse_args()
    sizes = args.sizes or ([100_000, 1_000_000] if args.full else [100_000])
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, faiss {faiss.__version__}")
    for n in sizes:
        base, queries = clustered(n, seed=1), clustered(QUERIES, seed=2)
        exact = faiss.IndexFlatIP(DIM)
        exact.add(base)
        truth = exact.search(queries, 10)[1]
        del exact
        print(f"\n{n:,} vectors x {DIM} d, {QUERIES} held-out queries", flush=True)
        for i, factory in enumerate(
            f for f in factories(n, opq=not args.no_opq) if not args.only or f.startswith(tuple(args.only))
        ):
            row = measure(factory, base, queries, truth)
            print_row(row, header=i == 0)
            if "PQ" in factory:
                print(estimate_10m(factory, n, row), flush=True)


if __name__ == "__main__":
    main()
