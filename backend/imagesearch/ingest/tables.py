"""CSV/TSV tables as the pipeline and the evaluation read them: every cell a string, columns found
by name (case-insensitive) or given, one error message for a missing column."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from imagesearch.errors import SourceError

# Column names that hold a caption, most preferred first. The pipeline keeps every column with
# one of these names (the seed's Unsplash CSV has photo_description and ai_description); the
# evaluation takes the first one present.
CAPTION_COLUMN_CANDIDATES = (
    "caption",
    "text",
    "description",
    "photo_description",
    "ai_description",
    "captions",
    "image_caption",
    "alt_description",
    "alt",
    "alt_text",
    "title",
)


def read_table(path: Path) -> pd.DataFrame:
    """The whole table, every cell a ``str`` ("" for empty cells); SourceError if unreadable."""
    separator = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        return pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read {path} as CSV: {exc}") from exc


def require_column(table: pd.DataFrame, path: Path, column: str) -> None:
    if column not in table.columns:
        raise SourceError(f"{path} has no column {column!r}; columns: {', '.join(map(str, table.columns))}")


def find_column(table: pd.DataFrame, path: Path, given: str | None, candidates: Sequence[str]) -> str | None:
    """``given`` (which must exist), else the first of ``candidates`` present by name, else None."""
    if given is not None:
        require_column(table, path, given)
        return given
    by_lower = {str(column).strip().lower(): str(column) for column in table.columns}
    return next((by_lower[name] for name in candidates if name in by_lower), None)


def is_candidate(column: object, candidates: Sequence[str]) -> bool:
    return str(column).strip().lower() in candidates
