"""An independent oracle for the filter language: random tables, random filters, row-by-row truth.

``random_table`` builds a table with every field type and missing values; ``random_filter``
writes a random filter (text in random keyword case, quoting and spacing) together with a plain
Python predicate over ``MetadataTable.row`` dicts that says what it means. The predicate is written
from the rules in docs/filters.md, not from the implementation: strings compare casefolded, a date
literal is the half-open interval [start, start of the next unit), missing values fail every
comparison and every negative form is ``not`` its positive form.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from imagesearch.index.metadata import Column, MetadataTable

Row = dict[str, Any]
Predicate = Callable[[Row], bool]

WORDS = ["beach", "Beach", "BEACH", "sea", "Sea", "city", "forest", "Straße", "STRASSE", "night"]
STRINGS = [*WORDS, "Jane Doe", "jane doe", "", "O'Brien", 'say "hi"', "back\\slash", "é", "E"]
KEYWORDS = {"and", "or", "not", "to", "in", "exists", "is", "null", "empty"}
FIELDS = {
    "title": "string",
    "camera model": "string",
    "year": "number",
    "score": "number",
    "public": "boolean",
    "taken": "datetime",
    "tags": "list",
}
COMPARISONS = ["=", "!=", ">", ">=", "<", "<="]


def random_table(rng: random.Random, rows: int) -> MetadataTable:
    makers: dict[str, Callable[[], Any]] = {
        "title": lambda: rng.choice(STRINGS),
        "camera model": lambda: rng.choice(["Canon EOS", "canon eos", "Nikon", ""]),
        "year": lambda: rng.choice([rng.randint(2015, 2024), rng.uniform(2015, 2024), -1.5]),
        "score": lambda: rng.choice([0.0, 0.5, 1.0, rng.uniform(-2, 2), 1e3]),
        "public": lambda: rng.random() < 0.5,
        "taken": lambda: _random_moment(rng),
        "tags": lambda: tuple(rng.sample(WORDS, rng.randint(0, 3))),
    }
    columns = {
        name: Column.from_values(
            type_, [None if rng.random() < 0.15 else makers[name]() for _ in range(rows)]
        )  # type: ignore[arg-type]
        for name, type_ in FIELDS.items()
    }
    return MetadataTable(rows, columns)


def _random_moment(rng: random.Random) -> datetime:
    """Mostly near the edges of years, months, days and minutes, where intervals can go wrong."""
    edge = datetime(rng.randint(2018, 2022), rng.randint(1, 12), rng.choice([1, 28]), tzinfo=UTC)
    edge += timedelta(hours=rng.choice([0, 10, 23]), minutes=rng.choice([0, 30]))
    offset = rng.choice([0, 0, -1, 1, rng.randint(-(10**9), 10**9)])
    return edge + timedelta(milliseconds=offset)


def random_filter(rng: random.Random) -> tuple[str, Predicate]:
    text, predicate, _ = _random_tree(rng, 0)
    return text, predicate


def _random_tree(rng: random.Random, depth: int) -> tuple[str, Predicate, str]:
    """(text, predicate, kind): kind is "condition", "not", "and" or "or", so that the text gets
    parentheses where precedence needs them (OR inside AND, AND/OR under NOT), and at random elsewhere."""
    roll = rng.random()
    if depth >= 4 or roll < 0.4:
        return (*random_condition(rng), "condition")
    if roll < 0.55:
        text, inner, kind = _random_tree(rng, depth + 1)
        operand = f"({text})" if kind in ("and", "or") or rng.random() < 0.3 else text
        return f"{_kw(rng, 'NOT')} {operand}", lambda row: not inner(row), "not"
    kind = "and" if roll < 0.8 else "or"
    parts = [_random_tree(rng, depth + 1) for _ in range(rng.randint(2, 3))]
    texts = [
        f"({text})" if (kind == "and" and part_kind == "or") or rng.random() < 0.3 else text
        for text, _, part_kind in parts
    ]
    predicates = [predicate for _, predicate, _ in parts]
    text = f" {_kw(rng, kind.upper())} ".join(texts)
    if kind == "and":
        return text, lambda row: all(p(row) for p in predicates), kind
    return text, lambda row: any(p(row) for p in predicates), kind


def random_condition(rng: random.Random) -> tuple[str, Predicate]:
    name = rng.choice(list(FIELDS))
    field = f"`{name}`" if " " in name else name
    kind = rng.random()
    if kind < 0.1:
        return _random_check(rng, name, field)
    type_ = FIELDS[name]
    makers = {"string": _string_value, "number": _number_value, "boolean": _boolean_value}
    makers |= {"datetime": _date_value, "list": _string_value}
    ops = (
        [*COMPARISONS, "TO", "IN", "NOT IN"]
        if type_ in ("string", "number", "datetime")
        else ["=", "!=", "IN", "NOT IN"]
    )
    op = rng.choice(ops)
    if op in ("IN", "NOT IN"):
        values = [makers[type_](rng) for _ in range(rng.randint(0, 3))]
        text = f"{field} {_kw(rng, op)} [{', '.join(v for v, _ in values)}]"
        matches = [_matcher(type_, "=", v) for _, v in values]
        inside: Predicate = lambda row: name in row and any(m(row[name]) for m in matches)  # noqa: E731
        return text, (inside if op == "IN" else lambda row: not inside(row))
    if op == "TO":
        (low_text, low), (high_text, high) = makers[type_](rng), makers[type_](rng)
        above, below = _matcher(type_, ">=", low), _matcher(type_, "<=", high)
        return f"{field} {low_text} {_kw(rng, 'TO')} {high_text}", (
            lambda row: name in row and above(row[name]) and below(row[name])
        )
    value_text, value = makers[type_](rng)
    matcher = _matcher(type_, "=" if op == "!=" else op, value)
    positive: Predicate = lambda row: name in row and matcher(row[name])  # noqa: E731
    return f"{field} {op} {value_text}", (lambda row: not positive(row)) if op == "!=" else positive


def _random_check(rng: random.Random, name: str, field: str) -> tuple[str, Predicate]:
    check = rng.choice(["EXISTS", "NOT EXISTS", "IS NULL", "IS NOT NULL", "IS EMPTY", "IS NOT EMPTY"])
    exists: Predicate = lambda row: name in row  # noqa: E731
    empty: Predicate = lambda row: name in row and row[name] in ("", [])  # noqa: E731
    predicates: dict[str, Predicate] = {
        "EXISTS": exists,
        "IS NOT NULL": exists,
        "NOT EXISTS": lambda row: not exists(row),
        "IS NULL": lambda row: not exists(row),
        "IS EMPTY": empty,
        "IS NOT EMPTY": lambda row: not empty(row),
    }
    return f"{field} {' '.join(_kw(rng, word) for word in check.split())}", predicates[check]


def _matcher(type_: str, op: str, value: Any) -> Callable[[Any], bool]:
    """Whether a present row value satisfies ``op value`` (value already in the oracle's form)."""
    if type_ == "list":
        return lambda items: any(item.casefold() == value for item in items)
    if type_ == "datetime":
        start, end = value  # [start, end): the literal's interval, half open
        tests = {
            "=": lambda t: start <= t < end,
            ">=": lambda t: t >= start,
            ">": lambda t: t >= end,
            "<": lambda t: t < start,
            "<=": lambda t: t < end,
        }
        return lambda text: tests[op](datetime.fromisoformat(text.replace("Z", "+00:00")))
    fold = (lambda v: v.casefold()) if type_ == "string" else (lambda v: v)
    tests = {
        "=": lambda a: a == value,
        ">=": lambda a: a >= value,
        ">": lambda a: a > value,
        "<": lambda a: a < value,
        "<=": lambda a: a <= value,
    }
    return lambda v: tests[op](fold(v))


def _string_value(rng: random.Random) -> tuple[str, str]:
    value = rng.choice(STRINGS)
    cased = "".join(c.upper() if rng.random() < 0.3 else c for c in value)
    bare = cased.isalpha() and cased.isascii() and cased.casefold() not in KEYWORDS
    if bare and rng.random() < 0.5:
        return cased, cased.casefold()
    if "'" not in cased and rng.random() < 0.3:
        return "'" + cased.replace("\\", "\\\\") + "'", cased.casefold()
    return '"' + cased.replace("\\", "\\\\").replace('"', '\\"') + '"', cased.casefold()


def _number_value(rng: random.Random) -> tuple[str, float]:
    value = rng.choice([2015, 2018, 2020, 2024, 0, 0.5, 1, -1.5, 1000])
    text = rng.choice([str(value), f"{float(value):e}", f'"{value}"'])
    return text, float(value)


def _boolean_value(rng: random.Random) -> tuple[str, bool]:
    value = rng.random() < 0.5
    text = rng.choice(["true", "TRUE", "True"]) if value else rng.choice(["false", "False"])
    return (f'"{text}"' if rng.random() < 0.2 else text), value


def _date_value(rng: random.Random) -> tuple[str, tuple[datetime, datetime]]:
    """A date literal at a random precision, and its half-open interval computed by calendar rules."""
    year, month, day = rng.randint(2018, 2022), rng.randint(1, 12), rng.choice([1, 28])
    hour, minute, second = rng.choice([0, 10, 23]), rng.choice([0, 30]), rng.choice([0, 59])
    precision = rng.choice(["year", "month", "day", "hour", "minute", "second"])
    if precision == "year":
        return str(year), (datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))
    if precision == "month":
        following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return f"{year}-{month:02}", (datetime(year, month, 1, tzinfo=UTC), following)
    date = f"{year}-{month:02}-{day:02}"
    if precision == "day":
        start = datetime(year, month, day, tzinfo=UTC)
        return rng.choice([date, f'"{date}"']), (start, start + timedelta(days=1))
    zone_text, zone = rng.choice([("", UTC), ("Z", UTC), ("+02:00", timezone(timedelta(hours=2)))])
    clock = {"hour": f"{hour:02}", "minute": f"{hour:02}:{minute:02}"}
    clock["second"] = f"{hour:02}:{minute:02}:{second:02}"
    step = {"hour": timedelta(hours=1), "minute": timedelta(minutes=1), "second": timedelta(seconds=1)}
    start = datetime(year, month, day, hour, minute if precision != "hour" else 0, tzinfo=zone)
    start += timedelta(seconds=second if precision == "second" else 0)
    return f"{date}T{clock[precision]}{zone_text}", (start, start + step[precision])


def _kw(rng: random.Random, keyword: str) -> str:
    return " ".join(rng.choice([word, word.lower(), word.capitalize()]) for word in keyword.split())
