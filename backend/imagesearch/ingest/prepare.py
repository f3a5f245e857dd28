"""The step both engines run for every source: fetch, decode, and the model's preprocessing.

A failure is returned as a message ("ErrorType: message"), never raised: one bad image must not
stop a long run, and the local and Ray engines must report it in the same words. The run key
that names a run's checkpoints is built here too, the same way for both engines.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from imagesearch.config import Settings
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import ImageSearchError
from imagesearch.images import decode_image, draft_min_side
from imagesearch.index.metadata import datetime_to_ms
from imagesearch.ingest.facts import file_facts, read_image_facts
from imagesearch.ingest.fetch import Fetcher
from imagesearch.ingest.ocr_stage import OcrStage
from imagesearch.vectors import FloatArray

logger = logging.getLogger(__name__)


class SourcePreparer:
    """``prepare(source) -> (pixels, "", facts)`` or ``(None, "ErrorType: message", "")``;
    thread-safe. ``facts`` is the image's facts (size, EXIF; a local file's size and date) as JSON,
    read from the fetched bytes' header, before decoding (ingest/facts.py)."""

    def __init__(
        self, settings: Settings, encoder: Encoder, fetcher: Fetcher, ocr: OcrStage | None = None
    ) -> None:
        self._encoder = encoder
        self._fetcher = fetcher
        self._ocr = ocr
        self._max_pixels = settings.max_image_pixels
        # Opt-in reduced-scale JPEG decode (IMAGESEARCH_JPEG_DRAFT_FACTOR), as for queries.
        self._min_side = draft_min_side(settings.jpeg_draft_factor, encoder.image_size)

    def __call__(self, source: str) -> tuple[FloatArray | None, str, str]:
        try:
            data = self._fetcher.fetch(source)
            image = decode_image(data, self._max_pixels, self._min_side)
            facts = source_facts(source, data)
            if self._ocr is not None:
                facts.update(self._ocr.read(image))
            return self._encoder.prepare(image), "", dumps_facts(facts)
        except ImageSearchError as exc:
            return None, describe_failure(exc), ""
        except Exception as exc:  # one odd file must not stop a long run; it is reported
            logger.warning("unexpected error on %s: %r", source, exc)
            return None, describe_failure(exc), ""


def source_facts(source: str, data: bytes) -> dict[str, Any]:
    """The facts of one fetched image: from its header, and from the file for a local source."""
    facts = read_image_facts(data)
    parsed = urlparse(source)
    if parsed.scheme.lower() not in ("http", "https"):
        path = Path(unquote(parsed.path)) if parsed.scheme.lower() == "file" else Path(source)
        facts.update(file_facts(path))
    return facts


def dumps_facts(facts: dict[str, Any]) -> str:
    """Facts as JSON for a checkpoint: datetimes as epoch milliseconds, as the table stores them."""
    return json.dumps({k: datetime_to_ms(v) if isinstance(v, datetime) else v for k, v in facts.items()})


def loads_facts(text: str) -> dict[str, Any] | None:
    return json.loads(text) if text else None


def describe_failure(exc: BaseException) -> str:
    """How a failed source is reported (pipeline_failures.csv, the report): "Type: message"."""
    return f"{type(exc).__name__}: {exc}"


def run_key(*parts: str) -> str:
    """A short stable name for a run (its encoder id, settings that change the result, sources)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]
