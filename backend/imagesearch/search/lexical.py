"""Lexical matching: BM25 over the stored captions and OCR text, and weighted RRF to fuse two rankings.

``CaptionIndex`` ranks caption ids (= vector ids) for a text query with BM25 (the ``bm25s``
library: sparse matrices, numpy only). ``rrf_fuse`` merges a dense (CLIP) and a sparse (BM25)
ranking by weighted reciprocal-rank fusion, which needs no score calibration between the two:

    fused(id) = (1 - weight) / (k0 + rank_dense(id)) + weight / (k0 + rank_sparse(id))

with 1-based ranks and a missing term (0) when an id is absent from one of the rankings.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import bm25s
import numpy as np
import numpy.typing as npt

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import: one line per index

RRF_K0 = 60  # the usual constant of Cormack et al. (2009)
_PLURAL = re.compile(r"(?<=[a-z]{2})(ies|sses|s)$")
_WORD = re.compile(r"(?u)\b\w\w+\b")  # bm25s' own token pattern


def fold_plural(word: str) -> str:
    """A minimal English plural folding: 'apples' -> 'apple', 'berries' -> 'berry'.

    Enough for captions and labels to meet ("cats" / "A cat."), without a stemmer's C extension.
    Words ending in 'ss', 'us' or 'is' are kept as they are.
    """
    if word.endswith(("ss", "us", "is")) and not word.endswith("sses"):
        return word
    return _PLURAL.sub(lambda m: {"ies": "y", "sses": "ss", "s": ""}[m.group(1)], word)


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased word tokens (two characters or more), English stop words dropped, plurals folded."""
    tokens = bm25s.tokenize(
        list(texts),
        lower=True,
        stopwords="en",
        return_ids=False,
        show_progress=False,
    )
    return [[fold_plural(word) for word in words] for words in tokens]


def query_tokens(text: str) -> list[str]:
    """A query's tokens (``tokenize``), then each run of 2 or 3 adjacent words written as one.

    OCR often reads a sign's words without the space between them ("OPEN24HOURS", "MAINSTREET"),
    so "main street" must also match the token "mainstreet"; in captions such joined tokens
    practically never occur, so they cost nothing there."""
    tokens = tokenize([text])[0] if text.strip() else []
    words = [word.lower() for word in re.findall(r"(?u)\w+", text)]
    joined = ["".join(words[i : i + n]) for n in (2, 3) for i in range(len(words) - n + 1)]
    return list(dict.fromkeys([*tokens, *(fold_plural(word) for word in joined)]))


def query_terms(text: str) -> frozenset[str]:
    """The tokens a caption or OCR text is matched on for a query (``query_tokens``)."""
    return frozenset(query_tokens(text))


def matched_words(text: str, terms: frozenset[str]) -> list[str]:
    """The words of ``text``, as written there, whose token is one of ``terms``; each once, in order
    (what the UI highlights)."""
    if not text or not terms:
        return []
    found: dict[str, None] = {}
    for word in _WORD.findall(text):
        if fold_plural(word.lower()) in terms:
            found.setdefault(word)
    return list(found)


class CaptionIndex:
    """BM25 over one caption per vector; empty captions never match."""

    def __init__(self, captions: Sequence[str]) -> None:
        self.size = len(captions)
        self._retriever = bm25s.BM25()
        corpus = tokenize(captions)
        self._vocab: dict[str, int] = {}
        if any(corpus):
            self._retriever.index(corpus, show_progress=False)
            self._vocab = dict(self._retriever.vocab_dict)

    def search(
        self, query: str, k: int, allowed: npt.NDArray[np.bool_] | None = None
    ) -> list[tuple[int, float]]:
        """Up to ``k`` (id, BM25 score) pairs, best first, ties by id; only ids whose caption
        matches and, with ``allowed`` (a bool mask over the ids), that the mask allows."""
        if k <= 0 or not self._vocab:
            return []
        words = [word for word in query_tokens(query) if word in self._vocab]
        if not words:
            return []
        scores = np.asarray(self._retriever.get_scores(words), dtype=np.float64)
        matched = np.flatnonzero((scores > 0) if allowed is None else (scores > 0) & allowed)
        order = matched[np.lexsort((matched, -scores[matched]))][:k]
        return [(int(i), float(scores[i])) for i in order]


def rrf_fuse(
    dense: Sequence[int], sparse: Sequence[int], weight: float, k0: int = RRF_K0
) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion of two rankings (ids best first) -> (id, score), best first.

    ``weight`` in [0, 1] is the share of the sparse (caption) ranking. Ties are broken by the
    dense rank (ids only in ``sparse`` after all dense ones), then by id, so the order is stable.
    A ranking that lists an id twice counts its first (best) rank.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    if k0 < 0:
        raise ValueError(f"k0 must be >= 0, got {k0}")
    dense_rank = _ranks(dense)
    sparse_rank = _ranks(sparse)
    scores: dict[int, float] = {}
    for item, rank in dense_rank.items():
        scores[item] = (1.0 - weight) / (k0 + rank)
    for item, rank in sparse_rank.items():
        scores[item] = scores.get(item, 0.0) + weight / (k0 + rank)
    unranked = len(dense_rank) + 1
    return sorted(scores.items(), key=lambda pair: (-pair[1], dense_rank.get(pair[0], unranked), pair[0]))


def _ranks(ranking: Sequence[int]) -> dict[int, int]:
    ranks: dict[int, int] = {}
    for position, item in enumerate(ranking, start=1):
        ranks.setdefault(int(item), position)
    return ranks
