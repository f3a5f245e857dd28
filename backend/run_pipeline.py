"""Offline embedding pipeline: ``python run_pipeline.py SOURCE [--data-dir DIR] ...``.

SOURCE is a CSV of image URLs/paths (e.g. the seed's photos_url.csv), a folder of images, or a
text file with one URL/path per line; ``--help`` lists the options. The command line lives in
``imagesearch.ingest.cli``, the pipeline in ``imagesearch.ingest.pipeline``.
"""

from __future__ import annotations

import logging
import sys

from imagesearch.ingest import cli


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
