"""Retrieval-quality report for a built index: ``python evaluate.py [--captions CSV] [--labels DIR|CSV]``.

``--help`` lists the options; the command line lives in ``imagesearch.evaluation.cli``, the
measurements in ``imagesearch.evaluation.retrieval``.
"""

from __future__ import annotations

import logging
import sys

from imagesearch.evaluation import cli


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
