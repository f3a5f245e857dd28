"""Filtered top-k inside FAISS: the best ``k`` among the ids a boolean mask allows.

The filter runs *inside* the search (an ``IDSelectorBitmap`` in the search parameters), never
as a post-filter of an unfiltered top-k, so a page is never short while allowed ids remain.
Two paths, chosen per call (measurements in ``bench/RESULTS.md``):

- **exact**: an exhaustive scan of the allowed ids only: the flat vectors of ``IndexFlat`` (or
  of HNSW's flat ``storage``), or every inverted list of an IVF index (``nprobe = nlist``; the
  selector is tested before each distance, so only allowed vectors cost a dot product). For
  IVF-Flat this is exact; for PQ codes it is exact over the *compressed* vectors, i.e. the
  order the index itself would give them. For a two-stage index it scans the full vectors of
  its second stage (memory-mapped): exact cosine. Ties are completed and broken by id (see ``_exact``).
- **ANN**: the index's own search with the selector and a knob (efSearch / nprobe) raised by
  the inverse of the filter's selectivity *around the query*: an unfiltered probe of the
  query's ``PROBE_K`` nearest ids shows how many the filter keeps there. A filter that keeps the
  query's neighbourhood (metadata correlated with content) needs little more search than no
  filter; one that removes it (the adversarial case) sends the search out to where neighbours
  are sparse and almost equidistant, which the cost rule below turns into an exact scan. A
  two-stage index filters in its IVF first stage (the selector and raised nprobe go to it) and
  re-ranks the allowed candidates exactly, so its scores are exact on this path too.

Exact when the allowed ids are few (``exact_scan_max``), or when the raised knob would cost
more than scanning them: HNSW visits about ``HNSW_STEP_COST`` distance computations per
efSearch step, an IVF probe of half the lists costs about what the exhaustive scan does. An ANN
answer with holes (fewer than ``k`` results while ``k`` ids are allowed) is redone exactly.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from imagesearch import compute
from imagesearch.index import two_stage
from imagesearch.search.ranking import Candidates
from imagesearch.telemetry import stage
from imagesearch.vectors import FloatArray

BoolArray = npt.NDArray[np.bool_]

# Measured on 100k clustered 512-d vectors (bench/bench_filters.py, bench/RESULTS.md).
EXACT_SCAN_MAX = 4096  # allowed ids below which the exact scan (< 1 ms here) always wins
PROBE_K = 16  # unfiltered neighbours (the nearest few) inspected to estimate the filter's local selectivity
HNSW_MARGIN = 2.0  # efSearch = base * HNSW_MARGIN / selectivity (recall@10 >= 0.95 at 10 %)
HNSW_STEP_COST = 20.0  # exact-scan distances one efSearch step costs (graph hops, neighbour lists)
IVF_MARGIN = 48.0  # nprobe = base * IVF_MARGIN / selectivity (recall@10 >= 0.95 at 10 %)
IVF_EXACT_SHARE = 0.5  # probing this share of the lists costs about the exhaustive scan
RECALL_K = 10  # the k the base knobs were tuned for (index/factory.py)
CACHE_SIZE = 8  # per-mask states kept (a few filters paged at once)


@dataclass(frozen=True)
class _Mask:
    """What one ``allowed`` array costs to prepare; ``allowed`` keeps it alive, so its id()
    (the cache key) cannot be reused by another array while the entry exists."""

    allowed: BoolArray
    count: int
    bitmap: npt.NDArray[np.uint8]  # the selector reads this buffer: it must outlive it
    selector: Any


@dataclass(frozen=True)
class _Plan:
    kind: str  # "flat" | "hnsw" | "ivf" | "refine" (two-stage) | "other"
    knob: int  # efSearch / nprobe the index is tuned to (0: none)
    nlist: int = 0
    exact_index: Any = None  # the flat index an exact scan searches ("flat", "hnsw", "refine")


class FilteredSearch:
    """``search(vector, allowed, k)``: the top-k among the ids ``allowed`` marks, best first."""

    def __init__(self, index: Any, faiss_threads: int, exact_scan_max: int = EXACT_SCAN_MAX) -> None:
        self.index = index
        self._threads = faiss_threads
        self._exact_scan_max = exact_scan_max
        self._plan = _plan_of(index)
        self._masks: OrderedDict[int, _Mask] = OrderedDict()
        self._lock = threading.Lock()

    def search(self, vector: FloatArray, allowed: BoolArray, k: int) -> Candidates:
        """``vector`` (1, d) float32 unit; ``allowed`` (ntotal,) bool. Returns (scores (k,)
        float32, ids (k,) int64), score descending then id ascending, padded with id -1 and
        score -inf when fewer than ``k`` ids are allowed."""
        mask = self._mask_of(allowed)
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        with stage("search"):
            return compute.shared().run(self._search_now, query, mask, k)

    def choose_path(self, vector: FloatArray, allowed: BoolArray, k: int) -> str:
        """ "exact" or "ann": the path ``search`` takes for these arguments (for benchmarks)."""
        mask = self._mask_of(allowed)
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        knob = compute.shared().run(self._choose_knob_now, query, mask, k)
        return "exact" if knob is None else "ann"

    def _mask_of(self, allowed: BoolArray) -> _Mask:
        if allowed.dtype != np.bool_ or allowed.shape != (self.index.ntotal,):
            raise ValueError(
                f"allowed must be a bool array of shape ({self.index.ntotal},), "
                f"got {allowed.dtype} {allowed.shape}"
            )
        if allowed.flags.writeable:  # may change between calls: nothing to cache safely
            return _prepare(allowed)
        key = id(allowed)
        with self._lock:
            cached = self._masks.get(key)
            if cached is not None and cached.allowed is allowed:
                self._masks.move_to_end(key)
                return cached
        mask = _prepare(allowed)
        with self._lock:
            self._masks[key] = mask
            self._masks.move_to_end(key)
            while len(self._masks) > CACHE_SIZE:
                self._masks.popitem(last=False)
        return mask

    def _search_now(self, query: FloatArray, mask: _Mask, k: int) -> Candidates:
        with _omp_threads(self._threads):
            if min(k, mask.count) <= 0:
                return _padded(np.zeros(0, np.float32), np.zeros(0, np.int64), k)
            knob = self._choose_knob(query, mask, k)
            if knob is None:
                return self._exact(query, mask, k)
            scores, ids = self.index.search(query, k, params=self._ann_params(mask.selector, knob, k))
            if int((ids[0] >= 0).sum()) < min(k, mask.count):  # ran out before k allowed ids
                return self._exact(query, mask, k)
            return _ordered(scores[0], ids[0], k)

    def _choose_knob_now(self, query: FloatArray, mask: _Mask, k: int) -> int | None:
        with _omp_threads(self._threads):
            return self._choose_knob(query, mask, k)

    def _choose_knob(self, query: FloatArray, mask: _Mask, k: int) -> int | None:
        """The ANN knob for this query, or None for an exact scan. The probe is skipped when
        even a filter that keeps the whole neighbourhood (local share 1) would scan exactly."""
        if self._knob(mask.count, k, 1.0) is None:
            return None
        return self._knob(mask.count, k, self._local_share(query, mask))

    def _local_share(self, query: FloatArray, mask: _Mask) -> float:
        """The share of the query's ``PROBE_K`` unfiltered neighbours that the mask allows,
        Laplace-smoothed (a neighbourhood with none still gives a finite knob) but never above
        the larger of the raw and the global share: a handful of neighbours cannot tell 1 % from
        5 %, and the smoothing alone would under-raise the knob for selective filters."""
        _, ids = self.index.search(query, PROBE_K)
        found = ids[0][ids[0] >= 0]
        kept = int(mask.allowed[found].sum())
        smoothed = (kept + 1) / (len(found) + 2)
        return min(smoothed, max(kept / max(len(found), 1), mask.count / len(mask.allowed)))

    def _knob(self, count: int, k: int, local: float) -> int | None:
        """efSearch / nprobe for the ANN path, or None when an exact scan is cheaper."""
        plan = self._plan
        if plan.kind == "flat" or count <= max(self._exact_scan_max, k):
            return None
        share = min(local, 1.0)
        if plan.kind == "hnsw":
            ef = math.ceil(max(plan.knob, k) * HNSW_MARGIN / share)
            return None if ef * HNSW_STEP_COST >= count else ef
        if plan.kind in ("ivf", "refine") and plan.nlist:
            nprobe = math.ceil(plan.knob * math.ceil(k / RECALL_K) * IVF_MARGIN / share)
            return None if nprobe >= plan.nlist * IVF_EXACT_SHARE else min(nprobe, plan.nlist)
        return 0  # other index types: their own search with the selector, no knob

    def _ann_params(self, selector: Any, knob: int, k: int) -> Any:
        plan = self._plan
        if plan.kind != "refine":
            return _params(plan.kind, selector, knob)
        first = _params("ivf" if plan.nlist else "other", selector, knob)
        return two_stage.search_params(self.index, k, first)

    def _exact(self, query: FloatArray, mask: _Mask, k: int) -> Candidates:
        """The true top-k of the allowed ids, ties at the cut broken by id.

        FAISS keeps *some* of the ids tied at its k-th score. Fetching one more than needed and
        doubling until the last fetched score is strictly below the k-th guarantees that every
        id tied with the k-th is in hand (nothing unfetched can score above the last fetched).
        """
        want = min(k, mask.count)
        fetch = min(want + 1, mask.count)
        while True:
            scores, ids = self._scan(query, mask.selector, fetch)
            if fetch >= mask.count or scores[fetch - 1] < scores[want - 1]:
                return _ordered(scores, ids, k)
            fetch = min(fetch * 2, mask.count)

    def _scan(self, query: FloatArray, selector: Any, fetch: int) -> Candidates:
        plan = self._plan
        if plan.exact_index is not None:  # the flat vectors: the index, HNSW's storage, the 2nd stage
            index, params = plan.exact_index, _params("flat", selector, 0)
        else:  # every inverted list (or, for other types, their own search with the selector)
            index, params = self.index, _params(plan.kind, selector, plan.nlist)
        scores, ids = index.search(query, fetch, params=params)
        return scores[0], ids[0].astype(np.int64)


def _params(kind: str, selector: Any, knob: int) -> Any:
    """FAISS search parameters that filter by ``selector``, with efSearch / nprobe = ``knob``."""
    # faiss's bundled stubs lack SearchParametersHNSW and the keyword constructors.
    module: Any = faiss
    if kind == "hnsw":
        return module.SearchParametersHNSW(efSearch=knob, sel=selector)
    if kind == "ivf":
        return module.SearchParametersIVF(nprobe=knob, sel=selector)
    return module.SearchParameters(sel=selector)


def _prepare(allowed: BoolArray) -> _Mask:
    # IDSelectorBitmap reads bit (i & 7) of byte i >> 3: little-endian bit order.
    bitmap = np.packbits(allowed, bitorder="little")
    selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
    return _Mask(allowed=allowed, count=int(np.count_nonzero(allowed)), bitmap=bitmap, selector=selector)


def _plan_of(index: Any) -> _Plan:
    """How ``index`` is searched: its kind, tuned knob, and the flat index for exact scans."""
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexPreTransform) else index
    if isinstance(index, faiss.IndexFlat):
        return _Plan(kind="flat", knob=0, exact_index=index)
    if isinstance(inner, faiss.IndexHNSW) and inner is index:
        storage = faiss.downcast_index(index.storage)
        return _Plan(kind="hnsw", knob=int(index.hnsw.efSearch), exact_index=storage)
    ivf = faiss.try_extract_index_ivf(index)  # also the first stage of a two-stage index
    if isinstance(index, faiss.IndexRefine):
        refine = faiss.downcast_index(index.refine_index)
        flat = refine if isinstance(refine, faiss.IndexFlat) else None
        if ivf is None:
            return _Plan(kind="refine", knob=0, exact_index=flat)
        return _Plan(kind="refine", knob=int(ivf.nprobe), nlist=int(ivf.nlist), exact_index=flat)
    if ivf is not None:
        return _Plan(kind="ivf", knob=int(ivf.nprobe), nlist=int(ivf.nlist))
    return _Plan(kind="other", knob=0)


def _ordered(scores: FloatArray, ids: npt.NDArray[np.int64], k: int) -> Candidates:
    """The first ``k`` real results by (score desc, id asc), padded to ``k``."""
    real = ids >= 0
    scores, ids = scores[real], ids[real].astype(np.int64)
    order = np.lexsort((ids, -scores))[:k]
    return _padded(scores[order], ids[order], k)


def _padded(scores: FloatArray, ids: npt.NDArray[np.int64], k: int) -> Candidates:
    out_scores = np.full(k, -np.inf, dtype=np.float32)
    out_ids = np.full(k, -1, dtype=np.int64)
    out_scores[: len(scores)] = scores
    out_ids[: len(ids)] = ids
    return out_scores, out_ids


@contextmanager
def _omp_threads(threads: int) -> Iterator[None]:
    """``threads`` OpenMP threads for the block on this (compute) thread, then put back; 0: as
    many as torch uses (see index_search.py)."""
    if not threads:
        yield
        return
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)
