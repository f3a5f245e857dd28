"""Typed metadata from a CSV source's columns: one ``MetadataTable`` row per frame row, in order.

A column's type is inferred from its non-empty cells: the first of these that ALL of them parse as
(one odd cell makes the column a string, so nothing is silently dropped):

============ ====================================================================================
``boolean``  true / false / yes / no, any case
``number``   ints and floats; not with leading zeros ("01234" is a zip code, not 1234), not
             integers of more than 15 digits (ids float64 cannot hold exactly)
``datetime`` ISO 8601 dates and date-times ("2016-03-10", "2016-03-10 19:09:18.947",
             "2016-03-10T19:09:18+05:30"); naive times are UTC. A bare year ("2016") is a number
``list``     at least one cell holds the separator ("dog|beach") or is a JSON array of strings
             (``["dog", "beach"]``); a cell without the separator is a one-item list
``string``   everything else
============ ====================================================================================

A type given in ``MetadataOptions.types`` is used as asked: a cell that does not parse as it
becomes missing and is reported as a ``MetadataProblem`` (the rows stay aligned). Given types are
also a little more lenient than inference: booleans accept t/f, y/n and 1/0 (Unsplash writes
"t"), numbers accept leading zeros.

Empty cells (and NaN) are missing. The URL column is never metadata: it is each image's source.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from imagesearch.errors import SourceError
from imagesearch.index.metadata import FIELD_TYPES, Column, FieldType, MetadataTable, iso_to_ms

_BOOLEAN_WORDS = {"true": True, "false": False, "yes": True, "no": False}
_GIVEN_BOOLEAN_WORDS = {**_BOOLEAN_WORDS, "t": True, "f": False, "y": True, "n": False, "1": True, "0": False}
_NUMBER = re.compile(r"[+-]?(?P<int>\d*)(?P<frac>\.\d*)?(?:[eE][+-]?\d+)?")
_MAX_EXACT_DIGITS = 15
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
# A column of same-length tokens without spaces is a code (a hash, an id), never a list, even if
# the separator occurs in it: Unsplash's blur_hash uses "|" as one of its 83 digits.
_CODE_MIN_LENGTH = 16
_EXPECTED: dict[FieldType, str] = {
    "boolean": "a boolean (true/false, yes/no, t/f, y/n, 1/0)",
    "number": "a number (e.g. 42 or -3.5)",
    "datetime": "an ISO 8601 date or date-time (e.g. 2016-03-10 or 2016-03-10T19:09:18+01:00)",
    "list": 'a JSON array of strings (e.g. ["a", "b"])',
    "string": "a string",
}


@dataclass(frozen=True)
class MetadataOptions:
    """What the user asks for: which columns (None: every column but the URL column), type
    overrides (column -> field type, else inferred) and the separator of list cells."""

    columns: tuple[str, ...] | None = None
    types: Mapping[str, FieldType] = field(default_factory=dict)
    list_separator: str = "|"

    def __post_init__(self) -> None:
        for name, type_ in self.types.items():
            if type_ not in FIELD_TYPES:
                raise SourceError(
                    f"unknown metadata type {type_!r} for column {name!r}; one of {', '.join(FIELD_TYPES)}"
                )
        if not self.list_separator:
            raise SourceError("the metadata list separator must not be empty")


@dataclass(frozen=True)
class MetadataProblem:
    """A cell that did not parse as its column's given type (it is missing in the table)."""

    row: int  # 0-based data row of the frame (the CSV's line number minus 2)
    column: str
    value: str
    message: str


def table_metadata(
    frame: pd.DataFrame, url_column: str, options: MetadataOptions
) -> tuple[MetadataTable, list[MetadataProblem]]:
    """The typed metadata of ``frame``'s columns: row ``i`` of the table is the frame's row ``i``.

    Column names are the frame's, whitespace stripped. Raises SourceError for a name in
    ``options`` that is not a column (the message lists them) or that is the URL column.
    """
    positions = _column_positions(frame)
    url_name = str(url_column).strip()
    if url_name not in positions:
        raise SourceError(f"the URL column {url_column!r} is not among the columns: {', '.join(positions)}")
    given_types = {name.strip(): type_ for name, type_ in options.types.items()}
    chosen = _choose_columns([name for name in positions if name != url_name], url_name, options)
    columns: dict[str, Column] = {}
    problems: list[MetadataProblem] = []
    for name in chosen:
        texts = [cell_text(value) for value in frame.iloc[:, positions[name]]]
        given = given_types.get(name)
        type_ = given or infer_type([text for text in texts if text is not None], options.list_separator)
        values: list[Any] = []
        for row, text in enumerate(texts):
            value = None if text is None else _parse_or_none(type_, text, options.list_separator)
            if text is not None and value is None:  # only a given type can fail: inferred ones fit all
                problems.append(MetadataProblem(row, name, text, f"expected {_EXPECTED[type_]}"))
            values.append(value)
        columns[name] = Column.from_values(type_, values)
    return MetadataTable(len(frame), columns), problems


def infer_type(texts: Sequence[str], separator: str = "|") -> FieldType:
    """The type of a column whose non-empty, stripped cells are ``texts`` (string if none)."""
    if not texts:
        return "string"
    if all(text.lower() in _BOOLEAN_WORDS for text in texts):
        return "boolean"
    if all(_is_plain_number(text) for text in texts):
        return "number"
    if all(_is_iso_datetime(text) for text in texts):
        return "datetime"
    if _is_list_column(texts, separator):
        return "list"
    return "string"


def parse_value(type_: FieldType, text: str, separator: str = "|") -> Any:
    """``text`` (stripped, non-empty) as a value of ``type_`` for ``Column.from_values``: bool,
    float, epoch milliseconds, tuple of str, or str. Raises ValueError if it is not one."""
    if type_ == "boolean":
        try:
            return _GIVEN_BOOLEAN_WORDS[text.lower()]
        except KeyError:
            raise ValueError(text) from None
    if type_ == "number":
        number = float(text)
        if not math.isfinite(number):  # float() takes "nan" and "inf"; a CSV cell means neither
            raise ValueError(text)
        return number
    if type_ == "datetime":
        return iso_to_ms(text)
    if type_ == "list":
        return _parse_list(text, separator)
    return text


def cell_text(value: object) -> str | None:
    """A cell as stripped text, or None for an empty cell, NaN or None."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):  # type: ignore[call-overload]
        return None
    text = str(value).strip()
    return text or None


def _parse_or_none(type_: FieldType, text: str, separator: str) -> Any:
    try:
        return parse_value(type_, text, separator)
    except ValueError:
        return None


def _parse_list(text: str, separator: str) -> tuple[str, ...]:
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(text) from None
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ValueError(text)
        return tuple(items)
    return tuple(item.strip() for item in text.split(separator) if item.strip())


def _is_plain_number(text: str) -> bool:
    match = _NUMBER.fullmatch(text)
    if match is None or not (match["int"] or (match["frac"] or "")[1:]):
        return False
    digits = match["int"]
    if len(digits) > 1 and digits.startswith("0"):  # zip codes, phone numbers, padded ids
        return False
    is_integer = match["frac"] is None and "e" not in text.lower()
    return not (is_integer and len(digits) > _MAX_EXACT_DIGITS)


def _is_iso_datetime(text: str) -> bool:
    return _ISO_DATETIME.fullmatch(text) is not None and _parse_or_none("datetime", text, "|") is not None


def _is_list_column(texts: Sequence[str], separator: str) -> bool:
    if not any(text.startswith("[") or separator in text for text in texts):
        return False
    if any(_parse_or_none("list", text, separator) is None for text in texts):
        return False
    lengths = {len(text) for text in texts}
    is_code = (
        len(set(texts)) > 1
        and len(lengths) == 1
        and min(lengths) >= _CODE_MIN_LENGTH
        and not any(char.isspace() for text in texts for char in text)
    )
    return not is_code


def _column_positions(frame: pd.DataFrame) -> dict[str, int]:
    positions: dict[str, int] = {}
    for position, label in enumerate(frame.columns):
        name = str(label).strip()
        if name in positions:
            raise SourceError(f"two columns are named {name!r} (whitespace ignored); rename one")
        positions[name] = position
    return positions


def _choose_columns(available: list[str], url_name: str, options: MetadataOptions) -> list[str]:
    listing = ", ".join(available) or "(none)"
    chosen = available if options.columns is None else [name.strip() for name in options.columns]
    for name in [*chosen, *(name.strip() for name in options.types)]:
        if name == url_name:
            raise SourceError(f"{name!r} is the URL column (each image's source), not metadata")
        if name not in available:
            raise SourceError(f"no column {name!r} for metadata; columns: {listing}")
        if name not in chosen:
            raise SourceError(f"a type is given for {name!r}, which is not among the chosen columns")
    return list(dict.fromkeys(chosen))
