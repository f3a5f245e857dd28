"""Reading the text in an uploaded query image (``POST /search-by-image?read_text=…``).

The OCR engine is the one the pipeline uses (encoders/ocr.py), loaded on first use: an API that
never gets such a request never loads it. An engine that cannot load (package or libGL missing)
is the client's answer, not a crash: the request is refused with the reason.
"""

from __future__ import annotations

import threading

from imagesearch.config import Settings
from imagesearch.encoders.ocr import OcrEngine, load_ocr_for
from imagesearch.errors import EncoderUnavailableError, InvalidQueryError
from imagesearch.images import decode_image


class UploadTextReader:
    """``reader(image bytes) -> text``; thread-safe."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: OcrEngine | None = None
        self._lock = threading.Lock()

    def __call__(self, data: bytes) -> str:
        image = decode_image(data, self._settings.max_image_pixels)
        return self._load().read(image).text

    def _load(self) -> OcrEngine:
        with self._lock:
            if self._engine is None:
                try:
                    self._engine = load_ocr_for(self._settings)
                except EncoderUnavailableError as exc:
                    raise InvalidQueryError(f"this API cannot read text in images: {exc}") from exc
            return self._engine
