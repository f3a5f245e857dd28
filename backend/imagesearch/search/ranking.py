"""One stable result order, cut into pages: exclusions, min_score, near-duplicate collapse.

The order is score descending, then id ascending. FAISS returns the best ``k`` candidates but
breaks ties at its cut arbitrarily, so only candidates scoring *strictly* above the lowest
score fetched are "settled" (nothing unfetched can precede them). ``rank`` fetches more
(doubling ``k``) until the settled prefix covers the page plus one (for ``has_more``), or the
index is exhausted, or the lowest fetched score is already under ``min_score``. Collapsing
near-duplicates is greedy in that order, so whether a result is kept depends only on what
precedes it: pages after collapsing are stable too.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from imagesearch.vectors import FloatArray

# (scores (k,), ids (k,)) for one query, best first, ids -1 where FAISS found nothing.
Candidates = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]
# k -> the index's top-k candidates for the query being ranked (a FAISS search).
TopK = Callable[[int], Candidates]
VectorLookup = Callable[[list[int]], FloatArray]


@dataclass(frozen=True)
class RankOptions:
    """How to cut one query's results into a page (hashable: part of the page cache's key).

    ``filter`` (search/filters.py) restricts the images searched; ``cutoff="auto"`` keeps the
    results before the largest drop in the score curve (search/autocut.py); ``sort`` orders the
    relevant results by metadata fields (search/sorting.py); ``facets`` asks for value counts.
    """

    top_k: int
    offset: int = 0
    min_score: float | None = None
    dedupe: bool = False
    filter: str | None = None
    sort: str | None = None
    facets: tuple[str, ...] = ()
    cutoff: Literal["auto"] | None = None

    @property
    def needs_relevant_set(self) -> bool:
        """The page depends on the whole relevant set (its order or its end), not only a prefix."""
        return (
            self.sort is not None
            or self.cutoff is not None
            or (bool(self.facets) and self.min_score is not None)
        )


@dataclass(frozen=True)
class Ranked:
    id: int
    score: float
    duplicates: tuple[int, ...] = ()


@dataclass(frozen=True)
class RankedPage:
    items: list[Ranked]
    has_more: bool


@dataclass
class Ranker:
    """Pages of one query's results; ``vectors`` and ``threshold`` serve ``dedupe``."""

    ntotal: int
    vectors: VectorLookup
    threshold: float
    exclude: Collection[int] = field(default_factory=frozenset)

    def first_k(self, options: RankOptions) -> int:
        """Candidates to fetch first: the page, one more (has_more), the exclusions, and one to
        settle the last (the lowest score fetched may tie unfetched ones); twice that to dedupe."""
        need = options.offset + options.top_k + 2 + len(self.exclude)
        return min(self.ntotal, need * 2 if options.dedupe else need)

    def rank(self, top_k: TopK, options: RankOptions, first: Candidates | None = None) -> RankedPage:
        """Search deeper until the page is settled; ``first`` is an already searched candidate list."""
        need = options.offset + options.top_k + 1
        candidates = first if first is not None else top_k(self.first_k(options))
        vector_cache: dict[int, FloatArray] = {}
        while True:
            items, exhausted = self._settled(candidates, options)
            if options.dedupe:
                items = collapse(items, self.vectors, self.threshold, vector_cache)
            fetched = len(candidates[1])
            if exhausted or len(items) >= need or fetched >= self.ntotal:
                break
            candidates = top_k(min(self.ntotal, max(fetched, 1) * 2))
        return paginate(items, options)

    def _settled(self, candidates: Candidates, options: RankOptions) -> tuple[list[Ranked], bool]:
        return settled(candidates, self.ntotal, self.exclude, options.min_score)


def settled(
    candidates: Candidates, ntotal: int, exclude: Collection[int], min_score: float | None
) -> tuple[list[Ranked], bool]:
    """The candidates whose place in the order is final (of ``ntotal`` searchable images), without
    ``exclude`` and those under ``min_score``; True when nothing more can qualify."""
    scores, ids = candidates
    valid = ids >= 0
    fetched_all = len(ids) >= ntotal or not valid.all()
    lowest = float(scores[valid].min()) if valid.any() else float("-inf")
    items = [
        Ranked(id=int(i), score=float(s))
        for s, i in zip(scores[valid], ids[valid], strict=True)
        if int(i) not in exclude
    ]
    items.sort(key=lambda item: (-item.score, item.id))
    if not fetched_all:
        items = [item for item in items if item.score > lowest]
    below = min_score is not None and lowest < min_score
    if min_score is not None:
        items = [item for item in items if item.score >= min_score]
    return items, fetched_all or below


def paginate(items: list[Ranked], options: RankOptions) -> RankedPage:
    end = options.offset + options.top_k
    return RankedPage(items=items[options.offset : end], has_more=len(items) > end)


def collapse(
    items: list[Ranked], vectors: VectorLookup, threshold: float, cache: dict[int, FloatArray] | None = None
) -> list[Ranked]:
    """Greedy, in the given order: each item whose image-to-image cosine with an earlier kept item
    is >= ``threshold`` joins the first (best-placed) such item's ``duplicates``."""
    cache = {} if cache is None else cache
    missing = [item.id for item in items if item.id not in cache]
    if missing:
        cache.update(zip(missing, vectors(missing), strict=True))
    if not items:
        return []
    kept: list[Ranked] = []
    members: list[list[int]] = []
    kept_vectors = np.zeros((len(items), cache[items[0].id].shape[0]), dtype=np.float32)
    for item in items:
        vector = cache[item.id]
        similar = np.flatnonzero(kept_vectors[: len(kept)] @ vector >= threshold)
        if len(similar):
            members[int(similar[0])].append(item.id)
            continue
        kept_vectors[len(kept)] = vector
        kept.append(item)
        members.append([])
    return [
        Ranked(id=item.id, score=item.score, duplicates=tuple(dups))
        for item, dups in zip(kept, members, strict=True)
    ]
