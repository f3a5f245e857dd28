"""Query vectors: texts (cached), uploaded images (decoded), indexed images (their stored
vectors) and weighted combinations of them, each a unit row; and the checks of their inputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from imagesearch.config import Settings
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import ImageSearchError, InvalidQueryError
from imagesearch.images import decode_image, draft_min_side
from imagesearch.index.stored_vectors import StoredVectors
from imagesearch.search.caches import VectorCache
from imagesearch.search.query_terms import ONE_POSITIVE, QueryTerm, combine
from imagesearch.telemetry import stage
from imagesearch.vectors import FloatArray


@dataclass(frozen=True)
class Query:
    """A query ready to rank: its (1, dim) unit vector and the ids it must not return."""

    vector: FloatArray
    exclude: frozenset[int] = field(default_factory=frozenset)
    words: str = ""  # the query's own text, if any: which words of a result's OCR text it matched


class QueryVectors:
    """Turns query inputs into (n, dim) float32 unit vectors for one encoder and one index."""

    def __init__(
        self, settings: Settings, encoder: Encoder, stored: StoredVectors, check_id: Callable[[int], None]
    ) -> None:
        self.settings = settings
        self.encoder = encoder
        self.text_cache = VectorCache(settings.text_cache_size)
        self._stored = stored
        self.check_id = check_id  # InvalidQueryError for an id the index does not hold
        self._dim = encoder.dim
        # Decode JPEG uploads at reduced scale, keeping JPEG_DRAFT_FACTOR x the model's input side.
        self._min_side = draft_min_side(settings.jpeg_draft_factor, encoder.image_size)

    def texts(self, texts: Sequence[str]) -> FloatArray:
        """(n, dim) unit vectors; cached texts skip the encoder, the rest go in ONE encoder call."""
        cleaned = [self.clean_text(text) for text in texts]
        found = {text: self.text_cache.get((self.encoder.id, text)) for text in cleaned}
        missing = [text for text, vector in found.items() if vector is None]
        if missing:
            with stage("encode"):
                encoded = self.encoder.encode_texts(missing)
            for text, vector in zip(missing, encoded, strict=True):
                found[text] = vector[None, :]
                self.text_cache.put((self.encoder.id, text), vector[None, :])
        return np.concatenate([_row(found[text]) for text in cleaned])

    def images(self, images: Sequence[bytes]) -> FloatArray:
        """Decode every image, then encode all in ONE encoder call -> (n, dim)."""
        with stage("encode"):
            decoded = []
            for position, data in enumerate(images):
                try:
                    decoded.append(decode_image(data, self.settings.max_image_pixels, self._min_side))
                except ImageSearchError as exc:
                    raise _numbered(exc, position, len(images)) from exc
            return self.encoder.encode_images(decoded)

    def stored(self, image_ids: Sequence[int]) -> FloatArray:
        """The index's own vectors of indexed images (see stored_vectors for PQ indexes)."""
        for image_id in image_ids:
            self.check_id(image_id)
        return self._stored.get(list(image_ids))

    def combined(self, terms: Sequence[QueryTerm]) -> Query:
        """Weighted sum of the terms' unit vectors, re-normalised; image-id terms are excluded."""
        if not terms:
            raise InvalidQueryError("the query needs at least one term")
        if len(terms) > self.settings.max_query_terms:
            raise InvalidQueryError(f"{len(terms)} terms; the limit is {self.settings.max_query_terms}")
        if not any(term.weight > 0 for term in terms):
            raise InvalidQueryError(ONE_POSITIVE)
        vectors = self.term_vectors(terms)
        return Query(combine(vectors, [term.weight for term in terms]), excluded_ids(terms))

    def term_vectors(self, terms: Sequence[QueryTerm]) -> FloatArray:
        """One row per term, in order: all texts in one encoder call, all images in another."""
        rows = np.zeros((len(terms), self._dim), dtype=np.float32)
        groups: dict[str, list[int]] = {"text": [], "image_id": [], "image": []}
        for position, term in enumerate(terms):
            kind = "text" if term.text is not None else "image_id" if term.image_id is not None else "image"
            groups[kind].append(position)
        if groups["text"]:
            rows[groups["text"]] = self.texts([str(terms[i].text) for i in groups["text"]])
        if groups["image_id"]:
            ids = [int(terms[i].image_id or 0) for i in groups["image_id"]]
            rows[groups["image_id"]] = self.stored(ids)
        if groups["image"]:
            rows[groups["image"]] = self.images([terms[i].image or b"" for i in groups["image"]])
        return rows

    def clean_text(self, query: str) -> str:
        text = " ".join(query.split())
        if not text:
            raise InvalidQueryError("the query is empty")
        if len(text) > self.settings.max_query_chars:
            raise InvalidQueryError(
                f"the query is {len(text)} characters; the limit is {self.settings.max_query_chars}"
            )
        return text


def excluded_ids(terms: Sequence[QueryTerm]) -> frozenset[int]:
    """Images named by id are the query, not an answer: they never appear in the results."""
    return frozenset(term.image_id for term in terms if term.image_id is not None)


def _row(vector: FloatArray | None) -> FloatArray:
    assert vector is not None
    return np.asarray(vector, dtype=np.float32).reshape(1, -1)


def _numbered(exc: ImageSearchError, position: int, count: int) -> ImageSearchError:
    """The same error type, naming which of several images it is about."""
    return type(exc)(f"image {position + 1} of {count}: {exc}") if count > 1 else exc
