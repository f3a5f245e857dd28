"""What a query's options do to its relevant results beyond cutting a page: the adaptive cutoff,
near-duplicate collapse, sorting by metadata and facet counts.

The *relevant set* of a query is its candidates (the filter's images, best first) that pass
``min_score`` and, with ``cutoff="auto"``, come before the largest drop in the score curve.
``sort`` reorders that set; ``facets`` counts values over it, or over every image the filter
matches when no cutoff applies (then every matching image is a result). All of it is computed
from the one candidate list the search returned: no second search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imagesearch.index.metadata import MetadataTable
from imagesearch.search.autocut import auto_cutoff
from imagesearch.search.facets import Facet, facet_counts
from imagesearch.search.ranking import Ranked, RankOptions, VectorLookup, collapse
from imagesearch.search.sorting import parse_sort, sort_ranked

Facets = dict[str, Facet]  # field -> its counts, as search/facets.py returns them


@dataclass(frozen=True)
class Refined:
    items: list[Ranked]  # the relevant set, in its final order
    facets: Facets | None


@dataclass(frozen=True)
class Refiner:
    """Refinement over one index's metadata; ``vectors`` and ``threshold`` serve dedupe."""

    table: MetadataTable
    vectors: VectorLookup
    threshold: float
    cutoff_window: int = 100  # candidates the adaptive cutoff looks at (IMAGESEARCH_CUTOFF_WINDOW)

    def check(self, options: RankOptions) -> None:
        """InvalidQueryError for a sort or facet naming no field of this index (before searching)."""
        if options.sort is not None:
            parse_sort(options.sort, self.table.fields)
        if options.facets:
            facet_counts(self.table, np.zeros(0, dtype=np.int64), options.facets)

    def refine(
        self, items: list[Ranked], options: RankOptions, matching: npt.NDArray[np.int64] | None
    ) -> Refined:
        """``items``: the candidates in score order, ``min_score`` applied; ``matching``: the ids
        the filter matches (None: every image), which facets count when no cutoff applies."""
        if options.cutoff == "auto" and items:
            # The drop is looked for among the best ``cutoff_window``: over a whole collection's
            # long tail every gap looks small (evaluation/cutoff.py measures the same window).
            items = items[: self.cutoff_window]
            items = items[: auto_cutoff(np.array([item.score for item in items], dtype=np.float32))]
        if options.dedupe:
            items = collapse(items, self.vectors, self.threshold)
        facets = self._facets(items, options, matching) if options.facets else None
        if options.sort is not None:
            items = sort_ranked(items, self.table, parse_sort(options.sort, self.table.fields))
        return Refined(items, facets)

    def facets_of(self, options: RankOptions, matching: npt.NDArray[np.int64] | None) -> Facets | None:
        """Facets over every matching image (the case without a cutoff)."""
        if not options.facets:
            return None
        rows = matching if matching is not None else np.arange(self.table.rows, dtype=np.int64)
        return facet_counts(self.table, rows, options.facets)

    def _facets(
        self, items: list[Ranked], options: RankOptions, matching: npt.NDArray[np.int64] | None
    ) -> Facets | None:
        if options.cutoff is None and options.min_score is None:
            return self.facets_of(options, matching)
        rows = np.array([i for item in items for i in (item.id, *item.duplicates)], dtype=np.int64)
        return facet_counts(self.table, rows, options.facets)
