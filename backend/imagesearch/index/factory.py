"""Index choice, in the spirit of autofaiss: the number of vectors and a memory budget pick the type.

- fewer than ``flat_max_vectors``: exact ``IndexFlatIP`` (fast enough, recall 1.0);
- HNSW (``HNSW32,Flat``) when its graph and raw vectors fit in ``index_memory_gb``;
- else IVF-Flat (``IVF{nlist},Flat``) when the raw vectors fit;
- else OPQ-rotated IVF-PQ (``OPQ{m},IVF{nlist},PQ{m}``) with the largest code that fits.

``IMAGESEARCH_INDEX_FACTORY`` (``run_pipeline.py --index-factory``) forces a FAISS factory string.
Search-time knobs (efSearch for HNSW, nprobe for IVF) are tuned here, at build time, against exact
search: the smallest value whose recall@10 on held-out-like queries (a sample of the vectors,
each moved off itself; see ``_exact_reference``) reaches ``index_target_recall``. The manifest
stores them and ``index_store`` applies them at load.
No file I/O here: saving and loading stay in ``index_store``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import faiss
import numpy as np

from imagesearch.config import Settings
from imagesearch.errors import IndexBuildError
from imagesearch.vectors import FloatArray

logger = logging.getLogger(__name__)

FLAT = "Flat"
HNSW_M = 32
EF_SEARCH_STEPS = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
TUNING_QUERIES = 1000
RECALL_K = 10
PQ_CODE_SIZES = (64, 48, 32, 16, 8)
_BUDGET_SHARE = 0.9  # headroom for the process itself
PLATEAU_GAIN = 0.005  # recall gained by two more doublings of a knob that is not worth their cost


@dataclass(frozen=True)
class IndexTuning:
    """What was built and how it searches: stored in the manifest."""

    factory: str
    search_params: dict[str, int] = field(default_factory=dict)
    recall_at_10: float | None = None


def choose_factory(n: int, dim: int, settings: Settings) -> str:
    """The FAISS factory string for ``n`` vectors of ``dim`` floats under the settings' budget."""
    if settings.index_factory:
        return settings.index_factory
    if n < settings.flat_max_vectors:
        return FLAT
    budget = settings.index_memory_gb * 1e9 * _BUDGET_SHARE
    nlist = choose_nlist(n)
    if estimate_bytes(f"HNSW{HNSW_M},Flat", n, dim) <= budget:
        return f"HNSW{HNSW_M},Flat"
    if estimate_bytes(f"IVF{nlist},Flat", n, dim) <= budget:
        return f"IVF{nlist},Flat"
    for m in (m for m in PQ_CODE_SIZES if dim % m == 0):
        factory = f"OPQ{m},IVF{nlist},PQ{m}"
        if estimate_bytes(factory, n, dim) <= budget:
            return factory
    smallest = min((m for m in PQ_CODE_SIZES if dim % m == 0), default=1)
    return f"OPQ{smallest},IVF{nlist},PQ{smallest}"  # the most compact we offer, over budget or not


def choose_nlist(n: int) -> int:
    """About 4 sqrt(n) inverted lists (a power of two), with >= 39 training points per list."""
    target = 2 ** round(math.log2(max(4 * math.sqrt(max(n, 1)), 1)))
    return int(max(1, min(target, n // 39)))


def estimate_bytes(factory: str, n: int, dim: int) -> float:
    """Rough resident size of an index of ``n`` vectors built from one of our factory strings."""
    raw = 4.0 * dim
    if factory.startswith("HNSW"):
        # Level 0 keeps 2M int32 links per vector; upper levels add about 1/M more.
        return n * (raw + 2 * HNSW_M * 4 * 1.1 + 16)
    nlist = _int_after(factory, "IVF")
    centroids = nlist * raw
    if factory.endswith(",Flat") and "IVF" in factory:
        return n * (raw + 8) + centroids
    if "PQ" in factory:
        code = _int_after(factory.split(",")[-1], "PQ")
        return n * (code + 8) + centroids + dim * dim * 4
    return n * raw


def _int_after(text: str, prefix: str) -> int:
    start = text.find(prefix)
    digits = ""
    for char in text[start + len(prefix) :] if start >= 0 else "":
        if not char.isdigit():
            break
        digits += char
    return int(digits) if digits else 0


def build_index(vectors: FloatArray, settings: Settings) -> tuple[Any, IndexTuning]:
    """Build (train, add) and tune an inner-product index over unit vectors (n, d) float32."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    factory = choose_factory(n, dim, settings)
    index: Any
    if factory == FLAT:
        index = faiss.IndexFlatIP(dim)
        index.add(vectors)
        return index, IndexTuning(factory=FLAT, recall_at_10=1.0 if n else None)
    try:
        index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        if not index.is_trained:
            index.train(_training_sample(vectors, factory))
        index.add(vectors)
    except RuntimeError as exc:
        raise IndexBuildError(f"cannot build a {factory!r} index over {n} vectors: {exc}") from exc
    params, recall = tune_search(index, vectors, settings.index_target_recall)
    return index, IndexTuning(factory=factory, search_params=params, recall_at_10=recall)


def _training_sample(vectors: FloatArray, factory: str) -> FloatArray:
    nlist = max(_int_after(factory, "IVF"), 1)
    size = min(len(vectors), max(64 * nlist, 65_536))
    if size == len(vectors):
        return vectors
    rows = np.sort(np.random.default_rng(0).choice(len(vectors), size, replace=False))
    return vectors[rows]


def tune_search(index: Any, vectors: FloatArray, target: float) -> tuple[dict[str, int], float]:
    """The smallest efSearch / nprobe with recall@10 >= ``target`` on a sample of ``vectors``.

    Returns the knobs (applied to ``index``) and the recall they measured. When the target is out
    of reach (compressed PQ codes cap recall whatever the knob), climbing stops once two more
    doublings gain less than ``PLATEAU_GAIN`` and keeps the value that showed it (queries from
    outside the collection saturate a little later than the tuning ones): an exhaustive nprobe
    would cost far more for no better answers.
    """
    name, steps = _knob(index)
    queries, kth = _exact_reference(vectors)
    if name is None:
        return {}, measure_recall(index, vectors, queries, kth)
    tried: list[tuple[int, float]] = []
    for value in steps:
        apply_search_params(index, {name: value})
        tried.append((value, measure_recall(index, vectors, queries, kth)))
        if tried[-1][1] >= target:
            break
        if len(tried) >= 3 and tried[-1][1] - tried[-3][1] < PLATEAU_GAIN:
            break
    chosen, recall = tried[-1]
    if recall < target:
        plateau = len(tried) < len(steps)
        logger.warning(
            "recall@10 %.3f at %s=%d is the most this %s reaches (target %.2f)%s; HNSW/IVF-Flat "
            "with a bigger memory budget (IMAGESEARCH_INDEX_MEMORY_GB) or a larger PQ code get closer",
            recall,
            name,
            chosen,
            type(index).__name__,
            target,
            ": more probing gains nothing, its compressed codes cap recall" if plateau else "",
        )
    apply_search_params(index, {name: chosen})
    return {name: chosen}, recall


def _knob(index: Any) -> tuple[str | None, list[int]]:
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexPreTransform) else index
    if isinstance(inner, faiss.IndexHNSW):
        return "efSearch", list(EF_SEARCH_STEPS)
    ivf = faiss.try_extract_index_ivf(inner)
    if ivf is not None:
        nlist = int(ivf.nlist)
        steps = [2**p for p in range(int(math.log2(nlist)) + 1)]
        return "nprobe", steps if steps[-1] == nlist else [*steps, nlist]
    return None, []


def _exact_reference(vectors: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Held-out-like queries and, for each, its exact 10th-best score.

    Queries that are themselves in the index overstate ANN recall (the graph or list leads
    straight to them), so each sampled vector is moved in a random direction by the median
    distance to its 10th neighbour: a point of the same distribution that the index does not hold.
    """
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(vectors), min(TUNING_QUERIES, len(vectors)), replace=False))
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    k = min(RECALL_K, len(vectors))
    scores, _ = exact.search(vectors[rows], min(k + 1, len(vectors)))
    radius = float(np.sqrt(max(2.0 - 2.0 * float(np.median(scores[:, -1])), 0.0)))
    noise = rng.normal(size=(len(rows), vectors.shape[1])).astype(np.float32)
    queries = vectors[rows] + radius * noise / np.linalg.norm(noise, axis=1, keepdims=True)
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    scores, _ = exact.search(queries, k)
    return queries, scores[:, -1]


def measure_recall(index: Any, vectors: FloatArray, queries: FloatArray, kth: FloatArray) -> float:
    """recall@10: the share of returned results scoring at least the exact 10th-best score.

    Compared by score, not id, so near-duplicate vectors tied at the cut-off are not misses.
    Scores are recomputed from ``vectors``, since compressed (PQ) indexes return approximate ones.
    """
    k = min(RECALL_K, int(index.ntotal))
    if not k or not len(queries):
        return 1.0
    _, ids = index.search(queries, k)
    exact = np.einsum("qkd,qd->qk", vectors[np.maximum(ids, 0)], queries)
    hits = (ids >= 0) & (exact >= kth[:, None] - 1e-5)
    return float(hits.sum()) / (len(queries) * k)


def apply_search_params(index: Any, params: dict[str, int]) -> None:
    """Set efSearch / nprobe (also through an OPQ pre-transform)."""
    space = faiss.ParameterSpace()
    for name, value in params.items():
        space.set_index_parameter(index, name, value)
