"""What a parsed filter means for a table's fields: the type rules, and the plan a mask is computed from.

``plan_filter(expression, fields)`` checks every condition against its field's type (unknown
field, value of the wrong type, operator that does not apply: FilterError at the offending token)
and turns it into a few plan nodes over converted values:

- ``Equals(field, values)``: the field equals one of ``values`` (strings casefolded; for a list
  field: any element does);
- ``Range(field, low, high, low_open, high_open)``: between two bounds (None: unbounded), strings
  casefolded, datetimes in epoch milliseconds;
- ``Exists(field)``, ``IsEmpty(field)``, and ``Negation``, ``AllOf``, ``AnyOf`` to combine them.

A date literal is an interval at its precision (``date_interval``), so ``taken = 2020`` is a
``Range`` over all of 2020 and ``!=`` / ``NOT IN`` are the ``Negation`` of ``=`` / ``IN``.
"""

from __future__ import annotations

import calendar
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from imagesearch.errors import FilterError
from imagesearch.index.metadata import FieldType
from imagesearch.search.filter_syntax import (
    KEYWORDS,
    AndExpr,
    Condition,
    Expression,
    Field,
    NotExpr,
    OrExpr,
    Value,
)

Scalar = str | float | int | bool


@dataclass(frozen=True)
class Equals:
    field: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Range:
    field: str
    low: Scalar | None
    high: Scalar | None
    low_open: bool = False
    high_open: bool = False


@dataclass(frozen=True)
class Exists:
    field: str


@dataclass(frozen=True)
class IsEmpty:
    field: str


@dataclass(frozen=True)
class Negation:
    operand: Plan


@dataclass(frozen=True)
class AllOf:
    operands: tuple[Plan, ...]


@dataclass(frozen=True)
class AnyOf:
    operands: tuple[Plan, ...]


Plan = Equals | Range | Exists | IsEmpty | Negation | AllOf | AnyOf

_MATCHING = ("=", "!=", "IN", "NOT IN")
_ORDERED = (*_MATCHING, ">", ">=", "<", "<=", "TO")
_OPERATORS: dict[FieldType, tuple[str, ...]] = {
    "string": _ORDERED,
    "number": _ORDERED,
    "datetime": _ORDERED,
    "boolean": _MATCHING,
    "list": _MATCHING,
}
_DATE_FORMS = "2020, 2020-05, 2020-05-01 or 2020-05-01T10:00:00Z"


def plan_filter(expression: Expression, fields: Mapping[str, FieldType]) -> Plan:
    """The plan of ``expression`` for ``fields``; raises FilterError where they do not fit."""
    if isinstance(expression, NotExpr):
        return Negation(plan_filter(expression.operand, fields))
    if isinstance(expression, AndExpr):
        return AllOf(tuple(plan_filter(operand, fields) for operand in expression.operands))
    if isinstance(expression, OrExpr):
        return AnyOf(tuple(plan_filter(operand, fields) for operand in expression.operands))
    return _plan_condition(expression, _field_type(expression.field, fields))


def fields_of(plan: Plan) -> frozenset[str]:
    if isinstance(plan, Negation):
        return fields_of(plan.operand)
    if isinstance(plan, AllOf | AnyOf):
        return frozenset().union(*(fields_of(operand) for operand in plan.operands))
    return frozenset({plan.field})


def _plan_condition(condition: Condition, type_: FieldType) -> Plan:
    name, op = condition.field.name, condition.op
    if op in ("EXISTS", "NOT EXISTS", "IS NULL", "IS NOT NULL"):
        exists = Exists(name)
        return exists if op in ("EXISTS", "IS NOT NULL") else Negation(exists)
    if op in ("IS EMPTY", "IS NOT EMPTY"):
        return IsEmpty(name) if op == "IS EMPTY" else Negation(IsEmpty(name))
    if op not in _OPERATORS[type_]:
        raise FilterError(
            f"{_shown(name)} is a {type_} field; {op!r} does not apply (use =, !=, IN or NOT IN) "
            f"(position {condition.op_pos})",
            condition.op_pos,
        )
    if type_ == "datetime":
        return _plan_dates(condition)
    values = tuple(_convert(condition.field, type_, value) for value in condition.values)
    if op in ("=", "IN", "!=", "NOT IN"):
        equals = Equals(name, values)
        return equals if op in ("=", "IN") else Negation(equals)
    if op == "TO":
        return Range(name, values[0], values[1])
    return _half_range(name, op, values[0], values[0])


def _plan_dates(condition: Condition) -> Plan:
    name, op = condition.field.name, condition.op
    intervals = [_interval(condition.field, value) for value in condition.values]
    if op == "TO":
        return Range(name, intervals[0][0], intervals[1][1])
    if op in ("=", "IN", "!=", "NOT IN"):
        inside = tuple(Range(name, start, end) for start, end in intervals)
        positive = inside[0] if op in ("=", "!=") else AnyOf(inside)
        return positive if op in ("=", "IN") else Negation(positive)
    start, end = intervals[0]
    return _half_range(name, op, start, end)


def _half_range(name: str, op: str, start: Scalar, end: Scalar) -> Range:
    """``>=`` compares with the start of the value's interval, ``>`` with its end, and so on."""
    if op == ">=":
        return Range(name, start, None)
    if op == ">":
        return Range(name, end, None, low_open=True)
    if op == "<":
        return Range(name, None, start, high_open=True)
    return Range(name, None, end)  # <=


def _convert(field: Field, type_: FieldType, value: Value) -> Scalar:
    if type_ in ("string", "list"):
        return value.text.casefold()
    if type_ == "number":
        number = _number(value)
        if number is None:
            raise _type_error(field, type_, value, "is not a number")
        return number
    word = value.text.casefold()
    if value.kind not in ("word", "string") or word not in ("true", "false"):
        raise _type_error(field, type_, value, "is not true or false")
    return word == "true"


def _number(value: Value) -> float | None:
    if value.kind not in ("number", "string"):
        return None
    try:
        number = float(value.text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _interval(field: Field, value: Value) -> tuple[int, int]:
    interval = date_interval(value.text)
    if interval is None:
        raise _type_error(field, "datetime", value, f"is not a date (write {_DATE_FORMS})")
    return interval


def date_interval(text: str) -> tuple[int, int] | None:
    """First and last millisecond (UTC epoch, inclusive) of a date literal at its precision.

    ``2020`` is the year, ``2020-05`` the month, ``2020-05-01`` the day, ``...T10`` / ``T10:00`` /
    ``T10:00:00`` the hour / minute / second, with fractions exact to the millisecond; a time
    without ``Z`` or an offset is UTC. None for anything else (``2020-13``, ``yesterday``)."""
    day, _, clock = text.partition("T")
    parts = day.split("-")
    if (
        len(parts) > 3
        or not all(part.isascii() and part.isdigit() for part in parts)
        or [len(part) for part in parts] != [4, 2, 2][: len(parts)]
        or (clock and len(parts) != 3)
    ):
        return None
    try:
        return _clock_interval(text, clock) if clock else _calendar_interval(*map(int, parts))
    except (ValueError, OverflowError):
        return None


def _calendar_interval(year: int, month: int | None = None, day: int | None = None) -> tuple[int, int]:
    start = datetime(year, month or 1, day or 1, tzinfo=UTC)
    if day is not None:
        length = timedelta(days=1)
    elif month is not None:
        length = timedelta(days=calendar.monthrange(year, month)[1])
    else:
        length = timedelta(days=366 if calendar.isleap(year) else 365)
    first = _ms(start)
    return first, first + length // timedelta(milliseconds=1) - 1


def _clock_interval(text: str, clock: str) -> tuple[int, int]:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    hms = clock.rstrip("Zz").split("+")[0].split("-")[0]
    units = hms.split(".")[0].split(":")
    if len(units) > 3 or any(len(unit) != 2 for unit in units):
        raise ValueError(f"not a time of day: {clock!r}")
    step_ms = 1 if "." in hms else (3_600_000, 60_000, 1000)[len(units) - 1]
    first = _ms(moment)
    return first, first + step_ms - 1


def _ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _field_type(field: Field, fields: Mapping[str, FieldType]) -> FieldType:
    if field.name in fields:
        return fields[field.name]
    names = sorted(fields)
    message = f"unknown field {field.name!r} (position {field.pos})"
    folded = {name.casefold(): name for name in names}
    close = difflib.get_close_matches(field.name, names, n=1, cutoff=0.6) or [
        folded[match] for match in difflib.get_close_matches(field.name.casefold(), folded, n=1)
    ]
    if close:
        message += f"; did you mean {close[0]!r}?"
    if not names:
        message += "; this index has no metadata fields"
    else:
        listed = ", ".join(_shown(name) for name in names[:30])
        message += f"; known fields: {listed}{', …' if len(names) > 30 else ''}"
    raise FilterError(message, field.pos)


def _type_error(field: Field, type_: FieldType, value: Value, problem: str) -> FilterError:
    return FilterError(
        f"{_shown(field.name)} is a {type_} field; {value.text!r} {problem} (position {value.pos})",
        value.pos,
    )


def _shown(name: str) -> str:
    """A field name as the user would write it: backticks around one that is not a bare name."""
    bare = name[:1].isalpha() or name[:1] == "_"
    if bare and all(c.isalnum() or c in "_.-" for c in name) and name.upper() not in KEYWORDS:
        return name
    return f"`{name}`"
