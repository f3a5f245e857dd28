"""Search service: text or image queries -> ranked hits over a loaded index. No FastAPI here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import faiss
import numpy as np

from imagesearch.config import Settings
from imagesearch.encoder import Encoder, FloatArray
from imagesearch.errors import IndexLoadError, InvalidQueryError
from imagesearch.images import decode_image
from imagesearch.index_store import IndexBundle, load_bundle
from imagesearch.query_cache import VectorCache


@dataclass(frozen=True)
class Hit:
    id: int
    score: float
    source: str

    @property
    def is_remote(self) -> bool:
        return urlparse(self.source).scheme.lower() in ("http", "https")


class Searcher:
    """Owns the encoder and the index; thread-safe for concurrent queries."""

    def __init__(self, settings: Settings, encoder: Encoder, bundle: IndexBundle) -> None:
        check_compatible(encoder, bundle)
        self.settings = settings
        self.encoder = encoder
        self.bundle = bundle
        self.text_cache = VectorCache(settings.text_cache_size)
        if settings.faiss_threads:
            # Process-wide: this process serves queries one vector at a time, and on 2 cores the
            # OpenMP hand-off for a 25k scan cost ~20 ms against ~3 ms on one thread.
            faiss.omp_set_num_threads(settings.faiss_threads)
        # Decode JPEG uploads at reduced scale, keeping JPEG_DRAFT_FACTOR x the model's input side.
        side = getattr(encoder, "image_size", None)
        self._min_side = settings.jpeg_draft_factor * side if settings.jpeg_draft_factor and side else None

    @classmethod
    def load(cls, settings: Settings, encoder: Encoder) -> Searcher:
        return cls(settings, encoder, load_bundle(settings))

    @property
    def size(self) -> int:
        return len(self.bundle.urls)

    def search_text(self, query: str, top_k: int) -> list[Hit]:
        text = " ".join(query.split())
        if not text:
            raise InvalidQueryError("the query is empty")
        if len(text) > self.settings.max_query_chars:
            raise InvalidQueryError(
                f"the query is {len(text)} characters; the limit is {self.settings.max_query_chars}"
            )
        key = (self.encoder.id, text)
        vector = self.text_cache.get(key)
        if vector is None:
            vector = self.encoder.encode_texts([text])
            self.text_cache.put(key, vector)
        return self.search_vectors(vector, top_k)

    def search_image(self, data: bytes, top_k: int) -> list[Hit]:
        """Decode, encode and search with image bytes; raises InvalidImageError/ImageTooLargeError."""
        image = decode_image(data, self.settings.max_image_pixels, self._min_side)
        return self.search_vectors(self.encoder.encode_images([image]), top_k)

    def search_vectors(self, queries: FloatArray, top_k: int) -> list[Hit]:
        """Rank the index against one (1, dim) unit query vector, best first."""
        if top_k < 1:
            raise InvalidQueryError("top_k must be at least 1")
        k = min(top_k, self.size)
        scores, ids = self.bundle.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return [
            Hit(id=int(i), score=float(s), source=self.bundle.urls[int(i)])
            for s, i in zip(scores[0], ids[0], strict=True)
            if i >= 0
        ]

    def local_path(self, image_id: int) -> Path:
        """The file behind an indexed local image; only ids in the index are served."""
        if not 0 <= image_id < self.size:
            raise InvalidQueryError(f"no image with id {image_id}")
        source = self.bundle.urls[image_id]
        parsed = urlparse(source)
        if parsed.scheme.lower() in ("http", "https"):
            raise InvalidQueryError(f"image {image_id} is remote: {source}")
        return Path(unquote(parsed.path)) if parsed.scheme.lower() == "file" else Path(source)


def check_compatible(encoder: Encoder, bundle: IndexBundle) -> None:
    """Refuse to serve an index built by another model: its vectors live in another space."""
    manifest = bundle.manifest
    if manifest.encoder_id != encoder.id:
        if manifest.fallback != encoder.fallback:
            raise IndexLoadError(_fallback_mismatch(manifest.encoder_id, manifest.fallback, encoder))
        raise IndexLoadError(
            f"the index was built with {manifest.encoder_id} but the API is configured with "
            f"{encoder.id}; set IMAGESEARCH_MODEL / IMAGESEARCH_PRETRAINED to match, or rebuild"
        )
    if bundle.index.d != encoder.dim:
        raise IndexLoadError(f"index dimension {bundle.index.d} != encoder dimension {encoder.dim}")


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
