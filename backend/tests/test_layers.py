"""The layers stay light: the search service and the index layer never pull in torch.

The import contracts themselves are checked by ``lint-imports`` (``make lint``); this checks
what they are for, in a fresh interpreter: a process that only searches an index (or a tool
that only reads one) starts without torch's ~1 GB.
"""

from __future__ import annotations

import subprocess
import sys

from support.paths import BACKEND_DIR

LIGHT = [
    "imagesearch.search.service",
    "imagesearch.search.hybrid",
    "imagesearch.index.store",
    "imagesearch.index.factory",
    "imagesearch.index.stored_vectors",
    "imagesearch.encoders.protocol",
]


def test_search_and_index_import_without_torch() -> None:
    code = (
        "import sys\n"
        f"for name in {LIGHT!r}:\n"
        "    __import__(name)\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'open_clip', 'torchvision'})\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BACKEND_DIR, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported: {result.stdout.strip()}"


def test_the_encoders_do_import_torch() -> None:
    """The check above can see torch: importing CLIP's encoder does load it."""
    code = "import sys, imagesearch.encoders.clip; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BACKEND_DIR, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "True", result.stderr
