"""Vectors as the index stores them, read back by id (``/similar``, image-id terms, dedupe).

Flat and HNSW indexes keep the vectors as added, so these are exactly the encoder's outputs.
IVF indexes need a direct map (id -> inverted list slot) to look vectors up; it is built once,
on first use, under a lock. A two-stage index reconstructs from its flat second stage (the
exact vectors, mapped from disk) and needs none: its IVF first stage is left alone.
For PQ / SQ encodings the stored vector is the *compressed* approximation the index searches
with, not the original embedding: neighbours of an image are then the neighbours of its
compressed code (what the index itself would rank).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import faiss
import numpy as np

from imagesearch.vectors import FloatArray, normalize_rows


class StoredVectors:
    """Thread-safe lookup of stored vectors by FAISS id."""

    def __init__(self, index: Any) -> None:
        self._index = index
        self._lock = threading.Lock()
        self._ready = False

    def get(self, ids: Sequence[int]) -> FloatArray:
        """(len(ids), d) float32 unit rows; ids must be in range (the caller checks)."""
        if not len(ids):
            return np.zeros((0, self._index.d), dtype=np.float32)
        self._prepare()
        vectors = self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64))
        # Stored vectors are unit length up to compression error; renormalise so cosines are exact.
        return normalize_rows(np.asarray(vectors, dtype=np.float32))

    def _prepare(self) -> None:
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                enable_reconstruct(self._index)
                self._ready = True


def stores_exact_vectors(index: Any) -> bool:
    """Does ``reconstruct`` return the vectors as added? (Not for PQ / SQ codes.)"""
    if isinstance(index, faiss.IndexRefine):
        return isinstance(faiss.downcast_index(index.refine_index), faiss.IndexFlat)
    return isinstance(index, (faiss.IndexFlat, faiss.IndexHNSWFlat, faiss.IndexIVFFlat))


def enable_reconstruct(index: Any) -> None:
    """Build the id -> list map an IVF index needs to ``reconstruct`` (once; not thread-safe:
    StoredVectors calls it under its lock). Other indexes, a two-stage one included, need none."""
    ivf = _ivf_of(index)
    if ivf is not None:
        ivf.make_direct_map()


def _ivf_of(index: Any) -> Any:
    """The IVF index inside ``index`` (itself, or under a pre-transform), or None."""
    if isinstance(index, faiss.IndexRefine):  # reconstructs from refine_index, not the IVF
        return None
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None
