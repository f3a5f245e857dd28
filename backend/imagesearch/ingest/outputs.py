"""What a run writes besides the vectors: the metadata table it commits with the index, and the
reports beside it (pipeline_failures.csv, metadata_problems.csv)."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from pathlib import Path

from imagesearch.files import write_bytes_atomic
from imagesearch.index.metadata import MetadataTable
from imagesearch.ingest.sources import SourceRecords

logger = logging.getLogger(__name__)

METADATA_PROBLEMS_NAME = "metadata_problems.csv"


def combine_metadata(columns: MetadataTable | None, facts: MetadataTable) -> MetadataTable:
    """The CSV's columns, then the image facts; a CSV column wins over a fact of the same name."""
    if columns is None:
        return facts
    clash = [name for name in facts.columns if name in columns.columns]
    if clash:
        logger.info("the CSV's own columns %s are kept instead of the image facts of that name", clash)
    kept = {name: column for name, column in facts.columns.items() if name not in columns.columns}
    return MetadataTable(columns.rows, {**columns.columns, **kept})


def write_problems(path: Path, records: SourceRecords) -> None:
    """metadata_problems.csv: each CSV cell that did not fit its column's type (stored as missing)."""
    if not records.problems:
        path.unlink(missing_ok=True)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row", "column", "value", "problem"])
    for problem in records.problems:
        writer.writerow([problem.row, problem.column, problem.value, problem.message])
    write_bytes_atomic(path, buffer.getvalue().encode())
    logger.warning(
        "%d metadata cells could not be read as their column's type; see %s", len(records.problems), path
    )


def write_failures(path: Path, failures: list[tuple[int, str]], sources: Sequence[str]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["position", "source", "error"])
    for position, error in failures:
        writer.writerow([position, sources[position], error])
    write_bytes_atomic(path, buffer.getvalue().encode())
