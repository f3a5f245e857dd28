"""Demo encoder quality: the README table "Demo encoder quality", measured on this machine.

Builds (or reuses) the demo gallery and its index exactly as ``make demo`` does, then scores the
index with the gallery's own captions and category labels (``imagesearch.evaluation.demo_quality``) and
prints a Markdown table. The encoder is whatever IMAGESEARCH_ENCODER selects (``auto``: CLIP
when its weights can be had, else the offline fallback), as for the API.

    .venv/bin/python bench/bench_demo_quality.py [--gallery DIR] [--data-dir DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))

from imagesearch.config import Settings  # noqa: E402
from imagesearch.demo.gallery import build_gallery  # noqa: E402
from imagesearch.encoders.factory import load_encoder  # noqa: E402
from imagesearch.evaluation.demo_quality import format_markdown, measure_demo_quality  # noqa: E402
from imagesearch.index.store import load_bundle, read_manifest  # noqa: E402
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline  # noqa: E402
from imagesearch.search.compatibility import check_compatible  # noqa: E402
from tools.demo_sources import obtain_sources  # noqa: E402

logger = logging.getLogger("demo_quality")


def gallery_parser(description: str | None) -> argparse.ArgumentParser:
    """The arguments of the scripts that evaluate on the demo gallery (this one, hybrid_eval.py)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gallery", type=Path, default=ROOT / "backend" / "data" / "demo-gallery")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "backend" / "data" / "demo-index")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return parser


def main() -> int:
    parser = gallery_parser(__doc__)
    parser.add_argument("--no-install", action="store_true", help="use only image packages already on disk")
    args = parser.parse_args()

    sources = obtain_sources(args.gallery.resolve() / ".registry-cache", install=not args.no_install)
    gallery = build_gallery(args.gallery, sources)
    settings = Settings(data_dir=args.data_dir)
    encoder = load_encoder(settings)
    if not settings.manifest_path.is_file() or read_manifest(settings).source != str(gallery.csv_path):
        started = time.perf_counter()
        report = run_pipeline(settings, PipelineOptions(source=gallery.csv_path, progress=False), encoder)
        logger.info("indexed in %.0f s: %s", time.perf_counter() - started, report.summary())
    bundle = load_bundle(settings)
    check_compatible(encoder, bundle)
    started = time.perf_counter()
    quality = measure_demo_quality(bundle, encoder, gallery.csv_path)
    logger.info("measured in %.1f s", time.perf_counter() - started)
    print(format_markdown(quality))
    if args.json:
        figures = {
            "human_captions": quality.human_captions.to_dict(),
            "all_captions": quality.all_captions.to_dict(),
            "checks": [asdict(check) for check in quality.checks],
            "near_duplicate_recall_at_1": quality.near_duplicate_recall,
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
