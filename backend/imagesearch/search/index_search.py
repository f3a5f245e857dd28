"""FAISS searches of one loaded index, on the process's compute thread with a chosen OpenMP
thread count (``IMAGESEARCH_FAISS_THREADS``). A two-stage index is searched the same way, with
per-call parameters that keep its candidate pool at what the tuning measured (``two_stage.py``)."""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from imagesearch import compute
from imagesearch.index import two_stage
from imagesearch.search.ranking import Candidates
from imagesearch.telemetry import stage
from imagesearch.vectors import FloatArray


class IndexSearch:
    """``search(vectors, k)``: the top-k candidates of each query row, best first."""

    def __init__(self, index: Any, faiss_threads: int) -> None:
        self.index = index
        self._threads = faiss_threads

    def search(self, vectors: FloatArray, k: int) -> list[Candidates]:
        # On the compute thread, like the encoder: FAISS shares torch's OpenMP runtime, and a
        # search from another thread would start a second team and slow encoding (compute.py).
        query = np.ascontiguousarray(vectors, dtype=np.float32)
        with stage("search"):
            scores, ids = compute.shared().run(self._search_now, query, k)
        return list(zip(scores, ids.astype(np.int64), strict=True))

    def _search_now(self, query: FloatArray, k: int) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        """FAISS search with ``faiss_threads`` OpenMP threads (0: as many as torch uses).

        The count is set for this one call on the calling (compute) thread and put back, since
        torch reads the same OpenMP setting on that thread.
        """
        threads = self._threads
        if not threads:
            return self._search_index(query, k)
        previous = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(threads)
        try:
            return self._search_index(query, k)
        finally:
            faiss.omp_set_num_threads(previous)

    def _search_index(self, query: FloatArray, k: int) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        index: Any = self.index
        if isinstance(index, faiss.IndexRefine):
            return index.search(query, k, params=two_stage.search_params(index, k))
        return index.search(query, k)  # type: ignore[no-any-return]
