"""The indexing command line (``python backend/run_pipeline.py SOURCE [--data-dir DIR] ...``).

SOURCE is a CSV of image URLs/paths (e.g. the seed's photos_url.csv), a folder of images, or a
text file with one URL/path per line. Writes DIR/faiss_index/image_index.faiss,
DIR/embeddings/image_urls.pkl (same order as the vectors), DIR/embeddings/captions.json (when
the CSV has caption columns; same order), DIR/manifest.json and DIR/pipeline_failures.csv.
Interrupted runs resume where they stopped when rerun.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from imagesearch.config import Settings
from imagesearch.encoders.factory import load_encoder
from imagesearch.errors import ImageSearchError, SourceError
from imagesearch.ingest.metadata import MetadataOptions
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline

logger = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help="CSV file, folder, or list file of URLs/paths")
    parser.add_argument(
        "--data-dir", type=Path, help="output folder (default: IMAGESEARCH_DATA_DIR or backend/data)"
    )
    parser.add_argument("--url-column", help="CSV column holding the image URL/path (default: detected)")
    parser.add_argument(
        "--caption-column",
        action="append",
        default=[],
        metavar="NAME",
        help="CSV column holding a caption; repeat to join several with ' — ' (default: detected by "
        "name: caption, description, photo_description, ai_description, alt_text, title, ...)",
    )
    _add_metadata_arguments(parser)
    parser.add_argument("--limit", type=int, help="index only the first N images")
    parser.add_argument("--batch-size", type=int, help="images per encoder batch")
    parser.add_argument("--workers", type=int, help="concurrent fetch/decode workers")
    parser.add_argument(
        "--index-factory", help="a FAISS factory string, e.g. 'IVF1024,PQ64x4fs,RFlat' (default: by size)"
    )
    parser.add_argument(
        "--ocr",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="read the text in every image (RapidOCR; IMAGESEARCH_OCR) so searches match its words",
    )
    parser.add_argument(
        "--incremental",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="reuse the vectors of sources the existing index holds: encode only new ones, drop removed "
        "ones (default); --no-incremental encodes everything again",
    )
    parser.add_argument("--no-resume", action="store_true", help="ignore checkpoints of an interrupted run")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: threads + one encoder in this process; ray: Ray Data stages on a Ray cluster",
    )
    parser.add_argument(
        "--ray-address", help="Ray cluster to join with --engine ray (default: RAY_ADDRESS, else a local Ray)"
    )
    return parser.parse_args(argv)


def _add_metadata_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metadata-columns",
        help="CSV columns to keep as metadata, comma-separated (default: every column but the URL)",
    )
    parser.add_argument(
        "--metadata-type",
        action="append",
        default=[],
        metavar="COLUMN=TYPE",
        help="a column's type instead of the inferred one: string, number, boolean, datetime or list "
        "(repeat for several); cells that do not fit are reported in metadata_problems.csv",
    )
    parser.add_argument("--list-separator", default="|", help="separator of list cells (default: |)")


def metadata_options(args: argparse.Namespace) -> MetadataOptions:
    """--metadata-columns, --metadata-type, --list-separator -> MetadataOptions (SourceError if bad)."""
    types: dict[str, str] = {}
    for item in args.metadata_type:
        column, sep, type_ = item.partition("=")
        if not sep or not column.strip() or not type_.strip():
            raise SourceError(f"--metadata-type wants COLUMN=TYPE, got {item!r}")
        types[column.strip()] = type_.strip()
    columns = None
    if args.metadata_columns is not None:
        columns = tuple(name.strip() for name in args.metadata_columns.split(",") if name.strip())
    return MetadataOptions(columns=columns, types=types, list_separator=args.list_separator)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline as the command line asks; returns the process exit code."""
    args = parse_args(argv)
    overrides = {
        "data_dir": args.data_dir,
        "batch_size": args.batch_size,
        "fetch_workers": args.workers,
        "index_factory": args.index_factory,
        "ocr": args.ocr,
    }
    try:
        settings = Settings(**{key: value for key, value in overrides.items() if value is not None})
        options = PipelineOptions(
            source=args.source,
            url_column=args.url_column,
            caption_columns=tuple(args.caption_column),
            limit=args.limit,
            resume=not args.no_resume,
            incremental=args.incremental,
            progress=False if args.quiet else None,
            engine=args.engine,
            ray_address=args.ray_address,
            metadata=metadata_options(args),
        )
        report = run_pipeline(settings, options, load_encoder(settings))
    except ImageSearchError as exc:
        logger.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        logger.error("interrupted; run the same command again to resume where it stopped")
        return 130
    logger.info("%s", report.summary())
    manifest = report.manifest
    logger.info(
        "index: %s (%s, %s, recall@10 %s)",
        settings.index_path,
        manifest.index_type,
        manifest.search_params or "exact",
        manifest.recall_at_10,
    )
    if report.failed:
        logger.info("failures listed in %s", settings.failures_path)
    return 0
