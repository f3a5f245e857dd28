"""Build-time tuning of the search knobs against exact search, and applying them at load.

efSearch (HNSW), nprobe (IVF) and, for a two-stage index, nprobe together with the re-ranking
factor R (``k_factor_rf``: the first stage returns k*R candidates that the second re-scores
exactly): the cheapest setting whose recall@10 on held-out queries (a sample of the vectors,
each searched with itself left out; see ``exact_reference``) reaches the target plus a margin
(``HELD_OUT_MARGIN``). The manifest
stores them and ``index_files`` applies them at load.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from imagesearch.vectors import FloatArray

logger = logging.getLogger(__name__)

EF_SEARCH_STEPS = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
K_FACTOR_STEPS = (1, 2, 4, 8, 16, 32, 64)
TUNING_QUERIES = 1000
RECALL_K = 10
PLATEAU_GAIN = 0.005  # recall gained by two more doublings of a knob that is not worth their cost
# One re-scored candidate (a 512-d float dot product from the mapped vectors, in page cache) cost
# about as much as 64 fast-scan PQ code distances on the 2-core dev VM (100k clustered 512-d:
# +0.04 ms per 120 candidates, +0.03 ms per 5.5k codes). A cold disk read costs more, so this
# errs towards probing more lists rather than reading more vectors.
REFINE_COST = 64.0
# An 8-bit PQ code distance (a table lookup per byte, no SIMD registers) cost about 4 fast-scan
# ones: 1.5 vs 0.4 ms per query over the same 15.6k codes of 1M vectors (IVF4096, nprobe 64, 64
# bytes a code, 2026-12-07).
PQ8_CODE_COST = 4.0
# The knobs aim this far above the target: 1000 tuning queries estimate recall with an error of
# about 0.005, and a knob that just reaches the target on them can miss it on new images. With it,
# 8 builds (20k and 60k vectors, synthetic and fitted to real image features, IVF-Flat and
# two-stage) all measured >= 0.951 on new queries (2026-12-06, bench/scale_data.py's data).
HELD_OUT_MARGIN = 0.01
EXACT_BLOCK_BYTES = 256 * 2**20  # vectors scanned at once by exact_search

# Held-out queries (q, d), their exact 10th score among the other vectors (q,), their own ids (q,).
Reference = tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]


def tune_search(index: Any, vectors: FloatArray, target: float) -> tuple[dict[str, int], float]:
    """The cheapest knobs with recall@10 >= ``target`` (+ ``HELD_OUT_MARGIN``) on a sample of
    ``vectors`` (n, d) float32.

    Returns the knobs (applied to ``index``) and the recall they measured. When the target is out
    of reach (compressed PQ codes cap recall whatever the knob), climbing stops once two more
    doublings gain less than ``PLATEAU_GAIN`` and keeps the value that showed it (queries from
    outside the collection saturate a little later than the tuning ones): an exhaustive nprobe
    would cost far more for no better answers.
    """
    reference = exact_reference(vectors)
    aim = min(target + HELD_OUT_MARGIN, 1.0)
    if isinstance(index, faiss.IndexRefine):
        params, recall = _tune_two_stage(index, vectors, reference, aim)
    else:
        name, steps = _knob(index)
        if name is None:
            return {}, measure_recall(index, vectors, *reference)
        tried: dict[tuple[int, ...], float] = {}
        _climb(index, vectors, reference, [{name: value} for value in steps], aim, tried)
        params, recall = _pick(tried, [name], aim, lambda key: float(key[0]), list(tried)[-1])
    if recall < target:
        logger.warning(
            "recall@10 %.3f at %s is the most this %s reaches (target %.2f): more search gains "
            "nothing; IVF-Flat (a bigger IMAGESEARCH_INDEX_MEMORY_GB) or a larger code gets closer",
            recall,
            params,
            type(index).__name__,
            target,
        )
    apply_search_params(index, params)
    return params, recall


def _tune_two_stage(
    index: Any, vectors: FloatArray, reference: Reference, target: float
) -> tuple[dict[str, int], float]:
    """nprobe and R: for each R from the largest down, the smallest nprobe that reaches the
    target (a smaller R needs at least the nprobe of a larger one, so each climb starts where
    the last one ended), then the pair with the lowest cost; about |R| + |nprobe| searches."""
    _, steps = _knob(index)
    ivf: Any = faiss.try_extract_index_ivf(index)
    fast_scan = isinstance(faiss.downcast_index(ivf), faiss.IndexIVFFastScan)
    per_list = float(index.ntotal) / max(steps[-1], 1) * (1.0 if fast_scan else PQ8_CODE_COST)
    tried: dict[tuple[int, ...], float] = {}
    start = 0
    for k_factor in reversed(K_FACTOR_STEPS):
        grid = [{"nprobe": nprobe, "k_factor_rf": k_factor} for nprobe in steps[start:]]
        reached = _climb(index, vectors, reference, grid, target, tried)
        if reached is None:
            break  # even this R misses at the plateau: a smaller one misses too
        start = steps.index(reached["nprobe"])
    # Nothing reached the target only when the first climb (the largest R) did not: it stopped
    # at its plateau, the last setting tried.
    plateau = list(tried)[-1]

    def cost(key: tuple[int, ...]) -> float:
        return key[0] * per_list + RECALL_K * key[1] * REFINE_COST

    return _pick(tried, ["nprobe", "k_factor_rf"], target, cost, plateau)


def _climb(
    index: Any,
    vectors: FloatArray,
    reference: Reference,
    grid: list[dict[str, int]],
    target: float,
    tried: dict[tuple[int, ...], float],
) -> dict[str, int] | None:
    """Measure ``grid``'s settings in order (recording each in ``tried``) until one reaches the
    target (returned) or recall plateaus (None)."""
    climbed: list[float] = []
    for params in grid:
        apply_search_params(index, params)
        climbed.append(measure_recall(index, vectors, *reference))
        tried[tuple(params.values())] = climbed[-1]
        if climbed[-1] >= target:
            return params
        if len(climbed) >= 3 and climbed[-1] - climbed[-3] < PLATEAU_GAIN:
            return None
    return None


def _pick(
    tried: dict[tuple[int, ...], float],
    names: list[str],
    target: float,
    cost: Callable[[tuple[int, ...]], float],
    plateau: tuple[int, ...],
) -> tuple[dict[str, int], float]:
    """The cheapest setting that reached the target, else ``plateau``: where the climb stopped."""
    reached = [key for key, recall in tried.items() if recall >= target]
    key = min(reached, key=cost) if reached else plateau
    return dict(zip(names, key, strict=True)), tried[key]


def _knob(index: Any) -> tuple[str | None, list[int]]:
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexPreTransform) else index
    if isinstance(inner, faiss.IndexHNSW):
        return "efSearch", list(EF_SEARCH_STEPS)
    ivf = faiss.try_extract_index_ivf(inner)  # also the first stage of an IndexRefine
    if ivf is not None:
        nlist = int(ivf.nlist)
        steps = [2**p for p in range(int(math.log2(nlist)) + 1)]
        return "nprobe", steps if steps[-1] == nlist else [*steps, nlist]
    return None, []


def exact_reference(vectors: FloatArray, first_row: int = 0) -> Reference:
    """Held-out queries and, for each, its exact 10th-best score among the other vectors; the
    queries are sampled from rows ``first_row`` on (an append measures its new vectors).

    Each query is a sampled vector searched with itself left out (leave-one-out): a point of the
    collection's own distribution that the rest of the index does not hold, so its neighbours are
    as hard to find as a new image's. Sampled vectors moved off themselves by isotropic noise, as
    before, stayed anchored to their origin's neighbourhood: on 20k clustered 32-d vectors, a
    two-stage index measured recall@10 0.985 on them, 0.961 left out, and 0.947 on new queries.
    """
    rng = np.random.default_rng(0)
    pool = len(vectors) - first_row
    rows = first_row + np.sort(rng.choice(pool, min(TUNING_QUERIES, pool), replace=False))
    queries = np.ascontiguousarray(vectors[rows], dtype=np.float32)
    own = rows.astype(np.int64)
    k = min(RECALL_K, len(vectors) - 1)
    if k < 1:
        return queries[:0], np.zeros(0, dtype=np.float32), own[:0]
    scores, ids = exact_search(vectors, queries, k + 1)
    return queries, _without_self(scores, ids, own, k)[:, -1], own


def _without_self(values: Any, ids: npt.NDArray[np.int64], own: npt.NDArray[np.int64], k: int) -> Any:
    """The first ``k`` of each row's ``k + 1`` results (``values[i]`` ranked as ``ids[i]``) other
    than the query's own id ``own[i]`` (not among them: a duplicate outranked it; the first k)."""
    order = np.argsort(ids == own[:, None], axis=1, kind="stable")[:, :k]
    return np.take_along_axis(values, order, axis=1)


def exact_search(
    vectors: FloatArray, queries: FloatArray, k: int, block_bytes: int = EXACT_BLOCK_BYTES
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Exact top-``k`` inner products of ``queries`` (q, d) over ``vectors`` (n, d) float32, block
    by block: ``vectors`` may be a memory map larger than RAM (10M x 512-d is 20 GB), and no block
    is ever copied into an index. Returns scores (q, k) and ids (q, k), best first."""
    rows = max(1, block_bytes // max(vectors.shape[1] * 4, 1))
    heap = faiss.ResultHeap(len(queries), k, keep_max=True)
    for start in range(0, len(vectors), rows):
        block = np.ascontiguousarray(vectors[start : start + rows], dtype=np.float32)
        scores, ids = faiss.knn(queries, block, min(k, len(block)), metric=faiss.METRIC_INNER_PRODUCT)
        heap.add_result(scores, np.where(ids >= 0, ids + start, -1))
    heap.finalize()
    return heap.D, heap.I


def measure_recall(
    index: Any, vectors: FloatArray, queries: FloatArray, kth: FloatArray, own: npt.NDArray[np.int64]
) -> float:
    """recall@10 of left-out queries: the share of the results (the query's own id left out)
    scoring at least the exact 10th-best score among the other vectors.

    Compared by score, not id, so near-duplicate vectors tied at the cut-off are not misses.
    Scores are recomputed from ``vectors``, since compressed (PQ) indexes return approximate ones.
    """
    k = min(RECALL_K, int(index.ntotal) - 1)
    if k < 1 or not len(queries):
        return 1.0
    _, found = index.search(queries, k + 1)
    ids = _without_self(found, found, own, k)
    exact = np.einsum("qkd,qd->qk", vectors[np.maximum(ids, 0)], queries)
    hits = (ids >= 0) & (exact >= kth[:, None] - 1e-5)
    return float(hits.sum()) / (len(queries) * k)


def apply_search_params(index: Any, params: dict[str, int]) -> None:
    """Set efSearch / nprobe / k_factor_rf (also through an OPQ pre-transform or an IndexRefine:
    ParameterSpace gives ``k_factor_rf`` to the IndexRefine and every other name to its first stage)."""
    space = faiss.ParameterSpace()
    for name, value in params.items():
        space.set_index_parameter(index, name, value)
