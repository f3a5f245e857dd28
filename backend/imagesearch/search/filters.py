"""Metadata filters: a small expression language (after Meilisearch's) compiled to a boolean mask.

``compile_filter(text, fields)`` parses and type-checks a filter once; ``CompiledFilter.mask``
evaluates it over a ``MetadataTable`` as a (rows,) bool mask; ``FilterEngine`` does both for one
loaded table, with the column encodings and an LRU cache of masks. Every failure is a
``FilterError`` whose ``position`` points at the offending part. User guide: ``docs/filters.md``.

Syntax (``filter_syntax.py``: a Lark LALR grammar; keywords are case-insensitive)::

    field = v      field != v     field > v     field >= v     field < v     field <= v
    field v1 TO v2                (inclusive range)
    field IN [v1, v2, ...]        field NOT IN [v1, v2, ...]
    field EXISTS                  field NOT EXISTS
    field IS NULL                 field IS NOT NULL     (a missing value is null)
    field IS EMPTY                field IS NOT EMPTY    ("" or an empty list)
    NOT expr      expr AND expr      expr OR expr      ( expr )

AND binds tighter than OR. A field is a name (letters, digits, ``_ . -``, not starting with a
digit) or backtick-quoted (`` `camera model` ``). A value is a quoted string (``"..."`` or
``'...'``, backslash escapes), a number (``-1.5e3``), a bare word (``beach``, ``true``) or a bare
date (``2020``, ``2020-05``, ``2020-05-01``, ``2020-05-01T10:00:00Z``); a keyword used as a value
must be quoted.

Meaning, by the field's type (``filter_plan.py``):

- string: ``=``, ``!=``, IN compare case-insensitively (casefolded); ``<``, ``>``, TO compare
  casefolded strings in code-point order.
- number: every comparison; a value that is not a number is an error.
- boolean: ``=``, ``!=``, IN and NOT IN with ``true`` / ``false`` only.
- datetime: a date literal is the interval of its precision (``2020``: the whole year;
  ``2020-05-01``: that day; ``...T10:00``: that minute); ``>=`` compares with its start, ``>`` with
  its end, ``<`` with its start, ``<=`` with its end, ``=`` means inside it, ``a TO b`` runs from the
  start of a to the end of b. A time without ``Z`` or an offset, and a plain date, are UTC.
- list (of strings): ``=`` any element equals (case-insensitively), IN any element is listed;
  ordering comparisons and TO are errors.

A missing value satisfies no comparison. Each negative form is the exact complement of its positive
form, as in Meilisearch: ``!=``, NOT IN, NOT EXISTS, IS NOT EMPTY and ``NOT expr`` all include the
rows without the field (IS NULL is NOT EXISTS; IS NOT NULL is EXISTS). IS EMPTY is never true of a
number, boolean or datetime.

Limits: at most 2,000 characters and 32 levels of parentheses and NOT.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from imagesearch.errors import FilterError
from imagesearch.index.metadata import FieldType, MetadataTable
from imagesearch.search.filter_masks import ColumnEncodings, evaluate
from imagesearch.search.filter_plan import Plan, fields_of, plan_filter
from imagesearch.search.filter_syntax import parse_filter

__all__ = ["ColumnEncodings", "CompiledFilter", "FilterEngine", "FilterError", "compile_filter"]


@dataclass(frozen=True)
class CompiledFilter:
    """A parsed, type-checked filter: ``text`` as given, ``fields_used`` the fields it reads."""

    text: str
    fields_used: frozenset[str]
    field_types: Mapping[str, FieldType] = field(repr=False)
    plan: Plan = field(repr=False)

    def mask(self, table: MetadataTable, encodings: ColumnEncodings | None = None) -> npt.NDArray[np.bool_]:
        """(table.rows,) bool: True where the row matches. ``encodings`` must be of ``table``
        (pass the same one each time to encode each column once); a new array each call.

        Raises FilterError when ``table`` lacks a field the filter uses, or has it with another type."""
        if encodings is None:
            encodings = ColumnEncodings(table)
        elif encodings.table is not table:
            raise ValueError("the column encodings are of another table")
        for name, type_ in self.field_types.items():
            column = table.columns.get(name)
            if column is None or column.type != type_:
                found = "no such field" if column is None else f"a {column.type} field"
                raise FilterError(f"the filter uses {name!r} as a {type_} field; this table has {found}")
        return evaluate(self.plan, table, encodings)


def compile_filter(text: str, fields: Mapping[str, FieldType]) -> CompiledFilter:
    """The filter ``text`` for fields ``fields`` (name -> type); raises FilterError."""
    plan = plan_filter(parse_filter(text), fields)
    used = fields_of(plan)
    return CompiledFilter(text, used, {name: fields[name] for name in sorted(used)}, plan)


class FilterEngine:
    """Filters over one loaded table: encodings built once, masks of recent filters cached (LRU).

    Thread-safe. Each cached mask is (rows,) bool, read-only and shared between callers; the cache
    holds at most ``cache_size`` of them (``cache_size * rows`` bytes)."""

    def __init__(self, table: MetadataTable, cache_size: int = 128) -> None:
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, not {cache_size}")
        self.table = table
        self.fields: dict[str, FieldType] = table.fields
        self.encodings = ColumnEncodings(table)
        self._cache_size = cache_size
        self._cache: OrderedDict[str, npt.NDArray[np.bool_]] = OrderedDict()
        self._lock = threading.Lock()

    def compile(self, text: str) -> CompiledFilter:
        return compile_filter(text, self.fields)

    def mask(self, text: str) -> npt.NDArray[np.bool_]:
        """(rows,) bool, read-only: the rows that match filter ``text``; raises FilterError."""
        with self._lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return cached
        # Outside the lock: a slow filter does not hold up others (two threads may both compute one).
        mask = self.compile(text).mask(self.table, self.encodings)
        mask.flags.writeable = False
        with self._lock:
            self._cache[text] = mask
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return mask
