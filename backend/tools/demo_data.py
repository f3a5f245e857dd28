"""Build the demo gallery: obtain the registry images (tools/demo_sources.py), then lay them out.

``python backend/tools/demo_data.py OUTDIR`` (what ``make demo-data`` runs) writes
``OUTDIR/images/...`` and ``OUTDIR/photos_url.csv``; a rerun with the same sources reuses them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `imagesearch` and `tools` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imagesearch.demo.gallery import build_gallery
from tools.demo_sources import obtain_sources

logger = logging.getLogger("demo_data")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python backend/tools/demo_data.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out_dir", type=Path, help="where the images and photos_url.csv go")
    parser.add_argument("--no-install", action="store_true", help="use only what is already on disk")
    parser.add_argument("--pypi-only", action="store_true", help="skip Debian packages (the fallback set)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    cache = args.out_dir.resolve() / ".registry-cache"
    sources = obtain_sources(cache, install=not args.no_install, debian=not args.pypi_only)
    try:
        report = build_gallery(args.out_dir, sources)
    except RuntimeError as exc:
        logger.error("%s", exc)
        return 1
    logger.info("gallery CSV: %s (%d images)", report.csv_path, report.written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
