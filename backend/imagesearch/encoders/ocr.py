"""Reading the text in an image (OCR): ``OcrEngine``, ``OcrResult`` and ``load_ocr``.

The pipeline calls ``load_ocr(...)`` once and then ``engine.read(image)`` per decoded RGB image;
the text it returns is stored beside the vectors and matched lexically by the search layer.

Default engine, chosen by measurement (``bench/bench_ocr.py``, figures in ``bench/RESULTS.md``):
**RapidOCR** (``rapidocr-onnxruntime==1.4.4``: PP-OCRv4 detection + recognition, ONNX Runtime,
models inside the wheel). On shop-sign words drawn on real photos it recalls 71 % of the words
against Tesseract 5.3's 7 % (60 % against 3 % on packaged images with real text); its precision is
lower (82 % against 100 % of Tesseract's few words) and it reads nothing on text-free photos. It
needs no system package, and its detector gives a cheap "no text here" path: when it finds no
boxes, recognition is skipped. Tesseract (``engine="tesseract"``) is kept as a second engine
because it costs ~50 lines: it is the engine for machines that have Debian's ``tesseract-ocr`` but
not the wheel.

Bounded time per image:
- images whose shorter side is under ``MIN_SIDE`` px answer "" at once; a longer side over
  ``max_side`` is downscaled first (LANCZOS); very tall strips are padded to at most 1:``MAX_ASPECT``
  (the package pads wide ones itself; a tall one would be upscaled ~40x by its detector);
- RapidOCR: the deadline is checked between the stages (detection, direction, each batch of six
  recognised lines) and at most ``MAX_BOXES`` lines are read. A running ONNX Runtime call is not
  interrupted (a thread cannot be), so ``read`` may overrun ``timeout_s`` by one stage: one
  detection pass of a ``max_side`` image or one recognition batch (about a second and a tenth
  of one on one core here). A worker process would give a hard limit at the cost of a model copy
  and a respawn per timeout; the bounded overrun was judged enough for an indexing pipeline;
- Tesseract: pytesseract kills the tesseract process at the deadline (a hard limit).
A timed-out image reports ``timed_out=True`` and no text.

Thread safety: ``RapidOcrEngine.read`` may be called from several threads at once (ONNX Runtime
sessions are thread-safe and the wrapper keeps no state between calls; the package's detector
stores its pre-processing op on itself, which is identical for every image with its ``min`` limit
type). Each call uses ``threads`` intra-op threads. ``TesseractEngine`` runs a process per call.

This module imports no torch; the OCR packages are imported only by ``load_ocr``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol

import numpy as np
from PIL import Image

from imagesearch.config import Settings
from imagesearch.errors import EncoderUnavailableError
from imagesearch.images import to_rgb

logger = logging.getLogger(__name__)

MIN_SIDE = 16  # shorter side below this: no legible text, answer "" at once
MAX_ASPECT = 4  # tall strips are padded to at most height = MAX_ASPECT x width
MAX_BOXES = 200  # text lines read per image (reading order), bounds the recognition work
REC_BATCH = 6  # the package's recognition batch size (config.yaml: rec_batch_num)
ENGINES = ("auto", "rapidocr", "tesseract")


@dataclass(frozen=True)
class OcrResult:
    """What an engine read in one image."""

    text: str  # recognised lines joined with "\n", top-to-bottom, left-to-right; "" when none
    words: tuple[str, ...]
    seconds: float
    timed_out: bool = False  # the per-image budget ran out: counts as "no text"


class OcrEngine(Protocol):
    """What the pipeline needs from an OCR engine."""

    @property
    def id(self) -> str:
        """Engine, version, models and output-changing settings; recorded in the manifest
        (changing it invalidates stored OCR text)."""

    def read(self, image: Image.Image) -> OcrResult:
        """The text in ``image`` (any PIL mode; RGB as the pipeline decodes it). Never raises."""


def result_of(lines: list[str], started: float, timed_out: bool = False) -> OcrResult:
    """An ``OcrResult`` from recognised lines (empty when timed out)."""
    if timed_out:
        lines = []
    text = "\n".join(line.strip() for line in lines if line.strip())
    return OcrResult(text, tuple(text.split()), time.perf_counter() - started, timed_out)


def prepare_image(image: Image.Image, max_side: int) -> Image.Image | None:
    """The RGB image an engine reads: first frame, downscaled to ``max_side``, tall strips padded;
    None when it is too small to hold text or cannot be read."""
    try:
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        picture = to_rgb(image)
        width, height = picture.size
        if min(width, height) < MIN_SIDE:
            return None
        if max(width, height) > max_side:
            scale = max_side / max(width, height)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            picture = picture.resize(size, Image.Resampling.LANCZOS)
            width, height = picture.size
        if height > MAX_ASPECT * width:
            padded = Image.new("RGB", (-(-height // MAX_ASPECT), height), (255, 255, 255))
            padded.paste(picture, ((padded.width - width) // 2, 0))
            picture = padded
        return picture if min(picture.size) >= MIN_SIDE else None
    except Exception:  # a corrupt or exotic image is "no text", never a pipeline failure
        logger.debug("OCR could not prepare an image", exc_info=True)
        return None


class RapidOcrEngine:
    """PP-OCRv4 through ``rapidocr_onnxruntime``, stage by stage so a deadline can be checked."""

    def __init__(self, package: Any, settings: tuple[int, float, float, int]) -> None:
        threads, self._timeout_s, self._min_confidence, self._max_side = settings
        # Global thread settings are copied into the three sessions by the package.
        self._ocr = package.RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
        version = metadata.version("rapidocr-onnxruntime")
        self.id = f"rapidocr-onnxruntime:{version}:ppocrv4:side{self._max_side}:conf{self._min_confidence:g}"

    def read(self, image: Image.Image) -> OcrResult:
        started = time.perf_counter()
        picture = prepare_image(image, self._max_side)
        if picture is None:
            return result_of([], started)
        try:
            lines, timed_out = self._recognise(picture, started + self._timeout_s)
        except Exception:  # the package failing on one image is "no text" for that image
            logger.warning("RapidOCR failed on an image; recording no text", exc_info=True)
            return result_of([], started)
        return result_of(lines, started, timed_out)

    def _recognise(self, picture: Image.Image, deadline: float) -> tuple[list[str], bool]:
        """The package's own ``RapidOCR.__call__`` steps (main.py, 1.4.4), with the deadline checked
        between them; batches are formed exactly as its recogniser forms them, so the text is the
        same as a plain call's (tests/encoders/test_ocr.py checks it)."""
        ocr = self._ocr
        bgr = np.ascontiguousarray(np.asarray(picture)[:, :, ::-1])
        img, _, _ = ocr.preprocess(bgr)
        img, _ = ocr.maybe_add_letterbox(img, {})
        boxes, _ = ocr.auto_text_det(img)
        if boxes is None:  # the fast "no text here" path: no boxes, no recognition
            return [], False
        if time.perf_counter() > deadline:
            return [], True
        crops = ocr.get_crop_img_list(img, boxes[:MAX_BOXES])
        crops, _, _ = ocr.text_cls(crops)
        order = np.argsort(np.array([crop.shape[1] / float(crop.shape[0]) for crop in crops]))
        texts: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        for start in range(0, len(crops), REC_BATCH):
            if time.perf_counter() > deadline:
                return [], True
            batch = [int(index) for index in order[start : start + REC_BATCH]]
            results, _ = ocr.text_rec([crops[index] for index in batch])
            for index, (text, score, *_) in zip(batch, results, strict=True):
                texts[index] = (text, float(score))
        return [text for text, score in texts if score >= self._min_confidence and _legible(text)], False


class TesseractEngine:
    """Tesseract 5 through ``pytesseract``: words above the confidence, grouped into its lines."""

    def __init__(self, package: Any, settings: tuple[int, float, float, int]) -> None:
        _, self._timeout_s, self._min_confidence, self._max_side = settings
        self._tesseract = package
        version = package.get_tesseract_version()
        self.id = f"tesseract:{version}:eng:psm3:side{self._max_side}:conf{self._min_confidence:g}"

    def read(self, image: Image.Image) -> OcrResult:
        started = time.perf_counter()
        picture = prepare_image(image, self._max_side)
        if picture is None:
            return result_of([], started)
        try:
            data = self._tesseract.image_to_data(
                picture, lang="eng", config="--psm 3", output_type="dict", timeout=self._timeout_s
            )
        except RuntimeError as exc:  # pytesseract's "Tesseract process timeout"
            if "timeout" in str(exc).lower():
                return result_of([], started, timed_out=True)
            logger.warning("tesseract failed on an image; recording no text", exc_info=True)
            return result_of([], started)
        except Exception:
            logger.warning("tesseract failed on an image; recording no text", exc_info=True)
            return result_of([], started)
        lines: dict[tuple[int, int, int], list[str]] = {}
        for position, word in enumerate(data["text"]):
            if _legible(word) and float(data["conf"][position]) >= 100 * self._min_confidence:
                key = (data["block_num"][position], data["par_num"][position], data["line_num"][position])
                lines.setdefault(key, []).append(word.strip())
        return result_of([" ".join(words) for words in lines.values()], started)


def _legible(text: str) -> bool:
    """A line worth keeping has a letter or a digit: the detector also "reads" lone marks (?, ■)
    on drawings without text, which would make them has_text."""
    return any(character.isalnum() for character in text)


def load_ocr(
    engine: str = "auto",
    threads: int = 1,
    timeout_s: float = 10.0,
    min_confidence: float = 0.5,
    max_side: int = 1600,
) -> OcrEngine:
    """The OCR engine to use: ``rapidocr``, ``tesseract``, or ``auto`` (RapidOCR when installed,
    else Tesseract). Raises ``EncoderUnavailableError`` with an install hint when it cannot load."""
    if engine not in ENGINES:
        raise EncoderUnavailableError(f"unknown OCR engine {engine!r}; choose one of {', '.join(ENGINES)}")
    settings = (threads, timeout_s, min_confidence, max_side)
    if engine in ("auto", "rapidocr"):
        try:
            import rapidocr_onnxruntime
        except ImportError as exc:
            if engine == "rapidocr":
                raise EncoderUnavailableError(
                    f"OCR engine 'rapidocr' cannot load ({exc}): pip install rapidocr-onnxruntime==1.4.4 "
                    "(a dependency of the backend); its OpenCV needs libGL: "
                    "apt-get install libgl1 libglib2.0-0"
                ) from exc
        else:
            return RapidOcrEngine(rapidocr_onnxruntime, settings)
    try:
        import pytesseract

        return TesseractEngine(pytesseract, settings)
    except Exception as exc:  # ImportError, or pytesseract's TesseractNotFoundError
        raise EncoderUnavailableError(
            "no OCR engine can load: pip install rapidocr-onnxruntime==1.4.4 (recommended), or "
            "apt-get install tesseract-ocr tesseract-ocr-eng and pip install pytesseract==0.3.13"
        ) from exc


def load_ocr_for(settings: Settings) -> OcrEngine:
    """``load_ocr`` with the ``IMAGESEARCH_OCR_*`` settings (the pipeline and the API read alike)."""
    return load_ocr(
        settings.ocr_engine,
        settings.ocr_threads,
        settings.ocr_timeout_s,
        settings.ocr_min_confidence,
        settings.ocr_max_side,
    )
