"""Domain errors. Core modules raise these; only the API layer maps them to HTTP statuses."""

from __future__ import annotations


class ImageSearchError(Exception):
    """Base class: the message is written for the person who sees it."""


class InvalidQueryError(ImageSearchError):
    """A search request that cannot be answered as asked (empty query, bad id, ...)."""


class InvalidImageError(ImageSearchError):
    """Bytes that are not a decodable image (empty, truncated, wrong format)."""


class ImageTooLargeError(ImageSearchError):
    """An image over the byte or pixel limit (includes decompression bombs)."""


class FetchError(ImageSearchError):
    """An image source that could not be read (404, timeout, missing file)."""


class SourceError(ImageSearchError):
    """A systemic problem with the pipeline's input (missing column, empty source)."""


class EncoderUnavailableError(ImageSearchError):
    """The configured model or its weights cannot be loaded."""


class WeightsUnavailableError(EncoderUnavailableError):
    """Valid settings, but the CLIP weights cannot be obtained here (no hub, no cache, no file)."""


class IndexLoadError(ImageSearchError):
    """Index, metadata and manifest are missing, inconsistent, tampered or do not fit the encoder."""


class IndexBuildError(ImageSearchError):
    """An index that cannot be built as asked (bad factory string, too few vectors to train)."""


class FilterError(InvalidQueryError):
    """A metadata filter that cannot be parsed or does not fit the fields (search/filters.py).

    ``position`` is the 0-based character offset of the offending part of the filter, or None when
    the whole filter is at fault."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position
