"""The two-stage index: compressed codes in RAM propose, exact vectors on disk decide.

A ``faiss.IndexRefine`` whose first stage (``base_index``: IVF over fast-scan or OPQ PQ codes)
returns k*R candidates (R = ``k_factor``, tuned at build) and whose second stage
(``refine_index``: an ``IndexFlatIP`` holding every full float32 vector in id order) re-scores
them by exact inner product, i.e. exact cosine over unit vectors. So the scores it returns are
exact and its top k is the true top k whenever the candidates contain it.

The two stages are stored as two files (``index_files.py``) so the vectors can be memory-mapped
on their own: at 10M x 512-d they are 20 GB that only the candidates' pages are read of.
``IndexRefine`` does not own its stages; faiss's Python constructor keeps references to both,
and so does the index built here (``referenced_objects``), so neither is freed while it lives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from imagesearch.vectors import FloatArray

REFINE_SUFFIX = ",RFlat"  # faiss's own factory syntax for "re-rank with the flat vectors"
TUNED_K = 10  # the k that R was tuned for (tuning.RECALL_K)


def is_two_stage(factory: str) -> bool:
    return factory.endswith(REFINE_SUFFIX)


def lists_can_go_on_disk(factory: str) -> bool:
    """Can the first stage's inverted lists of a two-stage index of ``factory`` be merged into a
    lists file on disk (index/on_disk.py)? Those of 8-bit PQ codes (``OPQ…,IVF…,PQ{m},RFlat``,
    the chooser's two-stage pick) can; fast-scan lists (codes packed in blocks) cannot."""
    first = first_stage(factory)
    return is_two_stage(factory) and "PQ" in first.split(",")[-1] and not first.endswith("fs")


def first_stage(factory: str) -> str:
    """The factory string of the first stage (``factory`` itself for a one-stage index)."""
    return factory[: -len(REFINE_SUFFIX)] if is_two_stage(factory) else factory


def vectors_index(vectors: FloatArray) -> Any:
    """The second stage: an IndexFlatIP over ``vectors`` (n, d) float32, in id order."""
    refine = faiss.IndexFlatIP(vectors.shape[1])
    refine.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return refine


def join(base: Any, refine: Any, vectors_file: Path | None = None, lists_file: Path | None = None) -> Any:
    """The two-stage index over ``base`` and ``refine``; ValueError when they do not belong together.

    ``vectors_file``: the file ``refine`` is memory-mapped from, written for this index alone
    (``index_files.write_vectors_file``); ``lists_file``: the file of ``base``'s inverted lists,
    if on disk and written for it alone (on_disk.py). Saving moves them into the commit instead
    of copying them (at 10M x 512-d a copy of the vectors would be 20 GB more on disk)."""
    # downcast_index gives a second proxy that does not own the C++ object: check through it, but
    # keep (and reference) the caller's owning objects, or they would be freed under the index.
    flat = faiss.downcast_index(refine)
    if not isinstance(flat, faiss.IndexFlat) or flat.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise ValueError(f"the second stage must be an inner-product IndexFlat, not {type(flat).__name__}")
    if (base.ntotal, base.d) != (refine.ntotal, refine.d):
        raise ValueError(
            f"the first stage has {base.ntotal} vectors of dimension {base.d}, the vectors file "
            f"{refine.ntotal} of dimension {refine.d}"
        )
    index: Any = faiss.IndexRefine(base, refine)
    # The C++ index holds raw pointers to both stages. FAISS's proxies take no new attributes
    # but this one, so the vectors file rides along with them.
    index.referenced_objects = [base, refine, OwnFile("vectors", vectors_file), OwnFile("lists", lists_file)]
    return index


@dataclass
class OwnFile:
    """A file of a two-stage index's ``kind`` ("vectors", "lists") written for it alone (see
    ``join``); ``path`` None once it was moved into a commit, or when there is none to move."""

    kind: str
    path: Path | None


def own_file(index: Any, kind: str) -> OwnFile:
    """The record of ``index``'s own file of ``kind`` (``path`` None when it has none to move)."""
    for item in getattr(index, "referenced_objects", []):
        if isinstance(item, OwnFile) and item.kind == kind:
            return item
    return OwnFile(kind, None)


def stages(index: Any) -> tuple[Any, Any] | None:
    """(first stage, second-stage IndexFlatIP) of a two-stage index; None for any other index."""
    if not isinstance(index, faiss.IndexRefine):
        return None
    return faiss.downcast_index(index.base_index), faiss.downcast_index(index.refine_index)


def searched_first(index: Any) -> Any:
    """The index a search scans first: a two-stage index's first stage, else ``index`` itself."""
    parts = stages(index)
    return parts[0] if parts is not None else index


def search_params(index: Any, k: int, base_params: Any = None) -> Any:
    """Per-call parameters of a two-stage ``index`` for a top-``k`` search: never fewer than the
    TUNED_K * R candidates that the tuning measured (a top-1 search would otherwise re-rank
    only R), and ``base_params`` (nprobe, an ID selector) for the first stage."""
    module: Any = faiss  # faiss's bundled stubs lack the keyword constructors
    k_factor = float(index.k_factor) * max(1.0, TUNED_K / max(k, 1))
    if base_params is None:
        return module.IndexRefineSearchParameters(k_factor=k_factor)
    return module.IndexRefineSearchParameters(k_factor=k_factor, base_index_params=base_params)
