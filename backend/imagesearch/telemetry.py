"""Process metrics shared by the search core and the API (no web framework here).

One ``CollectorRegistry`` per process, created once at import: several apps in one process (as in
tests) share it instead of registering the same metric names twice. The API renders it at
``GET /metrics``; the core times its stages with ``stage(name)``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from prometheus_client import CollectorRegistry, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

Stage = Literal["encode", "search", "metadata"]

# Encoding a query costs milliseconds to seconds (CPU ViT); a FAISS scan microseconds to ms.
_STAGE_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

STAGE_SECONDS = Histogram(
    "imagesearch_stage_seconds",
    "Time spent in one stage of answering a search: encode | search | metadata",
    ["stage"],
    buckets=_STAGE_BUCKETS,
    registry=REGISTRY,
)
for _name in ("encode", "search", "metadata"):
    STAGE_SECONDS.labels(stage=_name)  # present (at zero) before the first search


@contextmanager
def stage(name: Stage) -> Iterator[None]:
    """Time the block into the stage histogram (also when it raises)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        STAGE_SECONDS.labels(stage=name).observe(time.perf_counter() - started)
