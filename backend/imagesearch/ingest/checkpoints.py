"""Checkpoints of both engines: rows saved as they are encoded, read back in position order.

A checkpoint is an ``.npz`` of rows (position in the run's source list, vector, error, the image's
facts as JSON; a failed row has an error and a zero vector), written atomically. The local engine
names its files by chunk (``chunk-000003.npz`` under a run key that includes chunk and batch
sizes, which decide the exact floats); the Ray engine by a random id (``shard-<hex>.npz`` under
``ray-<run key>``), since its rows stream back in any order. Either way a rerun of the same work
reads what is there and embeds only the rows it lacks, and ``collect`` refuses a set of rows with
one lost or repeated.

When the index will be a two-stage one (its vectors on disk), ``collect_files`` merges the rows'
vectors from the checkpoints straight into the vectors file the commit takes (``merged_vectors``),
one checkpoint in RAM at a time: 10M vectors are 20 GB that the run never holds at once.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np

from imagesearch.config import Settings
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import SourceError
from imagesearch.files import write_bytes_atomic
from imagesearch.index import two_stage
from imagesearch.index.factory import choose_factory
from imagesearch.index.index_files import create_vectors_file, vectors_view
from imagesearch.ingest.facts import facts_table
from imagesearch.ingest.prepare import loads_facts, run_key
from imagesearch.ingest.types import Embedded
from imagesearch.vectors import FloatArray

Rows = dict[str, np.ndarray[Any, Any]]  # position, vector, error (+ whatever else a stage adds)
Mask = np.ndarray[Any, Any]  # an index or boolean array over rows
MERGED_VECTORS_NAME = ".merged-vectors.faiss"  # beside the vectors file; the commit moves it there


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


def shard_paths(work_dir: Path) -> list[Path]:
    """Every shard under ``work_dir`` (none yet: no rows)."""
    return sorted(work_dir.glob("shard-*.npz"))


def load_rows(paths: Iterable[Path], dim: int, vectors: bool = True) -> Rows:
    """The rows of ``paths``, concatenated; a file whose vectors are not ``dim`` wide is refused.
    Without ``vectors`` the vector column is left out (read only to check its width, one file
    at a time)."""
    parts: list[Rows] = []
    for path in paths:
        with np.load(path) as saved:
            if saved["vector"].shape != (len(saved["position"]), dim):
                raise SourceError(f"checkpoint {path} does not fit this encoder; rerun with --no-resume")
            part = {key: saved[key] for key in ("position", "vector", "error") if vectors or key != "vector"}
            part["facts"] = saved["facts"] if "facts" in saved else np.full(len(part["position"]), "")
            parts.append(part)
    empty: Rows = {
        "position": np.zeros(0, dtype=np.int64),
        "vector": np.zeros((0, dim), dtype=np.float32),
        "error": np.zeros(0, dtype=np.str_),
        "facts": np.zeros(0, dtype=np.str_),
    }
    keys = [key for key in empty if vectors or key != "vector"]
    return {key: np.concatenate([empty[key], *(part[key] for part in parts)]) for key in keys}


def collect(rows: Rows, total: int) -> Embedded:
    """(vectors of the rows that succeeded, their positions, failures) in position order, when
    ``rows`` hold each of the ``total`` positions exactly once."""
    order, ok = _ordered(rows, total)
    vectors = np.ascontiguousarray(rows["vector"][order][ok], dtype=np.float32)
    return _embedded(rows, order, ok, vectors)


def collect_files(paths: Sequence[Path], total: int, dim: int, vectors_file: Path | None) -> Embedded:
    """``collect(load_rows(paths, dim), total)``; with ``vectors_file``, the vectors are merged
    from the checkpoints into that new vectors file (index_files.create_vectors_file), in position
    order, one checkpoint in RAM at a time, and ``Embedded.vectors`` is its read-only map."""
    if vectors_file is None:
        return collect(load_rows(paths, dim), total)
    rows = load_rows(paths, dim, vectors=False)
    order, ok = _ordered(rows, total)
    if not ok.any():
        return _embedded(rows, order, ok, np.zeros((0, dim), dtype=np.float32))
    row_of = np.full(total, -1, dtype=np.int64)  # position -> row in the vectors file
    row_of[rows["position"][order][ok]] = np.arange(int(ok.sum()))
    target = create_vectors_file(vectors_file, int(ok.sum()), dim)
    for path in paths:
        with np.load(path) as saved:
            rows_here = row_of[saved["position"]]
            kept = rows_here >= 0
            target[rows_here[kept]] = saved["vector"][kept]
    target.flush()
    del target
    with vectors_file.open("rb") as handle:
        os.fsync(handle.fileno())
    return _embedded(rows, order, ok, vectors_view(vectors_file, int(ok.sum()), dim))


def merged_vectors(settings: Settings, dim: int, n: int) -> Path | None:
    """Where the engines merge their checkpoints' vectors for ``n`` images: the two-stage index's
    vectors file-to-be, beside the index (the commit moves it), when the settings' index for ``n``
    vectors is a two-stage one; None when the index holds its vectors in RAM anyway."""
    if not n or not two_stage.is_two_stage(choose_factory(n, dim, settings)):
        return None
    return settings.vectors_path.parent / MERGED_VECTORS_NAME


def _ordered(rows: Rows, total: int) -> tuple[Mask, Mask]:
    """(the order that sorts ``rows`` by position, which of the sorted rows succeeded), once it is
    checked that they hold each of the ``total`` positions exactly once."""
    order = np.argsort(rows["position"], kind="stable")
    positions = rows["position"][order]
    if not np.array_equal(positions, np.arange(total)):
        raise SourceError(
            f"the run's checkpoints hold {len(positions)} rows for {total} images (lost or repeated); "
            "rerun with --no-resume"
        )
    return order, rows["error"][order] == ""


def _embedded(rows: Rows, order: Mask, ok: Mask, vectors: FloatArray) -> Embedded:
    positions, messages = rows["position"][order], rows["error"][order]
    failures = [
        (int(position), str(error)) for position, error in zip(positions[~ok], messages[~ok], strict=True)
    ]
    facts = facts_table([loads_facts(str(text)) for text in rows["facts"][order][ok]])
    return Embedded(vectors, positions[ok].astype(np.int64), failures, facts)
