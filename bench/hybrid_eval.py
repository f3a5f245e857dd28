"""Does caption BM25 fused with the dense ranking (hybrid) beat the dense ranking alone?

Measured on the demo gallery (``make demo-data``): every image has a category label and most a
caption (Tux Paint: written by people; Scratch: cleaned file names). The index is the demo index
(``make demo``), served by whatever encoder IMAGESEARCH_ENCODER selects (here: the offline
fallback, as no CLIP weights can be had). Two leakage-free protocols; a query is never the very
caption stored for a relevant image:

A. label queries: "a photo of <last part of the label>" (e.g. "a photo of birds") for every
   label with >= 3 images; relevant = every image with that label. Labels are never stored,
   only captions.
B. caption -> same category: each captioned image's caption is a query; relevant = the *other*
   images with its label. The query's own image and every image whose caption is identical to
   the query (variants of one stamp) are removed from both rankings first, so BM25 cannot win
   by matching the query string itself.

R@k: share of queries with a relevant image in the top k; MRR: mean 1/rank of the first relevant
image (full ranking); P@10: share of the top 10 that is relevant. Hybrid w fuses the full dense
ranking with the BM25 ranking by weighted RRF (k0 = 60): w = 0 is dense only; at w = 1 the
caption matches come first and the dense ranking fills the rest.

    .venv/bin/python bench/hybrid_eval.py [--gallery DIR] [--data-dir DIR] [--json FILE]
"""

from __future__ import annotations

import csv
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))

from imagesearch.config import Settings  # noqa: E402
from imagesearch.encoders.factory import load_encoder  # noqa: E402
from imagesearch.evaluation.groundtruth import source_key  # noqa: E402
from imagesearch.index.store import load_bundle, read_manifest  # noqa: E402
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline  # noqa: E402
from imagesearch.search.compatibility import check_compatible  # noqa: E402
from imagesearch.search.lexical import RRF_K0, CaptionIndex, rrf_fuse  # noqa: E402

logger = logging.getLogger("hybrid_eval")
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
KS = (1, 5, 10)
MIN_LABEL_SIZE = 3


@dataclass(frozen=True)
class Query:
    text: str
    relevant: frozenset[int]
    excluded: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Row:
    name: str
    metrics: dict[str, float]
    wins: int = 0  # queries whose first relevant rank is better than dense only
    losses: int = 0


def label_queries(labels: Sequence[str]) -> list[Query]:
    by_label: dict[str, set[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, set()).add(i)
    return [
        Query(f"a photo of {label.rsplit('/', 1)[-1].replace('-', ' ')}", frozenset(ids))
        for label, ids in sorted(by_label.items())
        if label and len(ids) >= MIN_LABEL_SIZE
    ]


def caption_queries(captions: Sequence[str], labels: Sequence[str]) -> list[Query]:
    queries = []
    for i, caption in enumerate(captions):
        if not caption or not labels[i]:
            continue
        same_caption = {j for j, other in enumerate(captions) if other.lower() == caption.lower()}
        relevant = {j for j, label in enumerate(labels) if label == labels[i]} - same_caption
        if relevant:
            queries.append(Query(caption, frozenset(relevant), frozenset(same_caption)))
    return queries


def drop(ranking: Sequence[int], excluded: frozenset[int]) -> list[int]:
    return [i for i in ranking if i not in excluded]


def first_rank(ranking: Sequence[int], relevant: frozenset[int]) -> int | None:
    return next((rank for rank, i in enumerate(ranking, start=1) if i in relevant), None)


def score(rankings: Sequence[Sequence[int]], queries: Sequence[Query]) -> dict[str, float]:
    ranks = [first_rank(r, q.relevant) for r, q in zip(rankings, queries, strict=True)]
    metrics = {f"R@{k}": float(np.mean([r is not None and r <= k for r in ranks])) for k in KS}
    metrics["MRR"] = float(np.mean([1.0 / r if r else 0.0 for r in ranks]))
    metrics["P@10"] = float(
        np.mean([len(q.relevant.intersection(r[:10])) / 10 for r, q in zip(rankings, queries, strict=True)])
    )
    return metrics


def evaluate(
    queries: Sequence[Query],
    dense: Callable[[Sequence[str]], list[list[int]]],
    captions: CaptionIndex,
    count: int,
) -> list[Row]:
    dense_rankings = dense([q.text for q in queries])
    sparse_rankings = [[i for i, _ in captions.search(q.text, count)] for q in queries]
    dense_kept = [[i for i in r if i not in q.excluded] for r, q in zip(dense_rankings, queries, strict=True)]
    sparse_kept = [
        [i for i in r if i not in q.excluded] for r, q in zip(sparse_rankings, queries, strict=True)
    ]
    base = [first_rank(r, q.relevant) or count + 1 for r, q in zip(dense_kept, queries, strict=True)]
    rows = [Row("BM25 on captions only (no dense fill)", score(sparse_kept, queries))]
    for weight in WEIGHTS:
        fused = [[i for i, _ in rrf_fuse(d, s, weight)] for d, s in zip(dense_kept, sparse_kept, strict=True)]
        ranks = [first_rank(r, q.relevant) or count + 1 for r, q in zip(fused, queries, strict=True)]
        name = "dense only (w = 0)" if weight == 0 else f"hybrid w = {weight:g}"
        wins = sum(r < b for r, b in zip(ranks, base, strict=True))
        losses = sum(r > b for r, b in zip(ranks, base, strict=True))
        rows.append(Row(name, score(fused, queries), wins, losses))
    return rows


def format_table(title: str, queries: Sequence[Query], rows: Sequence[Row]) -> str:
    names = [*(f"R@{k}" for k in KS), "MRR", "P@10"]
    lines = [
        f"{title} ({len(queries)} queries)",
        "",
        f"| ranking | {' | '.join(names)} | better / worse first hit than dense |",
        f"|---|{'---|' * len(names)}---|",
    ]
    for row in rows:
        cells = " | ".join(f"{row.metrics[name]:.3f}" for name in names)
        versus = "-" if row.name.startswith(("dense", "BM25")) else f"{row.wins} / {row.losses}"
        lines.append(f"| {row.name} | {cells} | {versus} |")
    return "\n".join(lines)


def read_gallery(csv_path: Path) -> dict[str, tuple[str, str]]:
    """source key -> (caption, label), as the gallery CSV lists them."""
    with csv_path.open(encoding="utf-8", newline="") as handle:
        return {source_key(row["url"]): (row["caption"], row["label"]) for row in csv.DictReader(handle)}


def main() -> int:
    from bench_demo_quality import gallery_parser  # the same gallery arguments

    args = gallery_parser(__doc__).parse_args()

    csv_path = (args.gallery / "photos_url.csv").resolve()
    if not csv_path.is_file():
        logger.error("no demo gallery at %s; run `make demo-data` first", args.gallery)
        return 1
    settings = Settings(data_dir=args.data_dir)
    encoder = load_encoder(settings)
    if not settings.manifest_path.is_file():
        report = run_pipeline(settings, PipelineOptions(source=csv_path, progress=False), encoder)
        logger.info("indexed: %s", report.summary())
    elif Path(read_manifest(settings).source).resolve() != csv_path:
        logger.warning(
            "%s was built from another source; images are matched to the CSV by path", args.data_dir
        )
    bundle = load_bundle(settings)
    check_compatible(encoder, bundle)
    gallery = read_gallery(csv_path)
    known = [gallery.get(source_key(url), ("", "")) for url in bundle.urls]
    captions = bundle.captions if bundle.captions is not None else [caption for caption, _ in known]
    labels = [label for _, label in known]
    caption_origin = "stored with the index" if bundle.captions is not None else "gallery CSV, by URL"
    count = bundle.index.ntotal

    def dense(texts: Sequence[str]) -> list[list[int]]:
        vectors = encoder.encode_texts(list(texts))
        _, ids = bundle.index.search(np.ascontiguousarray(vectors, dtype=np.float32), count)
        return [[int(i) for i in row if i >= 0] for row in ids]

    started = time.perf_counter()
    caption_index = CaptionIndex(captions)
    protocols = {
        "A. label queries, relevant = the label's images": label_queries(labels),
        "B. caption -> other images of its category": caption_queries(captions, labels),
    }
    results = {title: evaluate(queries, dense, caption_index, count) for title, queries in protocols.items()}
    print(
        f"{count} images, {sum(1 for c in captions if c)} with a caption ({caption_origin}), "
        f"{len(Counter(labels))} labels; encoder: {encoder.label} ({encoder.id}); RRF k0 = {RRF_K0}; "
        f"{time.perf_counter() - started:.1f} s\n"
    )
    for title, rows in results.items():
        print(format_table(title, protocols[title], rows) + "\n")
    if args.json:
        payload = {
            title: {"queries": len(protocols[title]), "rows": [row.__dict__ for row in rows]}
            for title, rows in results.items()
        }
        args.json.write_text(json.dumps({"encoder": encoder.id, "images": count, **payload}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
