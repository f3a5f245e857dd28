"""A filter plan evaluated over a metadata table: one vectorised NumPy pass per condition.

String and list columns are dictionary-encoded once per table (``ColumnEncodings``, cached):
their casefolded distinct values are sorted and numbered, so each row holds an integer code in
sorted order. ``=`` / ``IN`` then look the codes up in a small bool table (one gather), a
lexicographic range is a range of codes (two binary searches over the distinct values), and a
list column is its elements' codes laid end to end with the row of each element, so "any element
matches" is a gather and a scatter.
Numbers and datetimes are compared on their arrays directly; ``present`` excludes missing values.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imagesearch.index.metadata import Column, MetadataTable
from imagesearch.search.filter_plan import AllOf, AnyOf, Equals, Exists, IsEmpty, Negation, Plan, Range

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Dictionary:
    """Sorted distinct casefolded values; a value's code is its index in ``keys``."""

    keys: list[str]
    codes: dict[str, int]

    def matches(self, values: Iterable[object]) -> Mask:
        """(len(keys) + 1,) bool: True at the codes of ``values``; the last slot, False, is where a
        missing row's code (-1) lands, so ``matches(...)[codes]`` is a row mask in one gather."""
        lookup = np.zeros(len(self.keys) + 1, dtype=bool)
        lookup[[self.codes[v] for v in values if isinstance(v, str) and v in self.codes]] = True
        return lookup


@dataclass(frozen=True)
class StringCodes:
    """``codes``: (rows,) int32, the code of each row's value, -1 where it has none."""

    dictionary: Dictionary
    codes: npt.NDArray[np.int32]


@dataclass(frozen=True)
class ListCodes:
    """Every element of every row, in row order: ``codes`` (elements,) int32 and ``rows`` (elements,)
    int64 its row; ``lengths`` (rows,) int64 the number of elements of each row."""

    dictionary: Dictionary
    codes: npt.NDArray[np.int32]
    rows: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int64]


class ColumnEncodings:
    """The dictionary encodings of one table's string and list columns, built on first use; thread-safe."""

    def __init__(self, table: MetadataTable) -> None:
        self.table = table
        self._lock = threading.Lock()
        self._encodings: dict[str, StringCodes | ListCodes] = {}

    def strings(self, name: str) -> StringCodes:
        encoding = self._get(name)
        assert isinstance(encoding, StringCodes)
        return encoding

    def lists(self, name: str) -> ListCodes:
        encoding = self._get(name)
        assert isinstance(encoding, ListCodes)
        return encoding

    def _get(self, name: str) -> StringCodes | ListCodes:
        with self._lock:  # one build per column, even when many searches ask at once
            if name not in self._encodings:
                self._encodings[name] = _encode(self.table.columns[name])
            return self._encodings[name]


def _encode(column: Column) -> StringCodes | ListCodes:
    present = column.present
    if column.type == "string":
        dictionary, codes = _dictionary(
            value.casefold() if here else "" for value, here in zip(column.values, present, strict=True)
        )
        codes[~present] = -1
        return StringCodes(dictionary, codes)
    if column.type != "list":
        raise ValueError(f"a {column.type} column is not dictionary-encoded")
    lengths = np.fromiter(
        (len(items) if here else 0 for items, here in zip(column.values, present, strict=True)),
        dtype=np.int64,
        count=len(column),
    )
    dictionary, codes = _dictionary(
        item.casefold() for items, here in zip(column.values, present, strict=True) if here for item in items
    )
    rows = np.repeat(np.arange(len(column), dtype=np.int64), lengths)
    return ListCodes(dictionary, codes, rows, lengths)


def _dictionary(folded: Iterable[str]) -> tuple[Dictionary, npt.NDArray[np.int32]]:
    """Codes in order of first appearance (one dict lookup per value), then renumbered in sorted
    order, so only the distinct values are sorted."""
    first: dict[str, int] = {}
    raw = np.fromiter((first.setdefault(value, len(first)) for value in folded), dtype=np.int32)
    keys = sorted(first)
    rank = np.empty(len(keys), dtype=np.int32)
    rank[[first[key] for key in keys]] = np.arange(len(keys), dtype=np.int32)
    return Dictionary(keys, {key: code for code, key in enumerate(keys)}), rank[raw]


def evaluate(plan: Plan, table: MetadataTable, encodings: ColumnEncodings) -> Mask:
    """The (rows,) bool mask of ``plan`` over ``table``: a new array (no caller shares it)."""
    if isinstance(plan, Negation):
        return ~evaluate(plan.operand, table, encodings)
    if isinstance(plan, AllOf):
        mask = np.ones(table.rows, dtype=bool)
        for operand in plan.operands:
            if not mask.any():
                break
            mask &= evaluate(operand, table, encodings)
        return mask
    if isinstance(plan, AnyOf):
        mask = np.zeros(table.rows, dtype=bool)
        for operand in plan.operands:
            mask |= evaluate(operand, table, encodings)
        return mask
    column = table.columns[plan.field]
    if isinstance(plan, Exists):
        return column.present.copy()
    if isinstance(plan, IsEmpty):
        return _empty(column, plan.field, encodings)
    if isinstance(plan, Equals):
        return _equals(column, plan, encodings)
    return _range(column, plan, encodings)


def _empty(column: Column, name: str, encodings: ColumnEncodings) -> Mask:
    if column.type == "string":
        strings = encodings.strings(name)
        empty: Mask = strings.codes == strings.dictionary.codes.get("", -2)
        return empty
    if column.type == "list":
        no_items: Mask = column.present & (encodings.lists(name).lengths == 0)
        return no_items
    return np.zeros(len(column), dtype=bool)  # a number, boolean or date is never empty


def _equals(column: Column, plan: Equals, encodings: ColumnEncodings) -> Mask:
    if column.type == "string":
        strings = encodings.strings(plan.field)
        matched: Mask = strings.dictionary.matches(plan.values)[strings.codes]
        return matched
    if column.type == "list":
        lists = encodings.lists(plan.field)
        mask = np.zeros(len(column), dtype=bool)
        mask[lists.rows[lists.dictionary.matches(plan.values)[lists.codes]]] = True
        return mask
    return column.present & np.isin(column.values, np.asarray(plan.values, dtype=column.values.dtype))


def _range(column: Column, plan: Range, encodings: ColumnEncodings) -> Mask:
    if column.type == "string":
        strings = encodings.strings(plan.field)
        keys = strings.dictionary.keys
        low = 0 if plan.low is None else (bisect_right if plan.low_open else bisect_left)(keys, plan.low)
        high = (
            len(keys)
            if plan.high is None
            else (bisect_left if plan.high_open else bisect_right)(keys, plan.high)
        )
        return (strings.codes >= low) & (strings.codes < high)  # missing rows (-1) are below 0
    mask = column.present.copy()
    values = column.values
    if plan.low is not None:
        mask &= (values > plan.low) if plan.low_open else (values >= plan.low)
    if plan.high is not None:
        mask &= (values < plan.high) if plan.high_open else (values <= plan.high)
    return mask
