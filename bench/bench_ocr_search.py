"""Does the OCR channel find images by the words in them, and leave other queries alone?

An evaluation set from the demo gallery (``make demo-data``): ``--images`` real photos and cut-outs,
of which ``--signed`` get one sign each, drawn with Debian's DejaVu fonts in varied fonts, sizes,
angles and contrasts (the phrases below: shop signs, street names, menus, prices). It is indexed
twice by the real pipeline, with and without ``--ocr`` (same encoder: CLIP when its weights can be
had, else the offline fallback), and searched in-process through the search service:

- word queries: each sign's phrase (and its first two words); relevant = that one image. R@1 and
  R@5 with CLIP only (hybrid 0), with the captions channel (hybrid 0.5, index without OCR), and with
  captions + OCR text (hybrid 0.5, index with OCR);
- queries that name no text: "a photo of <label>" for every label with >= 3 images; relevant =
  the images with that label. MRR and R@5 with captions only against captions + OCR text: the OCR
  channel must not hurt them;
- throughput: images/s of the two builds on this machine.

    .venv/bin/python bench/bench_ocr_search.py [--images 240] [--signed 48] [--work DIR]
"""

from __future__ import annotations

import argparse
import csv
import logging
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "backend" / "tests"))

from support.text_images import TextStyle, draw_text  # noqa: E402

from imagesearch.config import Settings  # noqa: E402
from imagesearch.encoders.factory import load_encoder  # noqa: E402
from imagesearch.index.store import load_bundle  # noqa: E402
from imagesearch.ingest.pipeline import PipelineOptions, PipelineReport, run_pipeline  # noqa: E402
from imagesearch.search.ranking import RankOptions  # noqa: E402
from imagesearch.search.service import Searcher  # noqa: E402

logger = logging.getLogger("bench_ocr_search")
GALLERY = ROOT / "backend" / "data" / "demo-gallery" / "photos_url.csv"
PHRASES = [
    "PHARMACY OPEN 24 HOURS",
    "FRESH BREAD DAILY",
    "MAIN STREET",
    "CITY LIBRARY",
    "NO PARKING",
    "COFFEE AND CAKE",
    "HOTEL PARADISE",
    "FISH MARKET",
    "BUS STOP",
    "POST OFFICE",
    "OAK AVENUE",
    "PIZZA 9.99",
    "GRAND OPENING",
    "CLOSED ON SUNDAYS",
    "TICKET OFFICE",
    "SUMMER SALE",
    "TAXI RANK",
    "FLOWER SHOP",
    "ICE CREAM",
    "CAR WASH",
    "DENTIST UPSTAIRS",
    "BOOKSHOP",
    "TRAIN STATION",
    "FREE WIFI",
    "BICYCLE REPAIR",
    "MUSEUM ENTRANCE",
    "HAIR SALON",
    "EXIT ONLY",
    "CINEMA TONIGHT",
    "WINE BAR",
    "GARDEN CENTRE",
    "PET SHOP",
    "TOWN HALL",
    "BEACH ROAD",
    "HARBOUR VIEW",
    "BUTCHER",
    "LAUNDRY",
    "POLICE STATION",
    "FIRE STATION",
    "SWIMMING POOL",
    "CHEESE SHOP",
    "KEEP LEFT",
    "MARKET SQUARE",
    "CHURCH LANE",
    "NOODLE HOUSE",
    "VEGETABLES 2 FOR 1",
    "OPEN LATE",
    "BARBER SHOP",
]
STYLES = [
    TextStyle("sans-bold", 44),
    TextStyle("serif", 40, ink=(250, 250, 250), plate=(30, 30, 40)),
    TextStyle("mono-bold", 36, angle=12),
    TextStyle("sans", 38, ink=(90, 90, 90), plate=(150, 150, 150)),  # low contrast
    TextStyle("serif-bold", 48, angle=-15),
    TextStyle("sans-bold", 30, plate=None, ink=(255, 255, 255)),  # straight on the photo
]
WEIGHT = 0.5


@dataclass(frozen=True)
class Query:
    text: str
    relevant: frozenset[int]


def build_set(work: Path, count: int, signed: int) -> tuple[Path, dict[int, str]]:
    """The source CSV (url, caption, label) and, for each signed row, its phrase."""
    with GALLERY.open(newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: row["url"])
    rng = random.Random(7)
    rows = rng.sample(rows, min(count, len(rows)))
    chosen = sorted(rng.sample(range(len(rows)), min(signed, len(rows), len(PHRASES))))
    phrases: dict[int, str] = {}
    (work / "signed").mkdir(parents=True, exist_ok=True)
    for k, row in enumerate(chosen):
        phrase, style = PHRASES[k], STYLES[k % len(STYLES)]
        with Image.open(rows[row]["url"]) as image:
            picture = image.convert("RGB")
        words = phrase.split()
        lines = [
            " ".join(words[: (len(words) + 1) // 2]),
            " ".join(words[(len(words) + 1) // 2 :]),
        ]
        at = (
            rng.randrange(0, max(1, picture.width // 4)),
            rng.randrange(0, max(1, picture.height // 3)),
        )
        size = max(18, min(style.size, picture.width // 12))
        styled = TextStyle(style.font, size, style.angle, style.ink, style.plate)
        target = work / "signed" / f"{row:04d}.jpg"
        draw_text(picture, [line for line in lines if line], styled, at).save(target, quality=90)
        rows[row] = {**rows[row], "url": str(target)}
        phrases[row] = phrase
    source = work / "photos.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["url", "caption", "label"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return source, phrases


def build(source: Path, data_dir: Path, ocr: bool) -> tuple[Settings, PipelineReport]:
    settings = Settings(data_dir=data_dir, ocr=ocr)
    options = PipelineOptions(source=source, progress=False, incremental=False, resume=False)
    return settings, run_pipeline(settings, options, load_encoder(settings))


def recall(searcher: Searcher, queries: list[Query], hybrid: float, k: int) -> float:
    hits = 0
    for query in queries:
        page = searcher.text_page(query.text, RankOptions(k), hybrid)
        hits += any(hit.id in query.relevant for hit in page.hits)
    return hits / len(queries)


def mrr(searcher: Searcher, queries: list[Query], hybrid: float, depth: int = 200) -> float:
    total = 0.0
    for query in queries:
        page = searcher.text_page(query.text, RankOptions(depth), hybrid)
        rank = next((n for n, hit in enumerate(page.hits, 1) if hit.id in query.relevant), None)
        total += 1 / rank if rank else 0.0
    return total / len(queries)


def label_queries(searcher: Searcher) -> list[Query]:
    labels = searcher.bundle.table.columns["label"]
    counts = Counter(str(value) for value in labels.values)
    return [
        Query(
            f"a photo of {label.split('/')[-1].replace('-', ' ')}",
            frozenset(i for i, value in enumerate(labels.values) if value == label),
        )
        for label, count in sorted(counts.items())
        if count >= 3
    ]


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=240)
    parser.add_argument("--signed", type=int, default=48)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".ocr-search")
    args = parser.parse_args()
    source, phrases = build_set(args.work, args.images, args.signed)
    built = {}
    for ocr in (False, True):
        started = time.perf_counter()
        settings, report = build(source, args.work / ("data-ocr" if ocr else "data-plain"), ocr)
        built[ocr] = (settings, report, time.perf_counter() - started)
        print(f"build {'with' if ocr else 'without'} OCR: {report.summary()}")
    plain_settings, with_settings = built[False][0], built[True][0]
    encoder = load_encoder(with_settings)
    plain = Searcher(plain_settings, encoder, load_bundle(plain_settings))
    with_ocr = Searcher(with_settings, encoder, load_bundle(with_settings))
    urls = with_ocr.bundle.urls
    row_of = {url: i for i, url in enumerate(urls)}
    signed_ids = {
        row_of[str(args.work / "signed" / f"{row:04d}.jpg")]: phrase for row, phrase in phrases.items()
    }
    words = [Query(phrase.lower(), frozenset({i})) for i, phrase in signed_ids.items()]
    words += [
        Query(" ".join(phrase.lower().split()[:2]), frozenset({i}))
        for i, phrase in signed_ids.items()
        if len(phrase.split()) > 2
    ]
    print(f"\nword queries ({len(words)}; {len(signed_ids)} signed images among {len(urls)})")
    print(f"{'ranking':<40} {'R@1':>6} {'R@5':>6}")
    for name, searcher, hybrid in (
        ("CLIP only (hybrid 0)", with_ocr, 0.0),
        (f"captions channel (hybrid {WEIGHT}, no OCR)", plain, WEIGHT),
        (f"captions + OCR text (hybrid {WEIGHT})", with_ocr, WEIGHT),
    ):
        at_1, at_5 = recall(searcher, words, hybrid, 1), recall(searcher, words, hybrid, 5)
        print(f"{name:<40} {at_1:>6.3f} {at_5:>6.3f}")
    labels = label_queries(with_ocr)
    print(f"\nqueries that name no text ({len(labels)} label queries)")
    print(f"{'ranking':<40} {'MRR':>6} {'R@5':>6}")
    for name, searcher, hybrid in (
        ("CLIP only (hybrid 0)", with_ocr, 0.0),
        (f"captions channel (hybrid {WEIGHT}, no OCR)", plain, WEIGHT),
        (f"captions + OCR text (hybrid {WEIGHT})", with_ocr, WEIGHT),
    ):
        print(f"{name:<40} {mrr(searcher, labels, hybrid):>6.3f} {recall(searcher, labels, hybrid, 5):>6.3f}")
    read = sum(bool(with_ocr.bundle.table.row(i).get("has_text")) for i in range(len(urls)))
    print(f"\nimages with text read: {read} of {len(urls)} ({len(signed_ids)} signed)")
    for ocr, (_, report, seconds) in built.items():
        print(
            f"build {'with' if ocr else 'without'} OCR: {report.ok / seconds:.2f} images/s ({seconds:.0f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
