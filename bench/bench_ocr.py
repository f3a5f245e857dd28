"""OCR engines on real photos: word recall / precision and speed, the measurement behind ``ocr_engine``.

Three sets, all from the demo gallery's packaged images (Debian ``scratch`` and
``tuxpaint-stamps-default``, found on disk at run time; nothing generated is committed):
- rendered: shop-sign phrases drawn onto text-free Scratch photos in DejaVu Sans/Serif/Mono (bold
  and regular), 20-56 px, at 0, +-10, +-20, -30 degrees, dark on light, light on dark, low contrast
  and white straight on the photo; every choice is seeded;
- real: packaged images with text of their own, transcribed by hand in ``bench/ocr/real_text.tsv``;
- no text: the text-free photos themselves (any word read there is a false positive).
Words are compared case-insensitively with punctuation stripped ("2.50" -> "250"), as multisets.
Each engine runs one image at a time on one thread (``OMP_THREAD_LIMIT=1`` for Tesseract).
A last table reads the rendered set enlarged to 2400 px under several ``max_side`` caps.

    .venv/bin/python bench/bench_ocr.py [--rendered 48] [--out bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # Tesseract's OpenMP, before it is ever started

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))

from PIL import Image  # noqa: E402

from imagesearch.encoders.ocr import OcrEngine, load_ocr  # noqa: E402
from imagesearch.images import to_rgb  # noqa: E402
from tests.support.photos import GALLERY_CSV  # noqa: E402
from tests.support.text_images import FONTS, TextStyle, draw_text  # noqa: E402

IMAGES = GALLERY_CSV.parent / "images"
TRANSCRIPT = ROOT / "bench" / "ocr" / "real_text.tsv"
SEED = 20261201
# Scratch photographs with no text in them (looked at by hand): the backgrounds and the no-text set.
TEXT_FREE = tuple(
    f"scratch/backgrounds/{name}.jpg"
    for name in (
        "indoors/bedroom1",
        "indoors/clothing-store",
        "indoors/hall",
        "outdoors/brick-wall1",
        "outdoors/brick-wall2",
        "outdoors/boardwalk",
        "outdoors/brick-wall-and-stairs",
        "outdoors/berkeley-mural",
        "nature/forest",
        "nature/beach-malibu",
        "outdoors/city-with-water",
        "sports/baseball-field",
    )
)
PHRASES = (
    "PHARMACY|OPEN 24 HOURS",
    "BAKERY|FRESH BREAD",
    "MAIN STREET",
    "COFFEE 2.50",
    "SALE|50% OFF",
    "OPEN MON-FRI 9-17",
    "PIZZA PASTA",
    "12 MARCH 2024",
    "HOTEL|RECEPTION",
    "NO PARKING",
    "FISH & CHIPS 6.99",
    "Oak Avenue",
    "BUS STOP",
    "Bookshop",
    "CLOSED ON SUNDAY",
    "Soup of the day 4.20",
)
CONTRASTS = {
    "dark on light": ((20, 20, 20), (240, 240, 230)),
    "light on dark": ((245, 245, 245), (30, 40, 60)),
    "low contrast": ((110, 110, 110), (160, 160, 160)),
    "white on photo": ((255, 255, 255), None),
}
ANGLES = (0, 10, -10, 20, -20, -30)
SIZES = (20, 28, 40, 56)


@dataclass(frozen=True)
class Sample:
    image: Image.Image
    words: tuple[str, ...]
    condition: str  # e.g. "dark on light, 20 deg"


def tokens(text: str) -> list[str]:
    return [word for word in (re.sub(r"[^0-9a-z]", "", part) for part in text.lower().split()) if word]


def open_rgb(relative: str) -> Image.Image:
    with Image.open(IMAGES / relative) as image:
        return to_rgb(image).copy()


def rendered_set(count: int, scale: float = 1.0) -> list[Sample]:
    """``count`` photos with a phrase drawn on, every choice from a seeded generator."""
    samples = []
    for position in range(count):
        rng = random.Random(SEED + position)
        photo = open_rgb(rng.choice(TEXT_FREE))
        if scale != 1.0:
            photo = photo.resize(
                (round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS
            )
        phrase = PHRASES[position % len(PHRASES)]
        contrast = list(CONTRASTS)[position % len(CONTRASTS)]
        angle = ANGLES[(position // len(CONTRASTS)) % len(ANGLES)]
        ink, plate = CONTRASTS[contrast]
        style = TextStyle(rng.choice(sorted(FONTS)), round(rng.choice(SIZES) * scale), angle, ink, plate)
        at = (rng.randrange(0, photo.width // 3), rng.randrange(0, photo.height // 2))
        image = draw_text(photo, phrase.split("|"), style, at)
        samples.append(Sample(image, tuple(tokens(phrase.replace("|", " "))), f"{contrast}, {angle} deg"))
    return samples


def real_set() -> list[Sample]:
    rows = [
        line.split("\t") for line in TRANSCRIPT.read_text().splitlines() if line and not line.startswith("#")
    ]
    return [Sample(open_rgb(path), tuple(tokens(text)), "real") for path, text in rows]


def no_text_set() -> list[Sample]:
    return [Sample(open_rgb(path), (), "no text") for path in TEXT_FREE]


@dataclass
class Score:
    truth: int = 0
    found: int = 0
    predicted: int = 0
    seconds: float = 0.0
    images: int = 0
    timed_out: int = 0

    def add(self, truth: tuple[str, ...], text: str, seconds: float, timed_out: bool) -> None:
        predicted = Counter(tokens(text))
        self.truth += len(truth)
        self.found += sum((Counter(truth) & predicted).values())
        self.predicted += sum(predicted.values())
        self.seconds += seconds
        self.images += 1
        self.timed_out += timed_out

    def recall(self) -> str:
        return f"{self.found / self.truth:.1%}" if self.truth else "-"

    def precision(self) -> str:
        return f"{self.found / self.predicted:.1%}" if self.predicted else "-"


def score(engine: OcrEngine, samples: list[Sample], by_condition: dict[str, Score] | None = None) -> Score:
    total = Score()
    for sample in samples:
        result = engine.read(sample.image)
        total.add(sample.words, result.text, result.seconds, result.timed_out)
        if by_condition is not None:
            for part in sample.condition.split(", "):
                by_condition.setdefault(part, Score()).add(sample.words, result.text, result.seconds, False)
    return total


def engine_rows(engines: dict[str, OcrEngine], sets: dict[str, list[Sample]]) -> list[str]:
    rows = [
        "| engine | rendered recall | rendered precision | real recall | real precision | "
        "words read on no-text photos | s/image with text | s/image no text | images/s with / without text |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    conditions: dict[str, dict[str, Score]] = {}
    for name, engine in engines.items():
        conditions[name] = {}
        rendered = score(engine, sets["rendered"], conditions[name])
        real = score(engine, sets["real"])
        blank = score(engine, sets["no text"])
        with_text = (rendered.seconds + real.seconds) / (rendered.images + real.images)
        without = blank.seconds / blank.images
        rows.append(
            f"| {engine.id} | {rendered.recall()} | {rendered.precision()} | {real.recall()} | "
            f"{real.precision()} | {blank.predicted} | {with_text:.2f} | {without:.2f} | "
            f"{1 / with_text:.2f} / {1 / without:.2f} |"
        )
    rows += ["", "Word recall by condition (rendered set):", ""]
    parts = list(next(iter(conditions.values())))
    rows += ["| condition | " + " | ".join(engines) + " |", "|---|" + "---|" * len(engines)]
    for part in parts:
        rows.append(f"| {part} | " + " | ".join(conditions[name][part].recall() for name in engines) + " |")
    return rows


def downscale_rows(count: int) -> list[str]:
    large = rendered_set(count, scale=5.0)  # 2400 x 1800 photos, text 5x larger
    rows = [
        f"Downscale cost (RapidOCR, {count} rendered images enlarged to 2400 px):",
        "",
        "| max_side | word recall | s/image |",
        "|---|---|---|",
    ]
    for side in (960, 1280, 1600, 2400):
        result = score(load_ocr("rapidocr", max_side=side, timeout_s=600), large)
        rows.append(f"| {side} | {result.recall()} | {result.seconds / result.images:.2f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rendered", type=int, default=48)
    parser.add_argument("--large", type=int, default=6)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results_ocr.md")
    args = parser.parse_args()
    sets = {"rendered": rendered_set(args.rendered), "real": real_set(), "no text": no_text_set()}
    engines = {name: load_ocr(name, threads=1, timeout_s=600) for name in ("rapidocr", "tesseract")}
    sizes = ", ".join(f"{name} {len(samples)}" for name, samples in sets.items())
    lines = [f"Images: {sizes}; one thread, one image at a time, 2-core CPU.", ""]
    lines += [*engine_rows(engines, sets), "", *downscale_rows(args.large)]
    report = "\n".join(lines) + "\n"
    print(report)
    args.out.write_text("## OCR engines (`bench/bench_ocr.py`)\n\n" + report)


if __name__ == "__main__":
    main()
