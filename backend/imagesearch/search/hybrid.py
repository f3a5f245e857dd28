"""Hybrid ranking for one loaded index: CLIP candidates fused with BM25 over the captions.

The fusion (weighted reciprocal-rank fusion) and BM25 live in ``imagesearch.search.lexical``; this
module feeds them one query's candidates and shapes the result like any other page. Both
rankings are cut at a fixed window (``max_offset + max_top_k + 1``), so every page of a hybrid
query is a slice of the same fused order. A result's ``score`` stays the CLIP cosine of the
query and that image (computed from the stored vector when BM25 alone found it), so
``min_score`` means the same with or without ``hybrid``.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imagesearch.errors import InvalidQueryError
from imagesearch.index.metadata import MetadataTable
from imagesearch.search.lexical import CaptionIndex, rrf_fuse
from imagesearch.search.ranking import (
    Candidates,
    Ranked,
    RankedPage,
    RankOptions,
    VectorLookup,
    collapse,
    paginate,
)
from imagesearch.vectors import FloatArray

NO_CAPTIONS = (
    "this index has no captions or OCR text: hybrid search needs an index built with captions or "
    "with --ocr (use hybrid=0)"
)


@dataclass(frozen=True)
class HybridQuery:
    text: str  # what BM25 matches against the captions
    vector: FloatArray  # (1, dim) unit CLIP query vector
    weight: float  # share of the caption ranking, (0, 1]
    exclude: Collection[int] = frozenset()
    allowed: npt.NDArray[np.bool_] | None = None  # a filter's mask over the ids; None: every image


def lexical_texts(captions: list[str] | None, table: MetadataTable) -> list[str] | None:
    """What BM25 matches for each image: its caption and the text read in it (``ocr_text``), or
    None when the index has neither."""
    ocr = table.columns.get("ocr_text")
    if ocr is None:
        return captions
    read = [str(value) if present else "" for value, present in zip(ocr.values, ocr.present, strict=True)]
    if captions is None:
        return read
    return [f"{caption}\n{text}" if text else caption for caption, text in zip(captions, read, strict=True)]


class CaptionSearch:
    """Owns the BM25 index of one bundle's captions, built once on first use (thread-safe)."""

    def __init__(self, captions: list[str] | None, vectors: VectorLookup, threshold: float) -> None:
        self._captions = captions
        self._vectors = vectors
        self._threshold = threshold
        self._index: CaptionIndex | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self._captions is not None

    def rank(self, query: HybridQuery, dense: Candidates, options: RankOptions) -> RankedPage:
        """One page of the fused order; ``dense`` are the CLIP candidates of the whole window."""
        items = self.ranked(query, dense, options.min_score)
        if options.dedupe:
            items = collapse(items, self._vectors, self._threshold)
        return paginate(items, options)

    def ranked(self, query: HybridQuery, dense: Candidates, min_score: float | None) -> list[Ranked]:
        """The whole fused order (scores are the CLIP cosines), without those under ``min_score``."""
        window = len(dense[1])
        scores, ids = dense
        dense_items = sorted(
            (
                Ranked(id=int(i), score=float(s))
                for s, i in zip(scores, ids, strict=True)
                if i >= 0 and int(i) not in query.exclude
            ),
            key=lambda item: (-item.score, item.id),
        )
        cosine = {item.id: item.score for item in dense_items}
        matches = self._caption_index().search(query.text, window, query.allowed)
        sparse = [i for i, _ in matches if i not in query.exclude]
        fused = rrf_fuse([item.id for item in dense_items], sparse, query.weight)
        only_sparse = [i for i, _ in fused if i not in cosine]
        if only_sparse:
            found = self._vectors(only_sparse) @ np.asarray(query.vector, dtype=np.float32)[0]
            cosine.update(zip(only_sparse, (float(s) for s in found), strict=True))
        items = [Ranked(id=i, score=cosine[i]) for i, _ in fused]
        if min_score is not None:
            items = [item for item in items if item.score >= min_score]
        return items

    def _caption_index(self) -> CaptionIndex:
        if self._captions is None:
            raise InvalidQueryError(NO_CAPTIONS)
        with self._lock:
            if self._index is None:
                self._index = CaptionIndex(self._captions)
            return self._index
