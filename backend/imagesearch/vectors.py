"""Vectors as every layer passes them: float32 arrays of shape (n, dim), rows of unit length.

The base of the package (no torch, no FAISS): the encoders produce these, the index stores them,
the search service ranks with them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def normalize_rows(vectors: FloatArray) -> FloatArray:
    """L2-normalise each row of an (n, d) array; all-zero rows stay zero instead of NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
