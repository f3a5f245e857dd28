"""Words inside images, end to end: real photos with signs drawn on them, indexed with --ocr (the
real RapidOCR engine), then found over HTTP by their words, filtered by has_text, and matched by
an uploaded photo of the same words. CLIP has random weights here, so every assertion is about
the lexical channel, whose inputs (the words drawn) are known exactly."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image
from support.photos import photo_set
from support.servers import Server, serving
from support.text_images import INSTALL_HINT, TextStyle, draw_text, fonts_available
from support.tiny import tiny_settings

from imagesearch.config import Settings
from imagesearch.encoders.protocol import Encoder
from imagesearch.index.store import load_bundle
from imagesearch.ingest.pipeline import PipelineOptions, PipelineReport, run_pipeline

SIGNS = {
    3: ["PHARMACY", "OPEN 24 HOURS"],
    7: ["BAKERY", "FRESH BREAD"],
    11: ["MAIN STREET"],
}
COUNT = 16


@dataclass(frozen=True)
class OcrIndex:
    settings: Settings
    files: list[Path]
    spare: Path  # a real photo that is not indexed
    source: Path
    report: PipelineReport


def signed(photo: Path, lines: list[str], target: Path) -> Path:
    with Image.open(photo) as image:
        picture = image.convert("RGB")
    picture.thumbnail((900, 900))
    style = TextStyle(size=max(28, picture.width // 14))
    draw_text(picture, lines, style, (picture.width // 10, picture.height // 8)).save(target, quality=92)
    return target


@pytest.fixture(scope="module")
def ocr_index(
    tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path_factory: pytest.TempPathFactory
) -> OcrIndex:
    if not fonts_available():
        pytest.fail(INSTALL_HINT + " (make test installs it: make ocr-libs)")
    root = tmp_path_factory.mktemp("ocr")
    photos = photo_set(root / "photos", COUNT + 1)
    (root / "images").mkdir()
    files = [
        signed(photo, SIGNS[n], root / "images" / f"{n:02d}.jpg") if n in SIGNS else photo
        for n, photo in enumerate(photos[:COUNT])
    ]
    source = root / "list.txt"
    source.write_text("\n".join(str(file) for file in files) + "\n")
    settings = tiny_settings(tiny_checkpoint, root / "data", batch_size=4, ocr=True)
    report = run_pipeline(settings, PipelineOptions(source=source, progress=False), tiny_encoder)
    return OcrIndex(settings, files, photos[COUNT], source, report)


@pytest.fixture(scope="module")
def api(ocr_index: OcrIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(ocr_index.settings, tmp_path_factory.mktemp("logs") / "api.log") as server:
        yield server


def test_the_text_is_stored_with_its_image_and_reported(ocr_index: OcrIndex) -> None:
    bundle = load_bundle(ocr_index.settings)
    assert bundle.manifest.ocr_engine.startswith("rapidocr-onnxruntime:")
    assert bundle.table.fields["has_text"] == "boolean" and bundle.table.fields["ocr_text"] == "string"
    for n in range(COUNT):
        row = bundle.table.row(n)
        if n in SIGNS:
            # The engine may read a line's words without spaces ("MAINSTREET"): compare without them.
            read = "".join(str(row["ocr_text"]).upper().split())
            assert row["has_text"] is True and all("".join(line.split()) in read for line in SIGNS[n])
    # The summary says how long OCR took and in how many images it found text.
    summary = ocr_index.report.summary()
    with_text = ocr_index.report.ocr_images_with_text
    assert with_text is not None and with_text >= len(SIGNS)
    assert "OCR" in summary and f"text in {with_text} images" in summary


def search(api: Server, query: str, **params: object) -> dict:
    response = httpx.get(f"{api.url}/search", params={"query": query, **params}, timeout=60)
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize(
    ("query", "n"), [("pharmacy open 24 hours", 3), ("fresh bread", 7), ("main street", 11)]
)
def test_a_word_query_finds_the_image_with_those_words(api: Server, query: str, n: int) -> None:
    body = search(api, query, hybrid=0.5, top_k=5)
    first = body["results"][0]
    assert first["id"] == n
    matched = "".join(first["matched_words"]).upper()  # a joined "FRESHBREAD" counts for both words
    assert matched and all(word in matched for word in query.upper().split() if word != "24")
    assert first["ocr_text"] and first["metadata"]["has_text"] is True


def test_the_has_text_filter_keeps_images_with_text(api: Server, ocr_index: OcrIndex) -> None:
    bundle = load_bundle(ocr_index.settings)
    with_text = {n for n in range(COUNT) if bundle.table.row(n).get("has_text")}
    body = search(api, "a photo", filter="has_text = true", top_k=COUNT, facets="has_text")
    assert {r["id"] for r in body["results"]} == with_text >= set(SIGNS)
    counts = {b.get("value"): b["count"] for b in body["facets"]["has_text"]["buckets"]}
    assert counts == {True: len(with_text)}


def test_an_uploaded_photo_of_the_words_finds_the_indexed_sign(
    api: Server, ocr_index: OcrIndex, tmp_path: Path
) -> None:
    # Another photo, the same words: only the text can connect them.
    other = signed(ocr_index.spare, SIGNS[7], tmp_path / "query.jpg")
    response = httpx.post(
        f"{api.url}/search-by-image",
        files={"file": ("query.jpg", other.read_bytes(), "image/jpeg")},
        params={"read_text": 0.5, "top_k": 3},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "BREAD" in body["query_text"].upper()
    assert body["results"][0]["id"] == 7


def test_text_search_needs_no_captions_once_ocr_text_exists(api: Server) -> None:
    health = httpx.get(f"{api.url}/health").json()
    assert health["captions"] is True and health["ocr_engine"].startswith("rapidocr")


def test_an_incremental_rerun_reuses_the_text(ocr_index: OcrIndex, tiny_encoder: Encoder) -> None:
    options = PipelineOptions(source=ocr_index.source, progress=False, incremental=True)
    again = run_pipeline(ocr_index.settings, options, tiny_encoder)
    assert again.stages.ocr == 0 and again.stages.encode == 0  # nothing read or encoded again
    before, after = ocr_index.report, load_bundle(ocr_index.settings)
    assert after.manifest.ocr_engine == before.manifest.ocr_engine
    assert after.table.row(3)["has_text"] is True


def test_without_ocr_the_text_goes_and_with_it_again_every_image_is_read(
    ocr_index: OcrIndex, tiny_encoder: Encoder
) -> None:
    """(Last: it rebuilds the module's index.) An index must not claim text it did not read."""
    options = PipelineOptions(source=ocr_index.source, progress=False, incremental=True)
    plain = ocr_index.settings.model_copy(update={"ocr": False})
    without = run_pipeline(plain, options, tiny_encoder)
    assert without.stages.encode == 0 and without.ocr_images_with_text is None  # vectors reused
    bundle = load_bundle(plain)
    assert bundle.manifest.ocr_engine == "" and not {"has_text", "ocr_text"} & set(bundle.table.fields)
    again = run_pipeline(ocr_index.settings, options, tiny_encoder)
    assert again.stages.ocr > 0 and again.ok == COUNT  # no text to reuse: every image read again
    assert load_bundle(ocr_index.settings).table.row(3)["has_text"] is True
