"""Checkpoints of both engines: rows saved as they are encoded, read back in position order.

A checkpoint is an ``.npz`` of rows (position in the run's source list, vector, error, the image's
facts as JSON; a failed row has an error and a zero vector), written atomically. The local engine
names its files by chunk (``chunk-000003.npz`` under a run key that includes chunk and batch
sizes, which decide the exact floats); the Ray engine by a random id (``shard-<hex>.npz`` under
``ray-<run key>``), since its rows stream back in any order. Either way a rerun of the same work
reads what is there and embeds only the rows it lacks, and ``collect`` refuses a set of rows with
one lost or repeated.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np

from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import SourceError
from imagesearch.files import write_bytes_atomic
from imagesearch.ingest.facts import facts_table
from imagesearch.ingest.prepare import loads_facts, run_key
from imagesearch.ingest.types import Embedded

Rows = dict[str, np.ndarray[Any, Any]]  # position, vector, error (+ whatever else a stage adds)


def ray_run_key(encoder: Encoder, todo: Sequence[str], ocr_id: str = "") -> str:
    """Names the shards of one Ray run: the encoder, the OCR engine and the sources (rows are keyed
    by position)."""
    return run_key(encoder.id, ocr_id, *todo) if ocr_id else run_key(encoder.id, *todo)


def write_shard(work_dir: Path, batch: Rows) -> None:
    """Save ``batch`` as a new shard (Ray: rows arrive in any order, so names are random)."""
    save_rows(work_dir / f"shard-{uuid4().hex}.npz", batch)


def save_rows(path: Path, batch: Rows) -> None:
    """Write ``batch``'s position, vector and error columns to ``path`` atomically."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        position=np.asarray(batch["position"], dtype=np.int64),
        vector=np.asarray(batch["vector"], dtype=np.float32),
        error=np.asarray([str(error) for error in batch["error"]], dtype=np.str_),
        facts=np.asarray(
            [str(facts) for facts in batch.get("facts", [""] * len(batch["position"]))], dtype=np.str_
        ),
    )
    write_bytes_atomic(path, buffer.getvalue())


def read_shards(work_dir: Path, dim: int) -> Rows:
    """Every shard under ``work_dir`` (none yet: no rows)."""
    return load_rows(sorted(work_dir.glob("shard-*.npz")), dim)


def load_rows(paths: Iterable[Path], dim: int) -> Rows:
    """The rows of ``paths``, concatenated; a file whose vectors are not ``dim`` wide is refused."""
    parts: list[Rows] = []
    for path in paths:
        with np.load(path) as saved:
            if saved["vector"].shape != (len(saved["position"]), dim):
                raise SourceError(f"checkpoint {path} does not fit this encoder; rerun with --no-resume")
            part = {key: saved[key] for key in ("position", "vector", "error")}
            part["facts"] = saved["facts"] if "facts" in saved else np.full(len(part["position"]), "")
            parts.append(part)
    empty: Rows = {
        "position": np.zeros(0, dtype=np.int64),
        "vector": np.zeros((0, dim), dtype=np.float32),
        "error": np.zeros(0, dtype=np.str_),
        "facts": np.zeros(0, dtype=np.str_),
    }
    return {key: np.concatenate([empty[key], *(part[key] for part in parts)]) for key in empty}


def collect(rows: Rows, total: int) -> Embedded:
    """(vectors of the rows that succeeded, their positions, failures) in position order, when
    ``rows`` hold each of the ``total`` positions exactly once."""
    order = np.argsort(rows["position"], kind="stable")
    positions = rows["position"][order]
    if not np.array_equal(positions, np.arange(total)):
        raise SourceError(
            f"the run's checkpoints hold {len(positions)} rows for {total} images (lost or repeated); "
            "rerun with --no-resume"
        )
    messages = rows["error"][order]
    ok = messages == ""
    failures = [
        (int(position), str(error)) for position, error in zip(positions[~ok], messages[~ok], strict=True)
    ]
    vectors = np.ascontiguousarray(rows["vector"][order][ok], dtype=np.float32)
    facts = facts_table([loads_facts(str(text)) for text in rows["facts"][order][ok]])
    return Embedded(vectors, positions[ok].astype(np.int64), failures, facts)
