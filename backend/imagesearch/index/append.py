"""Adding vectors to a trained index without training it again, while held-out queries say it works.

IVF-Flat and the two-stage index are trained: coarse centroids (and, for the two-stage index,
PQ codebooks) fitted to the vectors they were built from. New vectors are appended with that
training: ``add`` assigns and encodes them (codes and ids in the first stage), and the two-stage
index's vectors file is written anew as the old file's vectors followed by the new ones (a
sequential copy, so the file the server has mapped stays intact until the commit replaces it).
At 10M vectors that is minutes where a build spends most of its time training and assigning.

It is only as good as the training still fits the collection. Images from elsewhere (another
camera, another catalogue) land in lists whose centroids were not fitted to them, and the tuned
nprobe / R stop finding their neighbours. So each append measures the drift: held-out queries
drawn from the appended vectors (each searched with itself left out), at the stored knobs,
against exact search over all the vectors. Below the target recall the append is refused and the
caller trains a new index; that measured recall is recorded in the manifest either way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from imagesearch.index import on_disk, two_stage
from imagesearch.index.index_files import map_vectors_file, vectors_view, write_vectors_file
from imagesearch.index.tuning import apply_search_params, exact_reference, measure_recall
from imagesearch.vectors import FloatArray

logger = logging.getLogger(__name__)

COPY_ROWS = 100_000  # vectors copied from the old vectors file at once


@dataclass(frozen=True)
class Appended:
    """The index with the new vectors, or why it was not kept (``index`` None: retrain)."""

    index: Any
    recall_at_10: float  # held-out queries from the appended vectors, stored knobs, exact reference
    queries: int


def can_append(index: Any) -> bool:
    """Is ``index`` trained (IVF-Flat, or a two-stage index over IVF codes), so that appending to
        it saves a training? Flat needs no training and HNSW is rebuilt: both are built anew, and so
    is an index whose inverted lists are on disk (mapped read-only)."""
    ivf = faiss.try_extract_index_ivf(two_stage.searched_first(index))  # under OPQ too
    trained = ivf is not None and bool(ivf.is_trained)
    return trained and on_disk.lists_of(ivf) is None  # lists on disk are mapped read-only


def append(
    index: Any, new: FloatArray, search_params: dict[str, int], target: float, vectors_file: Path
) -> Appended:
    """``index`` followed by ``new`` (m, d) float32 unit vectors (ids ntotal.. ntotal+m-1), with
    the old training and ``search_params``, and the recall@10 that held-out queries from ``new``
    measured on it. ``index`` itself is not changed. A two-stage result maps its vectors from
    ``vectors_file`` (written here; saving moves it into the commit). ``Appended.index`` is None
    when the recall is below ``target``: the training no longer fits, train again."""
    new = np.ascontiguousarray(new, dtype=np.float32)
    old_n = int(index.ntotal)
    parts = two_stage.stages(index)
    if parts is None:
        grown = _copy(index)
        grown.add(new)
        grown.make_direct_map()
        vectors: FloatArray = grown.reconstruct_n(0, grown.ntotal)
    else:
        base, refine = parts
        first = _copy(base)
        first.add(new)
        write_vectors_file(vectors_file, _chunks(refine, new), old_n + len(new), index.d)
        grown = two_stage.join(first, map_vectors_file(vectors_file), vectors_file)
        vectors = vectors_view(vectors_file, old_n + len(new), index.d)
    apply_search_params(grown, search_params)
    reference = exact_reference(vectors, first_row=old_n)
    recall = measure_recall(grown, vectors, *reference)
    kept = recall >= target
    logger.info(
        "append: %d vectors to %d: recall@10 %.3f on %d held-out queries from the new ones at %s "
        "(target %.2f): %s",
        len(new),
        old_n,
        recall,
        len(reference[0]),
        search_params,
        target,
        "appended without training" if kept else "the training no longer fits; training again",
    )
    if not kept:
        vectors_file.unlink(missing_ok=True)
    return Appended(index=grown if kept else None, recall_at_10=recall, queries=len(reference[0]))


def _copy(index: Any) -> Any:
    """An independent in-RAM copy (a memory-mapped index file included)."""
    return faiss.deserialize_index(faiss.serialize_index(index))


def _chunks(refine: Any, new: FloatArray) -> Iterator[FloatArray]:
    """The old vectors file's vectors, COPY_ROWS at a time, then ``new``."""
    for start in range(0, int(refine.ntotal), COPY_ROWS):
        yield refine.reconstruct_n(start, min(COPY_ROWS, int(refine.ntotal) - start))
    yield new
