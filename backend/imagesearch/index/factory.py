"""Index choice, in the spirit of autofaiss: the number of vectors and a memory budget pick the type.

- fewer than ``flat_max_vectors``: exact ``IndexFlatIP`` (fast enough, recall 1.0);
- IVF-Flat (``IVF{nlist},Flat``) when the raw vectors fit in ``index_memory_gb``;
- else the two-stage index (``OPQ{m},IVF{nlist},PQ{m},RFlat``, ``two_stage.py``): OPQ-rotated
  8-bit PQ codes with the largest code that fits propose k*R candidates, and the full vectors,
  memory-mapped from disk, re-rank them by exact cosine;
- when even the smallest of those codes is over the budget, the same index with the largest
  code, whose inverted lists are merged on disk at build (``on_disk.py``): only the centroids
  are in RAM.

HNSW is no longer chosen by itself (``HNSW32,Flat`` can still be forced): on 1M clustered 512-d
vectors it reached recall@10 0.90 at efSearch 1024 (4.3 ms), where IVF4096,Flat reached 0.97 at
0.42 ms in less memory (bench/RESULTS.md). IVF's nprobe reaches any target (nprobe = nlist is
exhaustive), a graph's efSearch does not.
``IMAGESEARCH_INDEX_FACTORY`` (``run_pipeline.py --index-factory``) forces a FAISS factory string
(``,RFlat`` at its end makes it the first stage of a two-stage index). The search knobs are tuned
at build time (``tuning.py``). Saving and loading stay in ``store``; the only files written here
are on-disk inverted lists (``on_disk.py``), beside the vectors file they go with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from imagesearch.config import Settings
from imagesearch.errors import IndexBuildError
from imagesearch.index import on_disk, two_stage
from imagesearch.index.tuning import tune_search
from imagesearch.vectors import FloatArray

FLAT = "Flat"
MERGED_LISTS_NAME = ".merged-lists.ivfdata"  # beside the vectors file; the commit moves it
HNSW_M = 32
_BUDGET_SHARE = 0.9  # headroom for the process itself
# 8-bit PQ sub-quantizers of the two-stage first stage (m bytes a vector), largest first, each
# over >= 8 dimensions (narrower sub-vectors trained 10x slower here for little gain), after an
# OPQ rotation. On 1M vectors fitted to real image features (bench/scale_data.py), IVF4096 at
# nprobe 64, the true top 10 were among the first 160 / 640 candidates for recall@10 0.998 /
# 0.999 with OPQ64,PQ64, 0.942 / 0.993 with PQ64, 0.919 / 0.990 with OPQ128,PQ128x4fs and 0.819
# / 0.957 with PQ128x4fs, all 64-byte codes (2026-12-07): fast-scan's 16-centroid
# sub-quantizers need 4x the re-ranked candidates (at 10M, PQ128x4fs plateaued at recall 0.82).
PQ_SIZES = (64, 32, 16, 8, 4, 2, 1)
# In RAM, codes down to an eighth of the largest (8 bytes for 512-d): below that the 8-byte ids
# are most of the memory and the codes too coarse to propose; the lists go on disk instead.
IN_RAM_SHRINK = 8
LIST_BYTES = 64  # RAM per inverted list on disk (offset, size, capacity and their container)


@dataclass(frozen=True)
class IndexTuning:
    """What was built and how it searches: stored in the manifest."""

    factory: str
    search_params: dict[str, int] = field(default_factory=dict)
    recall_at_10: float | None = None
    trained_count: int = 0  # vectors the index was trained on (0: it needs no training)
    appended_recall_at_10: float | None = None  # at the last append since (index/append.py)


def choose_factory(n: int, dim: int, settings: Settings) -> str:
    """The FAISS factory string for ``n`` vectors of ``dim`` floats under the settings' budget."""
    if settings.index_factory:
        return settings.index_factory
    if n < settings.flat_max_vectors:
        return FLAT
    budget = _budget(settings)
    nlist = choose_nlist(n)
    if estimate_bytes(f"IVF{nlist},Flat", n, dim) <= budget:
        return f"IVF{nlist},Flat"
    sizes = [m for m in PQ_SIZES if dim % m == 0 and dim // m >= 8] or [1]
    for m in sizes:
        factory = f"OPQ{m},IVF{nlist},PQ{m}{two_stage.REFINE_SUFFIX}"
        if m * IN_RAM_SHRINK >= sizes[0] and estimate_bytes(factory, n, dim) <= budget:
            return factory
    return f"OPQ{sizes[0]},IVF{nlist},PQ{sizes[0]}{two_stage.REFINE_SUFFIX}"  # lists on disk


def lists_merged_on_disk(factory: str, n: int, dim: int, settings: Settings) -> bool:
    """Does a streamed build of ``factory`` over ``n`` vectors merge its inverted lists into a
    file on disk (on_disk.py)? Those of 8-bit PQ codes over the budget do; fast-scan lists cannot."""
    return two_stage.lists_can_go_on_disk(factory) and estimate_bytes(factory, n, dim) > _budget(settings)


def resident_bytes(factory: str, n: int, dim: int, settings: Settings) -> float:
    """``estimate_bytes``, or only the centroids (and rotation) when the lists go on disk."""
    if not lists_merged_on_disk(factory, n, dim, settings):
        return estimate_bytes(factory, n, dim)
    return _int_after(factory, "IVF") * (4.0 * dim + LIST_BYTES) + _rotation_bytes(factory, dim)


def choose_nlist(n: int) -> int:
    """About 4 sqrt(n) inverted lists (a power of two), with >= 39 training points per list."""
    target = 2 ** round(math.log2(max(4 * math.sqrt(max(n, 1)), 1)))
    return int(max(1, min(target, n // 39)))


def estimate_bytes(factory: str, n: int, dim: int) -> float:
    """Rough resident size of an index of ``n`` vectors built from one of our factory strings.

    A two-stage index counts only its first stage (codes, ids, centroids, an OPQ matrix if any):
    its full vectors are memory-mapped from disk, paged in on demand and evictable, not resident.
    """
    raw = 4.0 * dim
    factory = two_stage.first_stage(factory)
    if factory.startswith("HNSW"):
        # Level 0 keeps 2M int32 links per vector; upper levels add about 1/M more.
        return n * (raw + 2 * HNSW_M * 4 * 1.1 + 16)
    nlist = _int_after(factory, "IVF")
    centroids = nlist * raw
    rotation = _rotation_bytes(factory, dim)
    if factory.endswith(",Flat") and "IVF" in factory:
        return n * (raw + 8) + centroids
    if "PQ" in factory:
        code = _int_after(factory.split(",")[-1], "PQ")
        code_bytes = code / 2 if factory.endswith("x4fs") else code
        return n * (code_bytes + 8) + centroids + rotation
    return n * raw


def _budget(settings: Settings) -> float:
    """Bytes an index may hold in RAM: ``index_memory_gb`` less headroom for the process."""
    return settings.index_memory_gb * 1e9 * _BUDGET_SHARE


def _rotation_bytes(factory: str, dim: int) -> float:
    return dim * dim * 4.0 if factory.startswith("OPQ") else 0.0


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
        index = faiss.index_factory(dim, two_stage.first_stage(factory), faiss.METRIC_INNER_PRODUCT)
        if not index.is_trained:
            index.train(_training_sample(vectors, factory))
        index.add(vectors)
        if two_stage.is_two_stage(factory):
            index = two_stage.join(index, two_stage.vectors_index(vectors))
    except RuntimeError as exc:
        raise IndexBuildError(f"cannot build a {factory!r} index over {n} vectors: {exc}") from exc
    params, recall = tune_search(index, vectors, settings.index_target_recall)
    trained = n if faiss.try_extract_index_ivf(two_stage.searched_first(index)) is not None else 0
    return index, IndexTuning(factory, params, recall, trained_count=trained)


def build_two_stage(
    vectors: FloatArray,
    settings: Settings,
    refine: Any,
    vectors_file: Path | None = None,
    chunk_rows: int = 100_000,
) -> tuple[Any, IndexTuning]:
    """The two-stage index over ``vectors`` (n, d) float32 that need not fit in RAM (a np.memmap):
    the first stage is trained on a sample and filled ``chunk_rows`` at a time; ``refine`` is the
    IndexFlatIP of the same vectors mapped from ``vectors_file`` (``index_files.map_vectors_file``),
    which saving then moves into the commit instead of copying; the knobs are tuned as in
    ``build_index`` (exact search by blocks). A first stage whose lists go on disk is filled
    shard by shard and merged into a lists file beside ``vectors_file`` (on_disk.py)."""
    n, dim = vectors.shape
    factory = choose_factory(n, dim, settings)
    if not two_stage.is_two_stage(factory):
        raise IndexBuildError(f"{factory!r} is not a two-stage factory (one ending in ,RFlat)")
    try:
        base: Any = faiss.index_factory(dim, two_stage.first_stage(factory), faiss.METRIC_INNER_PRODUCT)
        base.train(np.ascontiguousarray(_training_sample(vectors, factory), dtype=np.float32))
        lists_file = None
        if lists_merged_on_disk(factory, n, dim, settings) and vectors_file is not None:
            lists_file = vectors_file.with_name(MERGED_LISTS_NAME)
            base = on_disk.add_on_disk(base, vectors, chunk_rows, lists_file)
        else:
            for start in range(0, n, chunk_rows):
                base.add(np.ascontiguousarray(vectors[start : start + chunk_rows], dtype=np.float32))
        index = two_stage.join(base, refine, vectors_file, lists_file)
    except (RuntimeError, ValueError) as exc:
        raise IndexBuildError(f"cannot build a {factory!r} index over {n} vectors: {exc}") from exc
    params, recall = tune_search(index, vectors, settings.index_target_recall)
    return index, IndexTuning(factory, params, recall, trained_count=n)


def _training_sample(vectors: FloatArray, factory: str) -> FloatArray:
    nlist = max(_int_after(factory, "IVF"), 1)
    size = min(len(vectors), max(64 * nlist, 65_536))
    if size == len(vectors):
        return vectors
    rows = np.sort(np.random.default_rng(0).choice(len(vectors), size, replace=False))
    return vectors[rows]
