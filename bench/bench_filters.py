"""Filtered top-k benchmark (search/filtered.py): recall and latency of filters inside FAISS.

    .venv/bin/python bench/bench_filters.py                    # ~4 min on 2 cores
    .venv/bin/python bench/bench_filters.py --cache /tmp/idx   # keep the built indexes for reruns

100k clustered 512-d unit vectors (bench_ann's generator), the three index types the factory
picks up to 100k with its own build-time tuning (Flat, HNSW32, IVF-Flat). Filters at 0.1 %, 1 %,
10 % and 50 % selectivity, of three kinds:
- random: a uniform random subset;
- clusters-in: whole clusters (metadata that follows content), queries from those clusters;
- clusters-out: whole clusters, queries from the *other* clusters (the query's own cluster and
  its neighbourhood excluded: the adversarial case for graphs and inverted lists).
Per cell: recall@10 against exact filtered search (numpy over the allowed subset), p50/p99 ms
per query on one FAISS thread (through the compute thread, as the service runs it), the share
of queries that took the exact path, and p50 over the same index's unfiltered p50.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_ann import clustered  # noqa: E402

from imagesearch.config import Settings  # noqa: E402
from imagesearch.index.factory import build_index, choose_nlist  # noqa: E402
from imagesearch.search.filtered import FilteredSearch  # noqa: E402
from imagesearch.search.index_search import IndexSearch  # noqa: E402

N = 100_000
CENTRES = 2000  # bench_ann.clustered's default
QUERIES = 200
POOL = 100_000  # candidate queries, so that every cluster has some
SELECTIVITIES = (0.001, 0.01, 0.1, 0.5)
K = 10


def labels_of(n: int, seed: int) -> np.ndarray:
    """The cluster of each of ``clustered(n, seed)``'s vectors: its first draw (n <= 100k)."""
    return np.random.default_rng(seed).integers(0, CENTRES, n)


def masks(
    base_labels: np.ndarray, pool_labels: np.ndarray
) -> list[tuple[str, float, np.ndarray, np.ndarray]]:
    """(kind, selectivity, read-only mask (N,), query rows of the pool) for every cell."""
    rng = np.random.default_rng(7)
    out = []
    for share in SELECTIVITIES:
        random = rng.random(N) < share
        clusters = rng.permutation(CENTRES)[: max(1, round(share * CENTRES))]
        by_cluster = np.isin(base_labels, clusters)
        inside = np.isin(pool_labels, clusters)
        out += [
            ("random", share, random, np.arange(QUERIES)),
            ("clusters-in", share, by_cluster, np.flatnonzero(inside)[:QUERIES]),
            ("clusters-out", share, by_cluster, np.flatnonzero(~inside)[:QUERIES]),
        ]
    for _, _, mask, _ in out:
        mask.flags.writeable = False
    return out


def exact_kth(base: np.ndarray, mask: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Each query's exact K-th best score among the allowed rows (numpy, independent of FAISS)."""
    scores = base[mask] @ queries.T  # (m, q)
    k = min(K, len(scores))
    return np.partition(scores, len(scores) - k, axis=0)[len(scores) - k]


def load_or_build(factory: str, base: np.ndarray, cache: Path | None) -> tuple[object, str]:
    path = cache / f"{factory.replace(',', '_')}.faiss" if cache else None
    if path is not None and path.exists():
        return faiss.read_index(str(path)), path.with_suffix(".json").read_text()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    index, tuning = build_index(base, Settings(index_factory=factory))
    knobs = json.dumps(tuning.search_params)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        faiss.write_index(index, str(path))
        path.with_suffix(".json").write_text(knobs)
    return index, knobs


def timed(function: object, queries: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    results, ms = [], []
    for query in queries:
        started = time.perf_counter()
        results.append(function(query[None, :]))  # type: ignore[operator]
        ms.append((time.perf_counter() - started) * 1000)
    return results, np.asarray(ms)


def measure(index: object, base: np.ndarray, pool: np.ndarray, cells: list, unfiltered_p50: float) -> list:
    searcher = FilteredSearch(index, faiss_threads=1)
    rows = []
    for kind, share, mask, rows_of_pool in cells:
        queries = pool[rows_of_pool]
        results, ms = timed(lambda q, mask=mask: searcher.search(q, mask, K), queries)
        ids = np.stack([r[1] for r in results])
        assert mask[ids[ids >= 0]].all(), "a filtered result is not allowed"
        kth = exact_kth(base, mask, queries)
        true_scores = np.einsum("qkd,qd->qk", base[np.maximum(ids, 0)], queries)
        want = min(K, int(mask.sum()))
        hits = ((ids >= 0) & (true_scores >= kth[:, None] - 1e-5)).sum(axis=1)
        exact_share = np.mean([searcher.choose_path(q[None, :], mask, K) == "exact" for q in queries[:50]])
        rows.append(
            (kind, f"{share:.1%}", len(queries), f"{exact_share:.0%}", f"{np.mean(hits / want):.3f}",
             f"{np.percentile(ms, 50):.2f}", f"{np.percentile(ms, 99):.2f}",
             f"{np.percentile(ms, 50) / unfiltered_p50:.2f}x")
        )  # fmt: skip
        print("| " + " | ".join(str(v) for v in rows[-1]) + " |", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", type=Path, help="folder to keep / reuse the built indexes")
    parser.add_argument("--only", nargs="*", help="only these factory prefixes (Flat HNSW IVF)")
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, faiss {faiss.__version__}")
    base, pool = clustered(N, seed=1), clustered(POOL, seed=2)
    base_labels, pool_labels = labels_of(N, 1), labels_of(POOL, 2)
    cells = masks(base_labels, pool_labels)
    for factory in ("Flat", "HNSW32,Flat", f"IVF{choose_nlist(N)},Flat"):
        if args.only and not factory.startswith(tuple(args.only)):
            continue
        index, knobs = load_or_build(factory, base, args.cache)
        unfiltered_search = IndexSearch(index, 1)
        _, unfiltered = timed(lambda q, s=unfiltered_search: s.search(q, K), pool[:QUERIES])
        p50 = float(np.percentile(unfiltered, 50))
        print(f"\n{factory} {knobs}: unfiltered p50 {p50:.2f} ms, p99 {np.percentile(unfiltered, 99):.2f} ms")
        print(
            "| filter | selectivity | queries | exact path | recall@10 | p50 ms | p99 ms | p50 / unfiltered |"
        )
        print("|---|---|---|---|---|---|---|---|", flush=True)
        measure(index, base, pool, cells, p50)


if __name__ == "__main__":
    main()
