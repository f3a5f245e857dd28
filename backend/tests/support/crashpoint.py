"""Run the real pipeline CLI and SIGKILL it at a chosen point (crash-safety tests).

    CRASH_AT=fetch|encode|stage|commit CRASH_AFTER=N python crashpoint.py SOURCE [args]

The pipeline code runs unchanged; only the moment of death is chosen: after N image fetches,
after N encoder batches, after N index files were staged (before the commit point), or right
after the first file of a committed write was renamed into place.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # backend/

import run_pipeline
from imagesearch.encoders import clip as encoder
from imagesearch.index import commit as index_commit
from imagesearch.ingest import fetch

POINT = os.environ["CRASH_AT"]
AFTER = int(os.environ.get("CRASH_AFTER", "1"))


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_after(function: Callable[..., Any], calls: int) -> Callable[..., Any]:
    count = 0

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        nonlocal count
        count += 1
        if count > calls:
            die()
        return function(*args, **kwargs)

    return wrapped


if POINT == "fetch":
    fetch.Fetcher.fetch = kill_after(fetch.Fetcher.fetch, AFTER)  # type: ignore[method-assign]
elif POINT == "encode":
    encoder.ClipEncoder.encode_prepared = kill_after(encoder.ClipEncoder.encode_prepared, AFTER)  # type: ignore[method-assign]
elif POINT == "stage":
    index_commit.stage_file = kill_after(index_commit.stage_file, AFTER)
elif POINT == "commit":
    original_replace = Path.replace

    def replace_then_die(self: Path, target: Any) -> Any:
        result = original_replace(self, target)
        if self.name.endswith(".staged"):
            die()
        return result

    Path.replace = replace_then_die  # type: ignore[method-assign]
else:
    raise SystemExit(f"unknown CRASH_AT={POINT}")

sys.exit(run_pipeline.main(sys.argv[1:]))
