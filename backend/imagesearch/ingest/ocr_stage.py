"""OCR while indexing: each decoded image is read by the OCR engine on its own small thread pool.

The fetch/decode workers hand the image they decoded (decoded once, for the encoder and the OCR
alike) to ``ocr_workers`` OCR threads and wait for its text, so OCR never takes more threads than
its budget while the encoder keeps its own. What it reads becomes two image facts: ``has_text``
(always) and ``ocr_text`` (when there is any), stored with the vectors like the other facts.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PIL import Image

from imagesearch.config import Settings
from imagesearch.encoders.ocr import OcrEngine, load_ocr_for


@dataclass
class OcrTotals:
    seconds: float = 0.0  # summed over images
    with_text: int = 0
    timeouts: int = 0  # images whose budget ran out (counted as no text)


class OcrStage:
    """``read(image) -> facts``; thread-safe. ``close()`` ends its threads."""

    def __init__(self, engine: OcrEngine, workers: int) -> None:
        self.engine = engine
        self.totals = OcrTotals()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="ocr")

    @classmethod
    def load(cls, settings: Settings) -> OcrStage:
        return cls(load_ocr_for(settings), settings.ocr_workers)

    def read(self, image: Image.Image) -> dict[str, Any]:
        result = self._pool.submit(self.engine.read, image).result()
        text = result.text.strip()
        with self._lock:
            self.totals.seconds += result.seconds
            self.totals.with_text += bool(text)
            self.totals.timeouts += result.timed_out
        return {"has_text": bool(text), "ocr_text": text} if text else {"has_text": False}

    def close(self) -> None:
        self._pool.shutdown(wait=True)
