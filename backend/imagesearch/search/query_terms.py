"""Combined queries: weighted text / indexed-image / uploaded-image terms -> one unit vector."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imagesearch.errors import ImageTooLargeError, InvalidImageError, InvalidQueryError
from imagesearch.vectors import FloatArray

# Below this norm the weighted sum is numerical noise: the terms cancel out.
MIN_NORM = 1e-4
_DATA_URL = re.compile(r"^data:[^,]*;base64,", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
TIMES, MINUS = "\u00d7", "\u2212"  # typographic x and minus, as people write formulas

# The rules of a query's terms, worded once: the API's request schemas check them on the way in
# (a 422 before any work), QueryTerm and the service again for callers without the API.
ONE_KIND = "a term needs exactly one of text, image_id, image_b64"
NONZERO_WEIGHT = "a term's weight must be a finite number other than 0"
ONE_POSITIVE = "at least one term needs a positive weight"
BATCH_POSITIVE = "a batch query's weight must be positive"


@dataclass(frozen=True)
class QueryTerm:
    """Exactly one of ``text`` / ``image_id`` / ``image`` (raw file bytes), with a weight."""

    text: str | None = None
    image_id: int | None = None
    image: bytes | None = None
    weight: float = 1.0

    def __post_init__(self) -> None:
        given = sum(value is not None for value in (self.text, self.image_id, self.image))
        if given != 1:
            raise InvalidQueryError(ONE_KIND)
        if self.weight == 0 or not np.isfinite(self.weight):
            raise InvalidQueryError(NONZERO_WEIGHT)


def decode_b64_image(data: str, max_bytes: int) -> bytes:
    """Base64 (optionally a ``data:...;base64,`` URL, whitespace allowed) -> the file bytes."""
    text = _SPACE.sub("", _DATA_URL.sub("", data, count=1))
    if len(text) // 4 * 3 > max_bytes + 2:  # refuse before decoding a huge string
        raise ImageTooLargeError(f"the image is over the {max_bytes:,}-byte limit")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidImageError(f"image_b64 is not valid base64: {exc}") from exc
    if len(raw) > max_bytes:
        raise ImageTooLargeError(f"the image is {len(raw):,} bytes; the limit is {max_bytes:,}")
    if not raw:
        raise InvalidImageError("image_b64 is empty")
    return raw


def combine(vectors: FloatArray, weights: Sequence[float]) -> FloatArray:
    """sum(weight_i * unit(vector_i)) re-normalised: (n, d) rows, n weights -> (1, d) float32.

    Raises InvalidQueryError when the terms cancel out (the sum has no direction).
    """
    rows = np.asarray(vectors, dtype=np.float64)
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    total = np.asarray(weights, dtype=np.float64) @ rows
    norm = float(np.linalg.norm(total))
    if norm < MIN_NORM * max(1.0, float(np.abs(weights).sum())):
        raise InvalidQueryError("the terms cancel each other out: the combined query has no direction")
    return np.ascontiguousarray((total / norm)[None, :], dtype=np.float32)


def describe(terms: Sequence[QueryTerm]) -> str:
    """A readable form, e.g. ``2×"golden retriever" + image #17 − "grass"``."""  # noqa: RUF002
    parts = []
    for position, term in enumerate(terms):
        magnitude = abs(term.weight)
        factor = "" if magnitude == 1 else f"{magnitude:g}{TIMES}"
        minus = term.weight < 0
        sign = (f"{MINUS} " if minus else "+ ") if position else (MINUS if minus else "")
        parts.append(f"{sign}{factor}{_label(term)}")
    return " ".join(parts)


def _label(term: QueryTerm) -> str:
    if term.text is not None:
        return f'"{term.text}"'
    if term.image_id is not None:
        return f"image #{term.image_id}"
    return "uploaded image"
