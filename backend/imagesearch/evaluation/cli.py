"""The retrieval-quality command line (``python backend/evaluate.py [--captions CSV] [--labels DIR|CSV]``).

--captions: CSV with an image column (URL or path, as indexed) and a caption column; prints
text -> image Recall@1/5/10 and MRR. --labels: a folder per class (root/<class>/<image>) or a CSV
with image and label columns (a label column in the captions file also works); prints image ->
image Precision@1/5/10. Always prints the recall of the configured index against exact search.
--cutoff (needs labels): compares the adaptive cutoff (cutoff=auto) with fixed min_score
thresholds on text -> image queries (one per label) and image -> image ones (evaluation/cutoff.py).
The index, model and weights come from IMAGESEARCH_* settings, as for the API.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from imagesearch.config import Settings
from imagesearch.encoders.factory import load_encoder
from imagesearch.errors import ImageSearchError, SourceError
from imagesearch.evaluation.cutoff import CutoffOptions, CutoffScore, format_cutoff_table, measure_cutoffs
from imagesearch.evaluation.groundtruth import Columns, load_ground_truth
from imagesearch.evaluation.retrieval import EvalOptions, EvaluationReport, evaluate, format_table
from imagesearch.index.store import load_bundle
from imagesearch.search.compatibility import check_compatible

logger = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--captions", type=Path, help="CSV of (image, caption) rows")
    parser.add_argument("--labels", type=Path, help="folder per class, or CSV of (image, label) rows")
    parser.add_argument("--data-dir", type=Path, help="index folder (default: IMAGESEARCH_DATA_DIR)")
    parser.add_argument("--image-column", help="CSV column naming the image (default: detected)")
    parser.add_argument("--caption-column", help="CSV column holding the caption (default: detected)")
    parser.add_argument("--label-column", help="CSV column holding the class (default: label/class)")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 5, 10], help="cut-offs (default 1 5 10)")
    parser.add_argument("--max-queries", type=int, default=1000, help="queries per measurement")
    parser.add_argument("--depth", type=int, default=100, help="ranks searched per caption for MRR")
    parser.add_argument(
        "--cutoff", action="store_true", help="compare cutoff=auto with fixed min_score (needs labels)"
    )
    parser.add_argument("--cutoff-window", type=int, default=100, help="candidates per cutoff query")
    parser.add_argument("--json", type=Path, help="also write the report as JSON to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Score the index as the command line asks, writing the table to ``out``; the exit code."""
    args = parse_args(argv)
    if min(args.k) < 1 or min(args.max_queries, args.depth, args.cutoff_window) < 1:
        logger.error("--k, --max-queries, --depth and --cutoff-window must be positive")
        return 2
    try:
        settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
        report, cutoff = _measure(args, settings)
    except ImageSearchError as exc:
        logger.error("%s", exc)
        return 1
    out.write(f"data: {settings.data_dir}\n{format_table(report)}\n")
    if cutoff:
        out.write(format_cutoff_table(cutoff) + "\n")
    if args.json:
        data = report.to_dict()
        if cutoff:
            data["cutoff"] = {kind: [asdict(row) for row in rows] for kind, rows in cutoff.items()}
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        logger.info("report written to %s", args.json)
    return 0


def _measure(
    args: argparse.Namespace, settings: Settings
) -> tuple[EvaluationReport, dict[str, list[CutoffScore]]]:
    columns = Columns(image=args.image_column, caption=args.caption_column, label=args.label_column)
    truth = load_ground_truth(args.captions, args.labels, columns)
    if args.cutoff and not truth.labels:
        raise SourceError("--cutoff needs class labels: --labels, or a label column in --captions")
    bundle = load_bundle(settings)
    encoder = None
    if truth.captions or args.cutoff:
        encoder = load_encoder(settings)
        check_compatible(encoder, bundle)
    options = EvalOptions(ks=tuple(sorted(set(args.k))), max_queries=args.max_queries, depth=args.depth)
    report = evaluate(bundle, truth, options, encoder)
    cutoff = {}
    if args.cutoff:
        cutoff_options = CutoffOptions(window=args.cutoff_window, max_queries=args.max_queries)
        cutoff = measure_cutoffs(bundle, truth, cutoff_options, encoder)
    return report, cutoff
