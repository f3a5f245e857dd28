"""Result shards of the Ray engine: rows saved as they stream back, read back in position order.

A shard is an ``.npz`` of rows (position, vector, error; a failed row has an error and a zero
vector), written atomically under ``settings.work_dir / "ray-<run key>"``. The run key names the
encoder and the source list, so a rerun of the same work finds its shards and skips their rows.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np

from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import SourceError
from imagesearch.files import write_bytes_atomic
from imagesearch.ingest.prepare import run_key
from imagesearch.ingest.types import Embedded

Batch = dict[str, np.ndarray[Any, Any]]


def shard_run_key(encoder: Encoder, todo: Sequence[str]) -> str:
    """Names the shards of one run: the encoder and the sources (rows are keyed by position)."""
    return run_key(encoder.id, *todo)


def write_shard(work_dir: Path, batch: Batch) -> None:
    buffer = io.BytesIO()
    np.savez(
        buffer,
        position=np.asarray(batch["position"], dtype=np.int64),
        vector=np.asarray(batch["vector"], dtype=np.float32),
        error=np.asarray([str(error) for error in batch["error"]], dtype=np.str_),
    )
    write_bytes_atomic(work_dir / f"shard-{uuid4().hex}.npz", buffer.getvalue())


def read_shards(work_dir: Path, dim: int) -> Batch:
    parts: list[Batch] = []
    for path in sorted(work_dir.glob("shard-*.npz")):
        with np.load(path) as saved:
            if saved["vector"].shape != (len(saved["position"]), dim):
                raise SourceError(f"shard {path} does not fit this encoder; rerun with --no-resume")
            parts.append({key: saved[key] for key in ("position", "vector", "error")})
    empty: Batch = {
        "position": np.zeros(0, dtype=np.int64),
        "vector": np.zeros((0, dim), dtype=np.float32),
        "error": np.zeros(0, dtype=np.str_),
    }
    return {key: np.concatenate([empty[key], *(part[key] for part in parts)]) for key in empty}


def collect(rows: Batch, total: int) -> Embedded:
    order = np.argsort(rows["position"], kind="stable")
    positions = rows["position"][order]
    if not np.array_equal(positions, np.arange(total)):
        raise SourceError(
            f"the Ray run returned {len(positions)} rows for {total} images (lost or repeated); "
            "rerun with --no-resume"
        )
    messages = rows["error"][order]
    ok = messages == ""
    failures = [
        (int(position), str(error)) for position, error in zip(positions[~ok], messages[~ok], strict=True)
    ]
    vectors = np.ascontiguousarray(rows["vector"][order][ok], dtype=np.float32)
    return vectors, positions[ok].astype(np.int64), failures
