"""The OCR engine (imagesearch/encoders/ocr.py) on real gallery photos with DejaVu text drawn on them,
checked against the OCR package's own plain API on the same pixels."""

from __future__ import annotations

import functools
import io
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imagesearch.encoders import ocr as ocr_module
from imagesearch.encoders.ocr import OcrEngine, load_ocr, prepare_image
from imagesearch.errors import EncoderUnavailableError
from tests.support.photos import GALLERY_CSV
from tests.support.text_images import INSTALL_HINT, TextStyle, draw_text, fonts_available

rapidocr = pytest.importorskip("rapidocr_onnxruntime", reason="pip install rapidocr-onnxruntime==1.4.4")
BACKGROUNDS = GALLERY_CSV.parent / "images" / "scratch" / "backgrounds"
# Scratch photographs with no text in them (looked at; RapidOCR reads nothing in them either).
TEXT_FREE = (
    "indoors/bedroom1.jpg",
    "indoors/clothing-store.jpg",
    "indoors/hall.jpg",
    "outdoors/brick-wall1.jpg",
)


def photo(name: str) -> Image.Image:
    path = BACKGROUNDS / name
    if not path.is_file():
        pytest.fail(f"no demo gallery photo {path}: run `make demo-data` (make test does it first)")
    with Image.open(path) as image:
        return image.convert("RGB")


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return load_ocr("rapidocr", threads=1)


@pytest.fixture(scope="module")
def sign() -> Image.Image:
    if not fonts_available():
        pytest.skip(INSTALL_HINT)
    picture = draw_text(photo("outdoors/brick-wall1.jpg"), ["PHARMACY", "OPEN"], TextStyle(size=44), (40, 40))
    return draw_text(
        picture, ["BAKERY"], TextStyle("serif-bold", 36, ink=(250, 250, 250), plate=None), (60, 250)
    )


@functools.cache
def plain_package() -> Any:
    return rapidocr.RapidOCR()


def package_text(image: Image.Image) -> str:
    """What rapidocr returns through its plain API for this PIL image, lines joined like ours."""
    result, _ = plain_package()(image)
    return "\n".join(line[1].strip() for line in result or [] if line[1].strip())


def test_reads_the_words_drawn_on_a_photo(engine: OcrEngine, sign: Image.Image) -> None:
    result = engine.read(sign)
    assert {"pharmacy", "open", "bakery"} <= {word.lower() for word in result.words}
    assert result.text.splitlines()[0].lower() == "pharmacy"  # reading order: top line first
    assert not result.timed_out and result.seconds > 0


@pytest.mark.parametrize("name", TEXT_FREE)
def test_no_text_on_text_free_photos(engine: OcrEngine, name: str) -> None:
    result = engine.read(photo(name))
    assert (result.text, result.words, result.timed_out) == ("", (), False)


def test_same_text_as_the_package_itself(engine: OcrEngine, sign: Image.Image) -> None:
    for image in (sign, photo("outdoors/parking-ramp.jpg"), photo("indoors/bedroom2.jpg")):
        assert engine.read(image).text == package_text(image)


def test_a_large_image_is_the_package_on_the_downscaled_image(sign: Image.Image) -> None:
    small = load_ocr("rapidocr", max_side=400)
    large = sign.resize((960, 720), Image.Resampling.BICUBIC)
    downscaled = prepare_image(large, 400)
    assert downscaled is not None and downscaled.size == (400, 300)
    assert small.read(large).text == package_text(downscaled)
    assert "pharmacy" in small.read(large).text.lower()


def test_the_confidence_filter_drops_lines(sign: Image.Image) -> None:
    assert load_ocr("rapidocr", min_confidence=1.01).read(sign).text == ""


def test_past_the_deadline_counts_as_no_text() -> None:
    if not fonts_available():
        pytest.skip(INSTALL_HINT)
    dense = Image.new("RGB", (1000, 1000), (255, 255, 255))
    for row in range(18):  # 36 lines: one detection pass, then 6 recognition batches
        for column in (0, 500):
            line = [f"MAIN ST {row * 2 + column // 500} OPEN 9-17"]
            dense = draw_text(dense, line, TextStyle("sans", 24, plate=None), (10 + column, 10 + row * 54))
    full = load_ocr("rapidocr", timeout_s=600).read(dense)
    assert not full.timed_out and full.text.count("MAIN") >= 30
    cut = load_ocr("rapidocr", timeout_s=0.05).read(dense)
    assert cut.timed_out and cut.text == "" and cut.words == ()
    # Detection ran to completion (it cannot be interrupted); no recognition batch started after it.
    assert cut.seconds < 0.8 * full.seconds


def test_a_tall_strip_is_padded_instead_of_blown_up(engine: OcrEngine) -> None:
    # The package alone upscales a 20x1600 strip to 736x58880 for its detector (~100 s here).
    strip = Image.new("RGB", (20, 1600), (255, 255, 255))
    prepared = prepare_image(strip, 1600)
    assert prepared is not None and prepared.size == (400, 1600)
    started = time.perf_counter()
    assert engine.read(strip).text == ""
    assert time.perf_counter() - started < 15.0


def odd_images(sign: Image.Image) -> list[Image.Image]:
    frames = io.BytesIO()
    sign.save(frames, "GIF", save_all=True, append_images=[photo("indoors/hall.jpg")], duration=100)
    truncated = io.BytesIO()
    sign.save(truncated, "PNG")
    return [
        Image.new("RGB", (1, 1)),
        Image.new("RGB", (12, 300)),
        sign.convert("CMYK"),
        sign.convert("LA"),
        sign.convert("P"),
        sign.convert("I;16"),
        sign.rotate(90, expand=True),
        Image.open(frames),
        Image.open(io.BytesIO(truncated.getvalue()[:2000])),  # decoding fails when read
    ]


def test_odd_inputs_never_raise(engine: OcrEngine, sign: Image.Image) -> None:
    results = [engine.read(image) for image in odd_images(sign)]
    assert [result.text for result in results[:2]] == ["", ""]
    assert "pharmacy" in results[2].text.lower() and "pharmacy" in results[7].text.lower()
    assert results[-1].text == ""
    assert all(isinstance(result.text, str) and not result.timed_out for result in results)


def test_read_is_thread_safe(engine: OcrEngine, sign: Image.Image) -> None:
    images = [sign, photo("outdoors/parking-ramp.jpg")] * 2
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = [result.text for result in pool.map(engine.read, images)]
    assert texts[:2] == texts[2:] and "pharmacy" in texts[0].lower() and "EXIT" in texts[1]


def test_engine_id_names_package_models_and_settings(engine: OcrEngine) -> None:
    assert engine.id == "rapidocr-onnxruntime:1.4.4:ppocrv4:side1600:conf0.5"


def test_unknown_or_missing_engine_has_an_install_hint(monkeypatch: Any) -> None:
    with pytest.raises(EncoderUnavailableError, match="unknown OCR engine"):
        load_ocr("easyocr")
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    with pytest.raises(EncoderUnavailableError, match="pip install rapidocr-onnxruntime"):
        load_ocr("rapidocr")


def test_importing_the_module_imports_neither_torch_nor_the_ocr_package() -> None:
    modules = "{'torch', 'rapidocr_onnxruntime'}"
    code = f"import sys, imagesearch.encoders.ocr; print(sorted({modules} & set(sys.modules)))"
    backend = Path(ocr_module.__file__).resolve().parents[2]
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=backend, capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"


def test_tesseract_reads_the_sign(sign: Image.Image) -> None:
    pytest.importorskip("pytesseract", reason="pip install pytesseract==0.3.13")
    try:
        tesseract = load_ocr("tesseract")
    except EncoderUnavailableError:
        pytest.skip("tesseract missing: apt-get install -y tesseract-ocr tesseract-ocr-eng")
    assert "pharmacy" in {word.lower() for word in tesseract.read(sign).words}
    assert tesseract.id.startswith("tesseract:5.")
    assert load_ocr("tesseract", timeout_s=0.01).read(sign).timed_out
