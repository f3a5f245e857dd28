"""Quality of an index over the demo gallery, measured with the gallery's own captions and labels.

Uses the project's evaluation (``evaluation.evaluate``): every caption is a query whose relevant
answer is its own image (two stamps that share the caption "A lion." are two queries, each
wanting its own image, so duplicates cost Recall@1); image -> image precision@k counts the k
nearest other images that share the query's category label. Two caption sets are scored: the
Tux Paint descriptions (written by people: the headline figure) and all captions, which add
Scratch's file-name captions ("Night city."). A few plain object queries are also checked.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from imagesearch.encoders.protocol import Encoder
from imagesearch.evaluation.groundtruth import GroundTruth, source_key
from imagesearch.evaluation.retrieval import EvalOptions, EvaluationReport, evaluate, spread
from imagesearch.index.store import IndexBundle

# Query -> pattern a relevant image's caption matches. "a red apple" accepts any apple: the
# fallback does not see colour, and the README says so.
SIMPLE_QUERIES: dict[str, str] = {
    "a lion": r"^an? (happy )?lion\b",
    "a red apple": r"\bapple\b(?! core)",
    "a fire engine": r"\bfire (truck|engine)\b",
    "a teapot": r"\bteapot\b",
    "a city at night": r"\b(city|skyline)\b",
}


@dataclass(frozen=True)
class GalleryRow:
    url: str
    caption: str
    label: str
    origin: str


@dataclass(frozen=True)
class QueryCheck:
    query: str
    top_caption: str
    top_source: str
    relevant: bool


@dataclass(frozen=True)
class DemoQuality:
    human_captions: EvaluationReport  # Tux Paint descriptions; labels: full category
    all_captions: EvaluationReport  # plus Scratch file-name captions
    checks: list[QueryCheck]
    near_duplicate_recall: float  # a cropped, mirrored copy finds its original first
    near_duplicate_queries: int

    def metric(self, report: str, name: str) -> float:
        source = self.human_captions if report == "human" else self.all_captions
        return next(metric.value for metric in source.metrics if metric.name == name)


def read_gallery(csv_path: Path) -> list[GalleryRow]:
    with csv_path.open(encoding="utf-8", newline="") as handle:
        return [
            GalleryRow(row["url"], row.get("caption", ""), row.get("label", ""), row.get("origin", ""))
            for row in csv.DictReader(handle)
        ]


def ground_truth(rows: list[GalleryRow], origins: tuple[str, ...] | None) -> GroundTruth:
    """Captions of rows from ``origins`` (None: every origin); labels of every row."""
    captions = [
        (source_key(row.url), row.caption)
        for row in rows
        if row.caption and (origins is None or row.origin in origins)
    ]
    labels = {source_key(row.url): row.label for row in rows if row.label}
    return GroundTruth(captions=captions, labels=labels)


def check_simple_queries(bundle: IndexBundle, encoder: Encoder, rows: list[GalleryRow]) -> list[QueryCheck]:
    """The top hit of each plain object query, and whether its caption makes it relevant."""
    caption_of = {source_key(row.url): row.caption for row in rows}
    vectors = encoder.encode_texts(list(SIMPLE_QUERIES))
    _, found = bundle.index.search(vectors, 1)
    checks = []
    for (query, pattern), row in zip(SIMPLE_QUERIES.items(), found, strict=True):
        source = bundle.urls[int(row[0])]
        caption = caption_of.get(source_key(source), "")
        checks.append(QueryCheck(query, caption, source, bool(re.search(pattern, caption, re.IGNORECASE))))
    return checks


def near_duplicate_recall(bundle: IndexBundle, encoder: Encoder, queries: int = 200) -> tuple[float, int]:
    """Share of (evenly spread) indexed images whose cropped + mirrored copy ranks them first."""
    picks: Sequence[int] = spread(range(len(bundle.urls)), queries)
    hits = 0
    for start in range(0, len(picks), 32):
        batch = picks[start : start + 32]
        vectors = encoder.encode_images([_near_duplicate(Path(bundle.urls[i])) for i in batch])
        _, found = bundle.index.search(vectors, 1)
        hits += sum(int(row[0]) == i for row, i in zip(found, batch, strict=True))
    return hits / len(picks), len(picks)


def _near_duplicate(path: Path) -> Image.Image:
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    width, height = rgb.size
    crop = rgb.crop((width // 10, height // 10, width - width // 20, height - height // 20))
    return ImageOps.mirror(crop)


def measure_demo_quality(bundle: IndexBundle, encoder: Encoder, csv_path: Path) -> DemoQuality:
    rows = read_gallery(csv_path)
    options = EvalOptions(ks=(1, 5, 10), max_queries=5000, depth=100)
    recall, queries = near_duplicate_recall(bundle, encoder)
    return DemoQuality(
        human_captions=evaluate(bundle, ground_truth(rows, ("tuxpaint",)), options, encoder),
        all_captions=evaluate(bundle, ground_truth(rows, None), options, encoder),
        checks=check_simple_queries(bundle, encoder, rows),
        near_duplicate_recall=recall,
        near_duplicate_queries=queries,
    )


def format_markdown(quality: DemoQuality) -> str:
    """The README tables: text -> image per caption set, image -> image, and the plain queries."""
    human = quality.human_captions
    lines = [
        f"Index: {human.count} images, encoder `{human.encoder_id}`.",
        "",
        "| metric | Tux Paint captions (people wrote them) | all captions (+ Scratch file names) |",
        "|---|---|---|",
    ]
    lines += [
        f"| {m.name} | {m.value:.3f} ({m.queries} queries) | {_cell(quality.all_captions, m.name)} |"
        for m in human.metrics
        if m.name.startswith("text->image")
    ]
    lines += ["", "| metric | value |", "|---|---|"]
    lines += [
        f"| {m.name} (same category label) | {m.value:.3f} ({m.queries} queries) |"
        for m in human.metrics
        if m.name.startswith("image->image")
    ]
    lines.append(
        f"| image->image near-duplicate Recall@1 (cropped by 15 %, mirrored) | "
        f"{quality.near_duplicate_recall:.3f} ({quality.near_duplicate_queries} queries) |"
    )
    lines += ["", "| query | top hit | relevant |", "|---|---|---|"]
    for check in quality.checks:
        name = Path(check.top_source).name
        verdict = "yes" if check.relevant else "no"
        lines.append(f'| "{check.query}" | {check.top_caption or name} (`{name}`) | {verdict} |')
    return "\n".join(lines)


def _cell(report: EvaluationReport, name: str) -> str:
    metric = next(m for m in report.metrics if m.name == name)
    return f"{metric.value:.3f} ({metric.queries} queries)"
