"""Facet counts over a query's matching rows: value counts, or ranges for numbers and dates.

``facet_counts`` returns field -> :class:`Facet`, plain dicts and lists ready for ``json.dumps``::

    {"colour": {"type": "string", "distinct": 14, "buckets": [
        {"value": "Red", "count": 120}, {"value": "blue", "count": 75}, ..., {"value": null, "count": 9}]},
     "width": {"type": "number", "min": 120, "max": 4032, "buckets": [
        {"from": 0, "to": 500, "count": 31}, ..., {"from": 4000, "to": 4500, "count": 2},
        {"value": null, "count": 3}]},
     "taken": {"type": "datetime", "min": "2019-03-02T10:00:00Z", "max": "2024-11-30T08:12:00Z",
        "buckets": [{"from": "2019-01-01T00:00:00Z", "to": "2020-01-01T00:00:00Z", "count": 40}, ...]}}

- string / boolean / list: ``{"value", "count"}`` buckets, count descending then value
  ascending, the top ``limit``; ``distinct`` is how many values there are in all. Strings (list
  elements too) are grouped case-insensitively and shown in their most common spelling (ties:
  the smallest). A list row counts each of its elements once.
- number / datetime: ``{"from", "to", "count"}`` ranges, half-open ``[from, to)`` except the
  last, which is closed; empty ranges between others are kept (a histogram). Numbers step by
  1, 2 or 5 x 10^n, datetimes by calendar hours, days, months or years (ISO 8601 UTC), whichever
  is finest with at most ``MAX_RANGES`` buckets. ``min`` / ``max``: the smallest and largest
  value (None when no row has one).
- Every facet ends with ``{"value": null, "count": n}`` when ``n`` rows have no value (for
  lists: no element; for numbers: also NaN and infinities).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NotRequired, TypedDict

import numpy as np
import numpy.typing as npt
import pandas as pd

from imagesearch.errors import InvalidQueryError
from imagesearch.index.metadata import Column, FieldType, JsonValue, MetadataTable, ms_to_iso

MAX_RANGES = 10
# The functional syntax because "from" is a Python keyword. Values {value, count}, ranges {from, to, count}.
FacetBucket = TypedDict(
    "FacetBucket",
    {
        "value": NotRequired[JsonValue],
        "count": int,
        "from": NotRequired[JsonValue],
        "to": NotRequired[JsonValue],
    },
)
IntArray = npt.NDArray[np.int64]
# Calendar steps, finest first: (NumPy datetime unit, multiples); weeks start on Monday.
_CALENDAR: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("h", (1, 2, 3, 6, 12)),
    ("D", (1, 2, 7, 14)),
    ("M", (1, 2, 3, 6)),
    ("Y", tuple(m * 10**e for e in range(9) for m in (1, 2, 5))),
)
_MONDAY = 4  # 1970-01-05, in days since the epoch


class Facet(TypedDict):
    type: FieldType
    buckets: list[FacetBucket]
    distinct: NotRequired[int]  # value facets
    min: NotRequired[JsonValue]  # range facets
    max: NotRequired[JsonValue]


def facet_counts(
    table: MetadataTable, rows: npt.NDArray[np.int64], fields: Sequence[str], limit: int = 20
) -> dict[str, Facet]:
    """Facets of ``fields`` over ``rows`` (int64 (n,), every matching row, not one page).

    InvalidQueryError for a field the table lacks (naming the known ones) or ``limit`` < 1."""
    unknown = [name for name in fields if name not in table.columns]
    if unknown:
        known = ", ".join(table.columns) or "none: the index has no metadata fields"
        raise InvalidQueryError(f"cannot facet on unknown field {unknown[0]!r}; known fields: {known}")
    if limit < 1:
        raise InvalidQueryError(f"facet limit must be at least 1, not {limit}")
    index = np.asarray(rows, dtype=np.int64)
    facets: dict[str, Facet] = {}
    for name in fields:
        column = table.columns[name]
        if column.type in ("number", "datetime"):
            facets[name] = _range_facet(column, index)
        else:
            facets[name] = _value_facet(column, index, limit)
    return facets


# --- value counts -----------------------------------------------------------------------------


def _value_facet(column: Column, rows: IntArray, limit: int) -> Facet:
    present = column.present[rows]
    values = column.values[rows][present]
    if column.type == "boolean":
        counts = np.bincount(values.astype(np.int64), minlength=2)
        labels: list[JsonValue] = [False, True]
        order = np.lexsort((np.arange(2), -counts))
    else:
        element_rows, elements = _elements(column, values)
        counts, labels, ranks = _group_strings(elements, element_rows)
        order = np.lexsort((ranks, -counts))
        present = present.copy()
        present[np.flatnonzero(present)] = np.bincount(element_rows, minlength=len(values)) > 0
    order = order[counts[order] > 0]
    buckets: list[FacetBucket] = [{"value": labels[int(i)], "count": int(counts[i])} for i in order[:limit]]
    return {"type": column.type, "buckets": _with_missing(buckets, present), "distinct": len(order)}


def _elements(column: Column, values: np.ndarray) -> tuple[IntArray, np.ndarray]:
    """(row position of each element (m,), the elements (m,) object str): lists flattened."""
    if column.type != "list":
        return np.arange(len(values), dtype=np.int64), values
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    elements = np.empty(int(lengths.sum()), dtype=object)
    elements[:] = list(itertools.chain.from_iterable(values))
    return np.repeat(np.arange(len(values), dtype=np.int64), lengths), elements


def _group_strings(
    elements: np.ndarray, element_rows: IntArray
) -> tuple[npt.NDArray[np.int64], list[JsonValue], IntArray]:
    """Case-insensitive groups of ``elements``: (rows per group, shown spelling, rank by value).

    A row holding one value twice (a list ``("a", "A")``) counts once."""
    codes, spellings = pd.factorize(elements)  # a hash-based np.unique: object arrays sort slowly
    spelling_counts = np.bincount(codes, minlength=len(spellings))
    keys = np.array([str(text).casefold() for text in spellings], dtype=object)
    group_of, group_keys = pd.factorize(keys)
    groups = len(group_keys)
    counts = np.bincount(_once_per_row(group_of[codes], element_rows, groups), minlength=groups)
    # Shown spelling: the group's most frequent, then the smallest.
    spelling_rank = np.argsort(np.argsort(np.asarray(spellings, dtype=object)))
    order = np.lexsort((spelling_rank, -spelling_counts, group_of))
    first = order[np.r_[True, group_of[order][1:] != group_of[order][:-1]]] if len(order) else order
    labels: list[JsonValue] = [str(spellings[i]) for i in first]
    key_rank = np.argsort(np.argsort(np.asarray(group_keys, dtype=object)))
    return counts.astype(np.int64), labels, key_rank.astype(np.int64)


def _once_per_row(groups_of: IntArray, element_rows: IntArray, groups: int) -> IntArray:
    """``groups_of`` without the repeats of a group within one row (rows ascending)."""
    if len(element_rows) < 2 or not (element_rows[1:] == element_rows[:-1]).any():
        return groups_of  # one element per row (strings): nothing repeats
    pairs = np.sort(element_rows * groups + groups_of)  # sorting: np.unique hashes int64 slowly
    return pairs[np.r_[True, pairs[1:] != pairs[:-1]]] % groups


def _with_missing(buckets: list[FacetBucket], present: npt.NDArray[np.bool_]) -> list[FacetBucket]:
    missing = int(len(present) - np.count_nonzero(present))
    return [*buckets, {"value": None, "count": missing}] if missing else buckets


# --- ranges -----------------------------------------------------------------------------------


def _range_facet(column: Column, rows: IntArray) -> Facet:
    present = column.present[rows]
    values = column.values[rows]
    if column.type == "number":
        present = present & np.isfinite(values)
    values = values[present]
    buckets: list[FacetBucket] = []
    low: JsonValue = None
    high: JsonValue = None
    if len(values):
        if column.type == "number":
            low, high = _json_number(float(values.min())), _json_number(float(values.max()))
            edges, shown = _number_edges(float(values.min()), float(values.max()))
        else:
            low, high = ms_to_iso(int(values.min())), ms_to_iso(int(values.max()))
            edges, shown = _calendar_edges(int(values.min()), int(values.max()))
        buckets = _ranges(values, edges, shown)
    return {"type": column.type, "buckets": _with_missing(buckets, present), "min": low, "max": high}


def _ranges(values: np.ndarray, edges: np.ndarray, shown: list[JsonValue]) -> list[FacetBucket]:
    """Counts of ``values`` in ``[edges[i], edges[i+1])`` (the last closed); ``shown``: edges as JSON."""
    buckets = max(len(edges) - 1, 1)
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, buckets - 1)
    counts = np.bincount(index, minlength=buckets)
    return [
        {"from": shown[i], "to": shown[min(i + 1, len(shown) - 1)], "count": int(counts[i])}
        for i in range(buckets)
    ]


def _number_edges(low: float, high: float) -> tuple[np.ndarray, list[JsonValue]]:
    """Edges ``k * step`` around [low, high], step the finest 1/2/5 x 10^n giving <= MAX_RANGES."""
    if low == high:
        return np.array([low]), [_json_number(low)]
    exponent = int(np.floor(np.log10((high - low) / MAX_RANGES)))
    for power, mantissa in itertools.product(range(exponent, exponent + 3), (1, 2, 5)):
        step = mantissa * 10.0**power
        first = int(np.floor(low / step + 1e-9))
        count = max(int(np.ceil(high / step - 1e-9)) - first, 1)
        if count <= MAX_RANGES:
            break
    digits = max(0, -power)
    edges = np.round((first + np.arange(count + 1)) * step, digits)
    return edges, [_json_number(float(edge)) for edge in edges]


def _calendar_edges(low: int, high: int) -> tuple[np.ndarray, list[JsonValue]]:
    """Edges (epoch ms) on calendar boundaries around [low, high] ms, <= MAX_RANGES buckets."""
    for unit, multiples in _CALENDAR:
        low_unit, high_unit = (
            np.array([low, high], dtype="datetime64[ms]").astype(f"datetime64[{unit}]").astype(np.int64)
        )
        for step in multiples:
            origin = _MONDAY if unit == "D" and step % 7 == 0 else 0
            first = (int(low_unit) - origin) // step * step + origin
            count = (int(high_unit) - first) // step + 1
            if count > MAX_RANGES + 1:
                continue
            edges = _unit_ms(first + step * np.arange(count + 1), unit)
            if count > 1 and edges[-2] == high:  # the maximum on an edge: close the bucket before
                count, edges = count - 1, edges[:-1]
            if count <= MAX_RANGES:
                return edges, [ms_to_iso(int(edge)) for edge in edges]
    raise AssertionError("a step of 5e8 years covers every datetime64[ms]")


def _unit_ms(points: IntArray, unit: str) -> IntArray:
    return np.asarray(points.astype(f"datetime64[{unit}]").astype("datetime64[ms]").astype(np.int64))


def _json_number(number: float) -> int | float:
    return int(number) if number.is_integer() and abs(number) < 2**53 else number
