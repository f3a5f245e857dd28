"""Demo gallery builder: a fake Tux Paint / Scratch / PyPI layout made here, and the real one if installed."""

from __future__ import annotations

import csv
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from imagesearch.demo.gallery import (
    CSV_COLUMNS,
    RegistrySources,
    build_gallery,
    caption_from_name,
    collect_pypi,
    collect_tuxpaint,
    read_caption,
)
from imagesearch.ingest.sources import read_sources
from tools.demo_data import main
from tools.demo_sources import TUXPAINT_DIR, obtain_sources


def cutout(path: Path, size: int = 120, colour: tuple[int, int, int] = (200, 30, 30)) -> Path:
    """A transparent RGBA stamp with an opaque disc in the middle (like a Tux Paint cut-out)."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((size // 4, size // 4, 3 * size // 4, 3 * size // 4), fill=(*colour, 255))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def fake_tuxpaint(root: Path) -> Path:
    stamps = root / "stamps"
    cutout(stamps / "animals" / "mammals" / "cats" / "lion.png")
    (stamps / "animals" / "mammals" / "cats" / "lion.txt").write_text(
        "A lion.\nfr.utf8=Un lion.\n", encoding="utf-8"
    )
    cutout(stamps / "animals" / "mammals" / "cats" / "lion_mirror.png")  # a flip: skipped
    cutout(stamps / "household" / "teapot.png", colour=(30, 30, 200))
    (stamps / "household" / "teapot.txt").write_text("\ufeffA  teapot.\n", encoding="utf-8")
    cutout(stamps / "household" / "nocaption.png")
    cutout(stamps / "household" / "icon.png", size=16)  # too small to be a picture
    cutout(stamps / "symbols" / "alphabets" / "a.png")  # glyphs: skipped
    (stamps / "household" / "vector.svg").write_text("<svg/>", encoding="utf-8")
    return stamps


def fake_scratch(root: Path) -> Path:
    media = root / "Media"
    nature = media / "Backgrounds" / "Nature"
    nature.mkdir(parents=True)
    Image.new("RGB", (480, 360), (20, 90, 160)).save(nature / "lake.jpg")
    gif = Image.new("P", (100, 80), 0)
    gif.putpalette([255, 0, 255] + [0, 200, 0] * 255)
    ImageDraw.Draw(gif).rectangle((20, 20, 80, 60), fill=1)
    gif.save(media / "Backgrounds" / "Nature" / "night-city-with-street.gif", transparency=0)
    cutout(media / "Costumes" / "Animals" / "cat1-a.png")
    cutout(media / "Costumes" / "Animals" / "cat1-b.png")
    (media / "Costumes" / "Animals" / "Cat.sprite").write_bytes(b"not an image")
    return media


def read_rows(csv_path: Path) -> list[dict[str, str]]:
    with csv_path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_builds_images_and_csv_from_fake_debian_layout(tmp_path: Path) -> None:
    sources = RegistrySources(
        tuxpaint_dir=fake_tuxpaint(tmp_path / "tux"), scratch_media_dir=fake_scratch(tmp_path / "scratch")
    )
    report = build_gallery(tmp_path / "out", sources)

    rows = read_rows(report.csv_path)
    assert report.csv_path.name == "photos_url.csv"
    assert tuple(rows[0]) == CSV_COLUMNS
    by_name = {Path(row["url"]).name: row for row in rows}
    assert set(by_name) == {
        "lion.jpg",
        "teapot.jpg",
        "nocaption.jpg",
        "lake.jpg",
        "night-city-with-street.jpg",
        "cat1-a.jpg",
        "cat1-b.jpg",
    }
    lion_source = tmp_path / "tux" / "stamps" / "animals" / "mammals" / "cats" / "lion.png"
    assert lion_source.is_file()
    assert by_name["lion.jpg"] == {
        "url": by_name["lion.jpg"]["url"],
        "caption": "A lion.",
        "label": "animals/mammals",
        "origin": "tuxpaint",
        "package": "tuxpaint-stamps-default",
        "category": "animals",
        "licence": "GPL-2",
        "width": "120",
        "height": "120",
        "file_date": datetime.fromtimestamp(lion_source.stat().st_mtime, tz=UTC).date().isoformat(),
    }
    assert by_name["teapot.jpg"]["caption"] == "A teapot."  # BOM and double space cleaned
    assert by_name["teapot.jpg"]["label"] == "household"
    assert by_name["nocaption.jpg"]["caption"] == ""
    assert by_name["night-city-with-street.jpg"]["caption"] == "Night city with street."
    assert by_name["night-city-with-street.jpg"]["label"] == "backgrounds/nature"
    assert by_name["cat1-a.jpg"]["caption"] == "Cat."
    assert report.written == 7 and report.origins == {"tuxpaint": 3, "scratch": 4}
    for row in rows:
        path = Path(row["url"])
        assert path.is_absolute() and path.is_file() and str(path).startswith(str(tmp_path / "out"))
    # The CSV is a valid pipeline source: same images, same order.
    assert read_sources(report.csv_path) == [row["url"] for row in rows]


def test_transparent_cutouts_are_flattened_onto_white(tmp_path: Path) -> None:
    sources = RegistrySources(
        tuxpaint_dir=fake_tuxpaint(tmp_path / "tux"), scratch_media_dir=fake_scratch(tmp_path / "scratch")
    )
    out = build_gallery(tmp_path / "out", sources).out_dir
    lion = Image.open(next(out.rglob("lion.jpg")))
    assert lion.mode == "RGB"
    assert all(channel > 245 for channel in lion.getpixel((2, 2)))  # was transparent
    red, green, blue = lion.getpixel((60, 60))  # the opaque disc keeps its colour
    assert red > 150 and green < 80 and blue < 80
    gif = Image.open(next(out.rglob("night-city-with-street.jpg")))
    assert all(channel > 245 for channel in gif.getpixel((2, 2)))  # transparent palette index


def test_second_build_reuses_the_gallery_and_a_new_source_rebuilds(tmp_path: Path) -> None:
    tux = RegistrySources(tuxpaint_dir=fake_tuxpaint(tmp_path / "tux"))
    first = build_gallery(tmp_path / "out", tux)
    written = next((tmp_path / "out").rglob("lion.jpg")).stat().st_mtime_ns

    again = build_gallery(tmp_path / "out", tux)
    assert again.reused and again.written == first.written == 3
    assert next((tmp_path / "out").rglob("lion.jpg")).stat().st_mtime_ns == written

    both = RegistrySources(tuxpaint_dir=tux.tuxpaint_dir, scratch_media_dir=fake_scratch(tmp_path / "sc"))
    rebuilt = build_gallery(tmp_path / "out", both)
    assert not rebuilt.reused and rebuilt.written == 7


def test_pypi_fallback_layout(tmp_path: Path) -> None:
    extracted = tmp_path / "pypi"
    (extracted / "skimage" / "data").mkdir(parents=True)
    Image.new("RGB", (300, 200), (120, 80, 40)).save(extracted / "skimage" / "data" / "coffee.png")
    (extracted / "foolbox" / "data").mkdir(parents=True)
    Image.new("RGB", (224, 224), (10, 120, 40)).save(extracted / "foolbox" / "data" / "imagenet_00_243.jpg")
    entries = collect_pypi(extracted)
    assert [(e.caption, e.origin) for e in entries] == [
        ("A cup of coffee on a saucer.", "pypi:scikit-image"),
        ("", "pypi:foolbox"),
    ]
    report = build_gallery(tmp_path / "out", RegistrySources(pypi_dir=extracted))
    assert report.origins == {"pypi:scikit-image": 1, "pypi:foolbox": 1}


def test_no_source_at_all_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    sources = obtain_sources(tmp_path / "cache", install=False, debian=False)
    assert sources == RegistrySources()
    assert "PyPI fallback set" in caplog.text
    assert main([str(tmp_path / "out"), "--no-install", "--pypi-only"]) == 1


@pytest.mark.parametrize(
    ("stem", "caption"),
    [
        ("night-city-with-street", "Night city with street."),
        ("bedroom1", "Bedroom."),
        ("cat1-a", "Cat."),
        ("city-with-water2", "City with water."),
        ("boy4-walking-e", "Boy walking."),
        ("123", ""),
    ],
)
def test_caption_from_file_name(stem: str, caption: str) -> None:
    assert caption_from_name(stem) == caption


def test_read_caption_takes_the_english_first_line(tmp_path: Path) -> None:
    assert read_caption(tmp_path / "missing.txt") == ""
    (tmp_path / "a.txt").write_text("A red apple.\nde.utf8=Ein roter Apfel.\n", encoding="utf-8")
    assert read_caption(tmp_path / "a.txt") == "A red apple."


@pytest.mark.skipif(not TUXPAINT_DIR.is_dir(), reason="tuxpaint-stamps-default is not installed")
def test_real_tuxpaint_stamps_when_installed() -> None:
    entries = collect_tuxpaint(TUXPAINT_DIR)
    captions = {entry.caption for entry in entries}
    assert len(entries) > 500
    assert {"A lion.", "A teapot.", "A red apple.", "A fire truck."} <= captions
    assert sum(1 for entry in entries if entry.caption) > 0.9 * len(entries)
    assert all(not entry.label.startswith("symbols/alphabets") for entry in entries)
