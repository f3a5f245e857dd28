"""Search service: text, image, combined and batch queries -> ranked pages. No FastAPI here.

The query vectors come from ``query_vectors``, the FAISS calls from ``index_search``, the
stable order and its pages from ``ranking``, caption matching from ``hybrid``; a ``Searcher``
wires them for one index and one encoder, and keeps the page cache of text searches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlparse

import numpy as np
import numpy.typing as npt

from imagesearch.config import Settings
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import InvalidQueryError
from imagesearch.index.metadata import JsonValue
from imagesearch.index.source_paths import display_root
from imagesearch.index.store import IndexBundle, load_bundle
from imagesearch.index.stored_vectors import StoredVectors
from imagesearch.search.caches import LruCache
from imagesearch.search.compatibility import check_compatible
from imagesearch.search.filtered import FilteredSearch
from imagesearch.search.filters import FilterEngine
from imagesearch.search.hybrid import NO_CAPTIONS, CaptionSearch, HybridQuery, lexical_texts
from imagesearch.search.index_search import IndexSearch
from imagesearch.search.lexical import matched_words, query_terms
from imagesearch.search.query_terms import BATCH_POSITIVE, QueryTerm, combine
from imagesearch.search.query_vectors import Query, QueryVectors, excluded_ids
from imagesearch.search.ranking import Ranked, RankedPage, Ranker, RankOptions, TopK, paginate, settled
from imagesearch.search.refine import Facets, Refiner
from imagesearch.telemetry import stage
from imagesearch.vectors import FloatArray

TextReader = Callable[[bytes], str]  # image bytes -> the text read in them (OCR)


@dataclass(frozen=True)
class Hit:
    id: int
    score: float
    source: str
    duplicates: tuple[int, ...] = ()
    caption: str | None = None
    metadata: dict[str, JsonValue] = field(default_factory=dict)
    ocr_text: str | None = None  # the text read in the image (indexed with --ocr)
    matched_words: tuple[str, ...] = ()  # words of ocr_text the query's text matched

    @property
    def is_remote(self) -> bool:
        return urlparse(self.source).scheme.lower() in ("http", "https")


@dataclass(frozen=True)
class Page:
    hits: list[Hit]
    has_more: bool = False
    facets: Facets | None = None  # with options.facets: field -> buckets
    total: int | None = None  # size of the relevant set, where the options made it known
    query_text: str | None = None  # the text read in an uploaded query image (read_text)


@dataclass(frozen=True)
class Scope:
    """The images one query may return: a filter's mask (None: all) and how many there are."""

    allowed: npt.NDArray[np.bool_] | None
    count: int

    def matching(self) -> npt.NDArray[np.int64] | None:
        return None if self.allowed is None else np.flatnonzero(self.allowed).astype(np.int64)


class Searcher:
    """Owns the encoder and the index; thread-safe for concurrent queries."""

    def __init__(
        self, settings: Settings, encoder: Encoder, bundle: IndexBundle, reader: TextReader | None = None
    ) -> None:
        check_compatible(encoder, bundle)
        self.settings = settings
        self.encoder = encoder
        self.bundle = bundle
        self.stored = StoredVectors(bundle.index)
        self.queries = QueryVectors(settings, encoder, self.stored, bundle.check_id)
        self.index_search = IndexSearch(bundle.index, settings.faiss_threads)
        # Whole pages of text searches: a repeated search skips the encoder and FAISS.
        self.page_cache: LruCache[tuple[str, RankOptions, float], Page] = LruCache(settings.result_cache_size)
        self.reader = reader  # reads the text in an uploaded image (read_text); None: not offered
        self.source_root = display_root(bundle.urls, bundle.manifest.source_root)  # what clients see
        texts = lexical_texts(bundle.captions, bundle.table)
        self.captions = CaptionSearch(texts, self.stored.get, settings.dedupe_threshold)
        self.filters = FilterEngine(bundle.table)
        self.filtered = FilteredSearch(bundle.index, settings.faiss_threads)
        self.refiner = Refiner(
            bundle.table, self.stored.get, settings.dedupe_threshold, settings.cutoff_window
        )

    @classmethod
    def load(cls, settings: Settings, encoder: Encoder) -> Searcher:
        return cls(settings, encoder, load_bundle(settings))

    @property
    def size(self) -> int:
        return len(self.bundle.urls)

    @property
    def has_captions(self) -> bool:
        """Hybrid search is available: the index has captions or text read by OCR."""
        return self.captions.available

    # Simple entry points: the first page of a text / image / vector query.
    def search_text(self, query: str, top_k: int) -> list[Hit]:
        return self.rank(Query(self.queries.texts([query])), RankOptions(top_k)).hits

    def search_image(self, data: bytes, top_k: int) -> list[Hit]:
        """Decode, encode and search with image bytes; raises InvalidImageError/ImageTooLargeError."""
        return self.rank(Query(self.queries.images([data])), RankOptions(top_k)).hits

    def search_vectors(self, queries: FloatArray, top_k: int) -> list[Hit]:
        """Rank the index against one (1, dim) unit query vector, best first."""
        return self.rank(Query(queries), RankOptions(top_k)).hits

    # Pages, as the API asks for them.
    def text_page(self, text: str, options: RankOptions, hybrid: float = 0.0) -> Page:
        self._check_hybrid(hybrid)
        key = (self.queries.clean_text(text), options, hybrid)
        page = self.page_cache.get(key)
        if page is None:
            query = Query(self.queries.texts([text]), words=key[0])
            page = self._hybrid(query, key[0], options, hybrid) if hybrid > 0 else self.rank(query, options)
            self.page_cache.put(key, page)
        return page

    def cached_text_page(self, text: str, options: RankOptions, hybrid: float = 0.0) -> Page | None:
        """The page a previous identical text search returned (this index, this encoder), if kept."""
        return self.page_cache.get((self.queries.clean_text(text), options, hybrid))

    def image_page(self, data: bytes, options: RankOptions, read_text: float = 0.0) -> Page:
        """Images like the uploaded one; with ``read_text`` > 0, the text read in it is also matched
        against the captions and OCR text, with that hybrid weight (no text read: the plain ranking)."""
        query = Query(self.queries.images([data]))
        if read_text <= 0:
            return self.rank(query, options)
        self._check_hybrid(read_text)
        if self.reader is None:
            raise InvalidQueryError("this API cannot read text in images (no OCR engine); use read_text=0")
        text = self.reader(data).strip()
        if not text:
            return replace(self.rank(query, options), query_text="")
        page = self._hybrid(replace(query, words=text), text, options, read_text)
        return replace(page, query_text=text)

    def terms_page(self, terms: Sequence[QueryTerm], options: RankOptions, hybrid: float = 0.0) -> Page:
        """A combined query; ``hybrid`` matches the captions with its positive text terms."""
        self._check_hybrid(hybrid)
        words = " ".join(term.text for term in terms if term.text is not None and term.weight > 0)
        if hybrid > 0 and not words.strip():
            raise InvalidQueryError("hybrid search needs at least one text term with a positive weight")
        query = replace(self.queries.combined(terms), words=words)
        return self._hybrid(query, words, options, hybrid) if hybrid > 0 else self.rank(query, options)

    def batch_pages(self, terms: Sequence[QueryTerm], options: RankOptions) -> list[Page]:
        """One single-term query per term: texts in one encoder call, images in one, one FAISS call."""
        if len(terms) > self.settings.max_batch_queries:
            raise InvalidQueryError(f"{len(terms)} queries; the limit is {self.settings.max_batch_queries}")
        if any(term.weight <= 0 for term in terms):
            raise InvalidQueryError(BATCH_POSITIVE)
        vectors = self.queries.term_vectors(terms)
        queries = [
            Query(combine(vectors[i : i + 1], [term.weight]), excluded_ids([term]))
            for i, term in enumerate(terms)
        ]
        return self.batch(queries, options)

    # Ranking.
    def rank(self, query: Query, options: RankOptions) -> Page:
        """One page of the stable order (score desc, id asc) for one query, within its filter."""
        if options.top_k < 1:
            raise InvalidQueryError("top_k must be at least 1")
        self.refiner.check(options)
        scope = self.scope(options.filter)
        if scope.count == 0:
            return Page([], facets=self.refiner.facets_of(options, scope.matching()), total=0)
        top_k = self._top_k(query.vector, scope)
        if options.needs_relevant_set:
            items, _ = settled(top_k(self._window(scope)), scope.count, query.exclude, options.min_score)
            return self._refined(items, options, scope, query.words)
        ranked = self._ranker(query.exclude, scope.count).rank(top_k, options)
        return self._page(ranked, self.refiner.facets_of(options, scope.matching()), words=query.words)

    def scope(self, filter_text: str | None) -> Scope:
        """The images a filter matches; raises FilterError (an InvalidQueryError) for a bad one."""
        if not filter_text:
            return Scope(None, self.size)
        allowed = self.filters.mask(filter_text)
        return Scope(allowed, int(np.count_nonzero(allowed)))

    def similar(self, image_id: int, options: RankOptions) -> Page:
        """Neighbours of an indexed image from its stored vector, the image itself excluded."""
        return self.rank(Query(self.queries.stored([image_id]), frozenset({image_id})), options)

    def batch(self, queries: Sequence[Query], options: RankOptions) -> list[Page]:
        """First pages of many queries with ONE FAISS call (a row whose cut falls inside a tie of
        equal scores is re-fetched alone, which exact duplicates in the index can cause). With a
        filter or a relevant-set option, each query is ranked on its own."""
        if self.size == 0 or not queries:
            return [Page([]) for _ in queries]
        if options.filter or options.needs_relevant_set or options.facets:
            return [self.rank(query, options) for query in queries]
        rankers = [self._ranker(query.exclude, self.size) for query in queries]
        k = max(ranker.first_k(options) for ranker in rankers)
        fetched = self.index_search.search(np.concatenate([query.vector for query in queries]), k)
        return [
            self._page(ranker.rank(self._top_k(query.vector, Scope(None, self.size)), options, first))
            for query, ranker, first in zip(queries, rankers, fetched, strict=True)
        ]

    def _top_k(self, vector: FloatArray, scope: Scope) -> TopK:
        allowed = scope.allowed
        if allowed is None:
            return lambda k: self.index_search.search(vector, k)[0]
        return lambda k: self.filtered.search(vector, allowed, k)

    def _window(self, scope: Scope) -> int:
        """Candidates that make up a relevant set: enough for the deepest page."""
        return min(scope.count, self.settings.max_offset + self.settings.max_top_k + 1)

    def _check_hybrid(self, weight: float) -> None:
        if weight > 0 and not self.captions.available:
            raise InvalidQueryError(NO_CAPTIONS)

    def _hybrid(self, query: Query, text: str, options: RankOptions, weight: float) -> Page:
        self.refiner.check(options)
        scope = self.scope(options.filter)
        if scope.count == 0:
            return Page([], facets=self.refiner.facets_of(options, scope.matching()), total=0)
        dense = self._top_k(query.vector, scope)(self._window(scope))
        hybrid = HybridQuery(text, query.vector, weight, query.exclude, scope.allowed)
        return self._refined(self.captions.ranked(hybrid, dense, options.min_score), options, scope, text)

    def _refined(self, items: list[Ranked], options: RankOptions, scope: Scope, words: str) -> Page:
        refined = self.refiner.refine(items, options, scope.matching())
        known = options.cutoff is not None or options.min_score is not None
        page = paginate(refined.items, options)
        return self._page(page, refined.facets, len(refined.items) if known else None, words)

    def _ranker(self, exclude: frozenset[int], ntotal: int) -> Ranker:
        return Ranker(ntotal, self.stored.get, self.settings.dedupe_threshold, exclude)

    def _page(
        self, page: RankedPage, facets: Facets | None = None, total: int | None = None, words: str = ""
    ) -> Page:
        terms = query_terms(words)
        with stage("metadata"):
            return Page([self._hit(item, terms) for item in page.items], page.has_more, facets, total)

    def _hit(self, item: Ranked, terms: frozenset[str]) -> Hit:
        captions = self.bundle.captions
        metadata = self.bundle.table.row(item.id)
        ocr_text = metadata.get("ocr_text")
        text = ocr_text if isinstance(ocr_text, str) else None
        return Hit(
            id=item.id,
            score=item.score,
            source=self.bundle.urls[item.id],
            duplicates=item.duplicates,
            caption=(captions[item.id] or None) if captions is not None else None,
            metadata=metadata,
            ocr_text=text,
            matched_words=tuple(matched_words(text or "", terms)),
        )
