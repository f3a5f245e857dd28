"""Ordering results by metadata fields (``sort=field:asc|desc,...``) instead of by relevance.

Keys apply in the order given; rows without a value come last under every key, in both
directions; strings compare case-insensitively; what every key leaves tied keeps the relevance
order (score descending, then id ascending), so the order is total and deterministic. List
fields cannot be sorted on (a list has no single place in an order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imagesearch.errors import InvalidQueryError
from imagesearch.index.metadata import Column, FieldType, MetadataTable
from imagesearch.search.ranking import Ranked

DIRECTIONS = ("asc", "desc")


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class SortSpec:
    """Sort keys, most significant first (never empty)."""

    keys: tuple[SortKey, ...]


def parse_sort(text: str, fields: Mapping[str, FieldType]) -> SortSpec:
    """``"taken:desc,title"`` -> SortSpec; ``field`` alone sorts ascending.

    ``fields``: the index's field name -> type (``MetadataTable.fields``). InvalidQueryError for
    an empty text or key, an unknown or repeated field, a list field or a direction other than
    asc / desc (case-insensitive).
    """
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or not all(parts):
        raise InvalidQueryError(f"sort {text!r} is empty or has an empty key; write field:asc|desc[,...]")
    keys: list[SortKey] = []
    for part in parts:
        name, _, direction = (piece.strip() for piece in part.partition(":"))
        key = _sort_key(name, direction.lower() if ":" in part else "asc", fields)
        if any(existing.field == key.field for existing in keys):
            raise InvalidQueryError(f"sort field {name!r} is given twice")
        keys.append(key)
    return SortSpec(tuple(keys))


def _sort_key(name: str, direction: str, fields: Mapping[str, FieldType]) -> SortKey:
    if name not in fields:
        known = ", ".join(sorted(fields)) or "none: the index has no metadata fields"
        raise InvalidQueryError(f"cannot sort on unknown field {name!r}; known fields: {known}")
    if fields[name] == "list":
        raise InvalidQueryError(f"cannot sort on {name!r}: it is a list field")
    if direction not in DIRECTIONS:
        raise InvalidQueryError(f"sort direction for {name!r} must be asc or desc, not {direction!r}")
    return SortKey(name, descending=direction == "desc")


def sort_ranked(items: list[Ranked], table: MetadataTable, spec: SortSpec) -> list[Ranked]:
    """``items`` (ids are rows of ``table``) in ``spec``'s order; a new list, items unchanged.

    KeyError for a field ``table`` lacks, IndexError for an id outside it (parse_sort checks
    the first against the same table)."""
    if not items:
        return []
    rows = np.fromiter((item.id for item in items), dtype=np.int64, count=len(items))
    if rows.min() < 0 or rows.max() >= table.rows:
        raise IndexError(f"result ids must be rows of the metadata table (0..{table.rows - 1})")
    scores = np.fromiter((item.score for item in items), dtype=np.float64, count=len(items))
    # np.lexsort sorts by its last key first: the relevance tie-break goes in first.
    lex: list[npt.NDArray[np.generic]] = [rows, -scores]
    for key in reversed(spec.keys):
        ranks, missing = _ranks(table.columns[key.field], rows)
        lex += [-ranks if key.descending else ranks, missing]
    order = np.lexsort(lex)
    return [items[int(i)] for i in order]


def _ranks(
    column: Column, rows: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """(dense rank of each row's value, True where it has none); equal values share a rank."""
    values = column.values[rows]
    missing = ~column.present[rows]
    if column.type == "string":
        values = np.array([str(value).casefold() for value in values], dtype=object)
    elif column.type == "number":
        missing = missing | np.isnan(values)
    values = values.copy()
    values[missing] = values[~missing][0] if (~missing).any() else values[0]
    _, ranks = np.unique(values, return_inverse=True)
    return ranks.astype(np.int64), missing
