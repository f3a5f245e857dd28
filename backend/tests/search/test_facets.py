"""Facets: value counts and ranges against an oracle of Counters over ``table.row(i)`` dicts."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from imagesearch.errors import InvalidQueryError
from imagesearch.index.metadata import Column, MetadataTable, iso_to_ms
from imagesearch.search.facets import MAX_RANGES, facet_counts

WORDS = ["Red", "red", "RED", "blue", "Blue", "green", "teal", "Olive", ""]
START = datetime(2021, 3, 4, 5, 6, tzinfo=UTC)


def random_table(rows: int, seed: int, span: timedelta = timedelta(days=900)) -> MetadataTable:
    rng = np.random.default_rng(seed)

    def maybe(make: Any) -> list[Any]:
        return [None if rng.random() < 0.2 else make() for _ in range(rows)]

    return MetadataTable(
        rows,
        {
            "colour": Column.from_values("string", maybe(lambda: str(rng.choice(WORDS)))),
            "width": Column.from_values("number", maybe(lambda: float(rng.integers(-40, 300)) / 4)),
            "flag": Column.from_values("boolean", maybe(lambda: bool(rng.integers(2)))),
            "taken": Column.from_values("datetime", maybe(lambda: START + span * float(rng.random()))),
            "tags": Column.from_values(
                "list", maybe(lambda: [str(t) for t in rng.choice(WORDS[:7], int(rng.integers(0, 4)))])
            ),
        },
    )


def value_oracle(dicts: list[dict[str, Any]], name: str, limit: int) -> list[dict[str, Any]]:
    """Counts by the case-folded value, shown in the most common spelling, then the missing rows."""
    groups: Counter[Any] = Counter()
    spellings: Counter[Any] = Counter()
    missing = 0
    for row in dicts:
        values = row.get(name)
        items = values if isinstance(values, list) else [] if values is None else [values]
        if not items:
            missing += 1
        for item in items:
            spellings[item] += 1
        for key in {item.casefold() if isinstance(item, str) else item for item in items}:
            groups[key] += 1

    def shown(key: Any) -> Any:
        same = [s for s in spellings if (s.casefold() if isinstance(s, str) else s) == key]
        return min(same, key=lambda s: (-spellings[s], s))

    ordered = sorted(groups, key=lambda key: (-groups[key], key))[:limit]
    buckets = [{"value": shown(key), "count": groups[key]} for key in ordered]
    return buckets + ([{"value": None, "count": missing}] if missing else [])


def range_oracle(dicts: list[dict[str, Any]], name: str, buckets: list[Any]) -> list[int]:
    """Per reported range, how many values lie in [from, to) (the last range closed)."""
    ranges = [b for b in buckets if "from" in b]
    as_number = (lambda v: iso_to_ms(v)) if isinstance(ranges[0]["from"], str) else (lambda v: v)
    counts = []
    for i, bucket in enumerate(ranges):
        low, high, last = as_number(bucket["from"]), as_number(bucket["to"]), i == len(ranges) - 1
        counts.append(
            sum(
                1
                for row in dicts
                if name in row and low <= as_number(row[name]) and (as_number(row[name]) < high or last)
            )
        )
    return counts


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("limit", [2, 20])
def test_value_facets_match_counters_over_row_dicts(seed: int, limit: int) -> None:
    table = random_table(300, seed)
    rows = np.random.default_rng(seed).choice(300, 200, replace=False).astype(np.int64)
    dicts = [table.row(int(i)) for i in rows]
    facets = facet_counts(table, rows, ["colour", "flag", "tags"], limit=limit)
    for name in ("colour", "flag", "tags"):
        assert facets[name]["buckets"] == value_oracle(dicts, name, limit), name


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    "span",
    [timedelta(hours=5), timedelta(days=3), timedelta(days=40), timedelta(days=900), timedelta(days=9e5)],
)
def test_range_facets_match_counts_over_row_dicts(seed: int, span: timedelta) -> None:
    table = random_table(300, seed, span)
    rows = np.arange(0, 300, 2, dtype=np.int64)
    dicts = [table.row(int(i)) for i in rows]
    facets = facet_counts(table, rows, ["width", "taken"])
    for name in ("width", "taken"):
        facet = facets[name]
        ranges = [b for b in facet["buckets"] if "from" in b]
        assert 1 <= len(ranges) <= MAX_RANGES
        assert [b["count"] for b in ranges] == range_oracle(dicts, name, facet["buckets"])
        assert [b["to"] for b in ranges[:-1]] == [b["from"] for b in ranges[1:]]  # contiguous
        present = [row[name] for row in dicts if name in row]
        key: Any = iso_to_ms if name == "taken" else float
        assert (facet["min"], facet["max"]) == (min(present, key=key), max(present, key=key))
        assert facet["buckets"][-1] == {"value": None, "count": len(dicts) - len(present)}
    json.dumps(facets)


def test_number_ranges_use_nice_steps_and_close_the_last() -> None:
    table = MetadataTable(5, {"n": Column.from_values("number", [0, 13, 50, 99.5, 100])})
    buckets = facet_counts(table, np.arange(5), ["n"])["n"]["buckets"]
    assert [(b["from"], b["to"]) for b in buckets] == [(i * 10, i * 10 + 10) for i in range(10)]
    assert [b["count"] for b in buckets] == [1, 1, 0, 0, 0, 1, 0, 0, 0, 2]
    small = MetadataTable(3, {"n": Column.from_values("number", [0.12, 0.31, 0.2])})
    edges = [b["from"] for b in facet_counts(small, np.arange(3), ["n"])["n"]["buckets"]]
    assert edges == [round(0.12 + 0.02 * i, 2) for i in range(10)]  # step 2 x 10^-2, edges rounded


@pytest.mark.parametrize(
    ("low", "high", "first", "step"),
    [
        (datetime(2020, 1, 1, 3, 20), datetime(2020, 1, 1, 9, 5), "2020-01-01T03:00:00Z", "1h"),
        (datetime(2020, 1, 3, 13), datetime(2020, 1, 10), "2020-01-03T00:00:00Z", "1D"),
        (datetime(2020, 1, 3), datetime(2020, 3, 1), "2019-12-30T00:00:00Z", "7D"),  # a Monday
        (datetime(2020, 1, 5), datetime(2020, 6, 1), "2020-01-01T00:00:00Z", "1M"),
        (datetime(2014, 5, 1), datetime(2020, 1, 1), "2014-01-01T00:00:00Z", "1Y"),
        (datetime(1931, 5, 1), datetime(2020, 1, 1), "1930-01-01T00:00:00Z", "10Y"),
    ],
)
def test_datetime_ranges_follow_the_calendar(low: datetime, high: datetime, first: str, step: str) -> None:
    values = [low.replace(tzinfo=UTC), high.replace(tzinfo=UTC)]
    table = MetadataTable(2, {"d": Column.from_values("datetime", values)})
    buckets = facet_counts(table, np.arange(2), ["d"])["d"]["buckets"]
    starts = np.array([str(b["from"]).rstrip("Z") for b in buckets], dtype="datetime64[s]")
    assert buckets[0]["from"] == first
    unit = step[-1]
    assert set(np.diff(starts.astype(f"datetime64[{unit}]")).astype(np.int64)) <= {int(step[:-1])}
    assert str(buckets[-1]["to"]) >= high.isoformat() + "Z"  # the maximum lies in the last range


def test_edge_cases() -> None:
    table = MetadataTable(
        3,
        {
            "n": Column.from_values("number", [2.5, 2.5, None]),
            "t": Column.from_values("list", [[], ["a", "A", "a"], None]),
            "d": Column.from_values("datetime", [None, None, None]),
        },
    )
    facets = facet_counts(table, np.arange(3), ["n", "t", "d"])
    assert facets["n"]["buckets"] == [{"from": 2.5, "to": 2.5, "count": 2}, {"value": None, "count": 1}]
    assert facets["t"]["buckets"] == [{"value": "a", "count": 1}, {"value": None, "count": 2}]
    assert facets["d"] == {
        "type": "datetime",
        "buckets": [{"value": None, "count": 3}],
        "min": None,
        "max": None,
    }
    empty = facet_counts(table, np.zeros(0, dtype=np.int64), ["n", "t"])
    assert empty["n"]["buckets"] == [] and empty["t"] == {"type": "list", "buckets": [], "distinct": 0}


def test_unknown_fields_and_bad_limits_are_refused() -> None:
    table = random_table(5, 0)
    with pytest.raises(InvalidQueryError, match="'size'; known fields: colour, width, flag, taken, tags"):
        facet_counts(table, np.arange(5), ["colour", "size"])
    with pytest.raises(InvalidQueryError, match="no metadata fields"):
        facet_counts(MetadataTable.empty(5), np.arange(5), ["size"])
    with pytest.raises(InvalidQueryError, match="at least 1"):
        facet_counts(table, np.arange(5), ["colour"], limit=0)
