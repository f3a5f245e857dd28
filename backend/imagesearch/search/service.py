"""Search service: text, image, combined and batch queries -> ranked pages. No FastAPI here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import faiss
import numpy as np
import numpy.typing as npt

from imagesearch import compute
from imagesearch.config import Settings
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import ImageSearchError, IndexLoadError, InvalidQueryError
from imagesearch.images import decode_image, draft_min_side
from imagesearch.index.manifest import Manifest
from imagesearch.index.store import IndexBundle, load_bundle
from imagesearch.index.stored_vectors import StoredVectors
from imagesearch.search.caches import LruCache, VectorCache
from imagesearch.search.hybrid import NO_CAPTIONS, CaptionSearch, HybridQuery
from imagesearch.search.query_terms import BATCH_POSITIVE, ONE_POSITIVE, QueryTerm, combine
from imagesearch.search.ranking import Candidates, Ranked, RankedPage, Ranker, RankOptions, TopK
from imagesearch.telemetry import stage
from imagesearch.vectors import FloatArray


@dataclass(frozen=True)
class Hit:
    id: int
    score: float
    source: str
    duplicates: tuple[int, ...] = ()
    caption: str | None = None

    @property
    def is_remote(self) -> bool:
        return urlparse(self.source).scheme.lower() in ("http", "https")


@dataclass(frozen=True)
class Page:
    hits: list[Hit]
    has_more: bool = False


@dataclass(frozen=True)
class Query:
    """A query ready to rank: its (1, dim) unit vector and the ids it must not return."""

    vector: FloatArray
    exclude: frozenset[int] = field(default_factory=frozenset)


class Searcher:
    """Owns the encoder and the index; thread-safe for concurrent queries."""

    def __init__(self, settings: Settings, encoder: Encoder, bundle: IndexBundle) -> None:
        check_compatible(encoder, bundle)
        self.settings = settings
        self.encoder = encoder
        self.bundle = bundle
        self.text_cache = VectorCache(settings.text_cache_size)
        # Whole pages of text searches: a repeated search skips the encoder and FAISS.
        self.page_cache: LruCache[tuple[str, RankOptions, float], Page] = LruCache(settings.result_cache_size)
        self.stored = StoredVectors(bundle.index)
        self.captions = CaptionSearch(bundle.captions, self.stored.get, settings.dedupe_threshold)
        # Decode JPEG uploads at reduced scale, keeping JPEG_DRAFT_FACTOR x the model's input side.
        self._min_side = draft_min_side(settings.jpeg_draft_factor, encoder.image_size)

    @classmethod
    def load(cls, settings: Settings, encoder: Encoder) -> Searcher:
        return cls(settings, encoder, load_bundle(settings))

    @property
    def size(self) -> int:
        return len(self.bundle.urls)

    @property
    def has_captions(self) -> bool:
        return self.captions.available

    # Simple entry points: the first page of a text / image / vector query.
    def search_text(self, query: str, top_k: int) -> list[Hit]:
        return self.rank(Query(self.text_vectors([query])), RankOptions(top_k)).hits

    def search_image(self, data: bytes, top_k: int) -> list[Hit]:
        """Decode, encode and search with image bytes; raises InvalidImageError/ImageTooLargeError."""
        return self.rank(Query(self.image_vectors([data])), RankOptions(top_k)).hits

    def search_vectors(self, queries: FloatArray, top_k: int) -> list[Hit]:
        """Rank the index against one (1, dim) unit query vector, best first."""
        return self.rank(Query(queries), RankOptions(top_k)).hits

    # Pages, as the API asks for them.
    def text_page(self, text: str, options: RankOptions, hybrid: float = 0.0) -> Page:
        self._check_hybrid(hybrid)
        key = (self._clean_text(text), options, hybrid)
        page = self.page_cache.get(key)
        if page is None:
            query = Query(self.text_vectors([text]))
            page = self._hybrid(query, key[0], options, hybrid) if hybrid > 0 else self.rank(query, options)
            self.page_cache.put(key, page)
        return page

    def cached_text_page(self, text: str, options: RankOptions, hybrid: float = 0.0) -> Page | None:
        """The page a previous identical text search returned (this index, this encoder), if kept."""
        return self.page_cache.get((self._clean_text(text), options, hybrid))

    def image_page(self, data: bytes, options: RankOptions) -> Page:
        return self.rank(Query(self.image_vectors([data])), options)

    def terms_page(self, terms: Sequence[QueryTerm], options: RankOptions, hybrid: float = 0.0) -> Page:
        """A combined query; ``hybrid`` matches the captions with its positive text terms."""
        self._check_hybrid(hybrid)
        words = " ".join(term.text for term in terms if term.text is not None and term.weight > 0)
        if hybrid > 0 and not words.strip():
            raise InvalidQueryError("hybrid search needs at least one text term with a positive weight")
        query = self.combined(terms)
        return self._hybrid(query, words, options, hybrid) if hybrid > 0 else self.rank(query, options)

    def batch_pages(self, terms: Sequence[QueryTerm], options: RankOptions) -> list[Page]:
        """One single-term query per term: texts in one encoder call, images in one, one FAISS call."""
        if len(terms) > self.settings.max_batch_queries:
            raise InvalidQueryError(f"{len(terms)} queries; the limit is {self.settings.max_batch_queries}")
        if any(term.weight <= 0 for term in terms):
            raise InvalidQueryError(BATCH_POSITIVE)
        vectors = self._term_vectors(terms)
        queries = [
            Query(combine(vectors[i : i + 1], [term.weight]), _excluded([term]))
            for i, term in enumerate(terms)
        ]
        return self.batch(queries, options)

    # Query vectors.
    def text_vectors(self, texts: Sequence[str]) -> FloatArray:
        """(n, dim) unit vectors; cached texts skip the encoder, the rest go in ONE encoder call."""
        cleaned = [self._clean_text(text) for text in texts]
        found = {text: self.text_cache.get((self.encoder.id, text)) for text in cleaned}
        missing = [text for text, vector in found.items() if vector is None]
        if missing:
            with stage("encode"):
                encoded = self.encoder.encode_texts(missing)
            for text, vector in zip(missing, encoded, strict=True):
                found[text] = vector[None, :]
                self.text_cache.put((self.encoder.id, text), vector[None, :])
        return np.concatenate([_row(found[text]) for text in cleaned])

    def image_vectors(self, images: Sequence[bytes]) -> FloatArray:
        """Decode every image, then encode all in ONE encoder call -> (n, dim)."""
        with stage("encode"):
            decoded = []
            for position, data in enumerate(images):
                try:
                    decoded.append(decode_image(data, self.settings.max_image_pixels, self._min_side))
                except ImageSearchError as exc:
                    raise _numbered(exc, position, len(images)) from exc
            return self.encoder.encode_images(decoded)

    def stored_vectors(self, image_ids: Sequence[int]) -> FloatArray:
        """The index's own vectors of indexed images (see stored_vectors for PQ indexes)."""
        for image_id in image_ids:
            self.check_id(image_id)
        return self.stored.get(list(image_ids))

    def combined(self, terms: Sequence[QueryTerm]) -> Query:
        """Weighted sum of the terms' unit vectors, re-normalised; image-id terms are excluded."""
        if not terms:
            raise InvalidQueryError("the query needs at least one term")
        if len(terms) > self.settings.max_query_terms:
            raise InvalidQueryError(f"{len(terms)} terms; the limit is {self.settings.max_query_terms}")
        if not any(term.weight > 0 for term in terms):
            raise InvalidQueryError(ONE_POSITIVE)
        vectors = self._term_vectors(terms)
        return Query(combine(vectors, [term.weight for term in terms]), _excluded(terms))

    def _term_vectors(self, terms: Sequence[QueryTerm]) -> FloatArray:
        """One row per term, in order: all texts in one encoder call, all images in another."""
        rows = np.zeros((len(terms), self.bundle.index.d), dtype=np.float32)
        groups: dict[str, list[int]] = {"text": [], "image_id": [], "image": []}
        for position, term in enumerate(terms):
            kind = "text" if term.text is not None else "image_id" if term.image_id is not None else "image"
            groups[kind].append(position)
        if groups["text"]:
            rows[groups["text"]] = self.text_vectors([str(terms[i].text) for i in groups["text"]])
        if groups["image_id"]:
            ids = [int(terms[i].image_id or 0) for i in groups["image_id"]]
            rows[groups["image_id"]] = self.stored_vectors(ids)
        if groups["image"]:
            rows[groups["image"]] = self.image_vectors([terms[i].image or b"" for i in groups["image"]])
        return rows

    # Ranking.
    def rank(self, query: Query, options: RankOptions) -> Page:
        """One page of the stable order (score desc, id asc) for one query."""
        if options.top_k < 1:
            raise InvalidQueryError("top_k must be at least 1")
        if self.size == 0:
            return Page([])
        return self._page(self._ranker(query.exclude).rank(self._top_k(query.vector), options))

    def similar(self, image_id: int, options: RankOptions) -> Page:
        """Neighbours of an indexed image from its stored vector, the image itself excluded."""
        return self.rank(Query(self.stored_vectors([image_id]), frozenset({image_id})), options)

    def batch(self, queries: Sequence[Query], options: RankOptions) -> list[Page]:
        """First pages of many queries with ONE FAISS call (a row whose cut falls inside a tie of
        equal scores is re-fetched alone, which exact duplicates in the index can cause)."""
        if self.size == 0 or not queries:
            return [Page([]) for _ in queries]
        rankers = [self._ranker(query.exclude) for query in queries]
        k = max(ranker.first_k(options) for ranker in rankers)
        fetched = self._search(np.concatenate([query.vector for query in queries]), k)
        return [
            self._page(ranker.rank(self._top_k(query.vector), options, first))
            for query, ranker, first in zip(queries, rankers, fetched, strict=True)
        ]

    def _top_k(self, vector: FloatArray) -> TopK:
        return lambda k: self._search(vector, k)[0]

    def _check_hybrid(self, weight: float) -> None:
        if weight > 0 and not self.captions.available:
            raise InvalidQueryError(NO_CAPTIONS)

    def _hybrid(self, query: Query, text: str, options: RankOptions, weight: float) -> Page:
        window = min(self.size, self.settings.max_offset + self.settings.max_top_k + 1)
        dense = self._search(query.vector, window)[0]
        hybrid = HybridQuery(text=text, vector=query.vector, weight=weight, exclude=query.exclude)
        return self._page(self.captions.rank(hybrid, dense, options))

    def _ranker(self, exclude: frozenset[int]) -> Ranker:
        return Ranker(self.size, self.stored.get, self.settings.dedupe_threshold, exclude)

    def _search(self, vectors: FloatArray, k: int) -> list[Candidates]:
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
        threads = self.settings.faiss_threads
        if not threads:
            return self.bundle.index.search(query, k)  # type: ignore[no-any-return]
        previous = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(threads)
        try:
            return self.bundle.index.search(query, k)  # type: ignore[no-any-return]
        finally:
            faiss.omp_set_num_threads(previous)

    def _page(self, page: RankedPage) -> Page:
        with stage("metadata"):
            return Page([self._hit(item) for item in page.items], page.has_more)

    def _hit(self, item: Ranked) -> Hit:
        captions = self.bundle.captions
        return Hit(
            id=item.id,
            score=item.score,
            source=self.bundle.urls[item.id],
            duplicates=item.duplicates,
            caption=(captions[item.id] or None) if captions is not None else None,
        )

    # Validation and files.
    def check_id(self, image_id: int) -> None:
        if not 0 <= image_id < self.size:
            raise InvalidQueryError(f"no image with id {image_id} (the index has ids 0..{self.size - 1})")

    def _clean_text(self, query: str) -> str:
        text = " ".join(query.split())
        if not text:
            raise InvalidQueryError("the query is empty")
        if len(text) > self.settings.max_query_chars:
            raise InvalidQueryError(
                f"the query is {len(text)} characters; the limit is {self.settings.max_query_chars}"
            )
        return text

    def local_path(self, image_id: int) -> Path:
        """The file behind an indexed local image; only ids in the index are served."""
        self.check_id(image_id)
        source = self.bundle.urls[image_id]
        parsed = urlparse(source)
        if parsed.scheme.lower() in ("http", "https"):
            raise InvalidQueryError(f"image {image_id} is remote: {source}")
        return Path(unquote(parsed.path)) if parsed.scheme.lower() == "file" else Path(source)


def _excluded(terms: Sequence[QueryTerm]) -> frozenset[int]:
    """Images named by id are the query, not an answer: they never appear in the results."""
    return frozenset(term.image_id for term in terms if term.image_id is not None)


def _row(vector: FloatArray | None) -> FloatArray:
    assert vector is not None
    return np.asarray(vector, dtype=np.float32).reshape(1, -1)


def _numbered(exc: ImageSearchError, position: int, count: int) -> ImageSearchError:
    """The same error type, naming which of several images it is about."""
    return type(exc)(f"image {position + 1} of {count}: {exc}") if count > 1 else exc


def check_compatible(encoder: Encoder, bundle: IndexBundle) -> None:
    """Refuse to serve an index built by another model: its vectors live in another space."""
    manifest = bundle.manifest
    if manifest.encoder_id != encoder.id:
        if manifest.fallback != encoder.fallback:
            raise IndexLoadError(_fallback_mismatch(manifest.encoder_id, manifest.fallback, encoder))
        if not manifest.activation and encoder.id.startswith(f"{manifest.encoder_id}:"):
            raise IndexLoadError(_activation_mismatch(manifest, encoder))
        raise IndexLoadError(
            f"the index was built with {manifest.encoder_id} but the API is configured with "
            f"{encoder.id}; set IMAGESEARCH_MODEL / IMAGESEARCH_PRETRAINED to match, or rebuild"
        )
    if bundle.index.d != encoder.dim:
        raise IndexLoadError(f"index dimension {bundle.index.d} != encoder dimension {encoder.dim}")


def _activation_mismatch(manifest: Manifest, encoder: Encoder) -> str:
    """An index from before the activation followed the weights: same names, another network."""
    return (
        f"the index was built with {manifest.encoder_id}, which an earlier version built with plain "
        f"GELU although the weights {manifest.pretrained!r} were trained with QuickGELU (open_clip only "
        f"warned), so its vectors are not the model's; this process serves {encoder.id}. Rebuild the "
        f"index: `python run_pipeline.py {manifest.source or 'SOURCE'} --data-dir DATA_DIR` (or "
        "`make index SOURCE=...`; `make demo` rebuilds the demo index by itself)"
    )


def _fallback_mismatch(index_encoder: str, index_fallback: bool, encoder: Encoder) -> str:
    """CLIP and the offline fallback embed into different spaces: say which is which and the fix."""
    built = f"the offline fallback encoder ({index_encoder})" if index_fallback else f"CLIP ({index_encoder})"
    serving = f"the offline fallback encoder ({encoder.id})" if encoder.fallback else f"CLIP ({encoder.id})"
    force = "fallback" if index_fallback else "clip"
    return (
        f"the index was built with {built} but this process loaded {serving}; vectors of one "
        f"cannot be searched with the other. Rebuild the index with the encoder you want to "
        f"serve, or set IMAGESEARCH_ENCODER={force} to serve this index as it is"
    )
