"""Real photo files for the reference tests: the demo gallery's photographs (installed from the
package registries by ``make demo-data``), plus some of them saved again in other formats, modes
and sizes, so that decoding and resizing are compared on what users actually index."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image

GALLERY_CSV = Path(__file__).resolve().parents[2] / "data" / "demo-gallery" / "photos_url.csv"

# (file name suffix, PIL save options, how the pixels are changed first); none keeps transparency,
# since the project flattens it onto white where OpenAI's reference drops it (a documented choice).
VARIANTS: tuple[tuple[str, str, dict[str, object]], ...] = (
    ("png", "RGB", {}),
    ("webp", "RGB", {"quality": 90}),
    ("bmp", "RGB", {}),
    ("tiff", "RGB", {}),
    ("gif", "P", {}),
    ("jpg", "L", {"quality": 92}),
    ("png", "L", {}),
)
SIZES = ((1600, 1200), (40, 30), (120, 600), (900, 180), (224, 224), (225, 223))


def gallery_rows() -> list[dict[str, str]]:
    if not GALLERY_CSV.is_file():
        pytest.fail(f"no demo gallery at {GALLERY_CSV}: run `make demo-data` (make test does it first)")
    with GALLERY_CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def photo_set(folder: Path, count: int) -> list[Path]:
    """``count`` real image files in ``folder``: gallery photos first (scratch's photographs are
    real scenes; tuxpaint's are cut-outs), every 7th one re-saved in another format or size."""
    rows = sorted(gallery_rows(), key=lambda row: (row["origin"] != "scratch", row["url"]))
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for position, row in enumerate(rows[:count]):
        source = Path(row["url"])
        variant = position // 7 if position % 7 == 3 else None
        if variant is None:
            files.append(source)
            continue
        with Image.open(source) as image:
            picture = image.convert("RGB")
        if variant < len(VARIANTS):
            suffix, mode, options = VARIANTS[variant]
        else:
            suffix, mode, options = "jpg", "RGB", {"quality": 88}
            picture = picture.resize(SIZES[(variant - len(VARIANTS)) % len(SIZES)], Image.Resampling.LANCZOS)
        target = folder / f"{position:04d}-{source.stem}.{suffix}"
        picture.convert(mode).save(target, **options)
        files.append(target)
    if len(files) < count:
        pytest.fail(f"the demo gallery has {len(files)} images; {count} are needed")
    return files


def write_source_csv(path: Path, files: list[Path]) -> Path:
    """A ``photos_url.csv``-shaped source: one ``url`` column of absolute paths."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["url"])
        writer.writerows([str(file)] for file in files)
    return path
