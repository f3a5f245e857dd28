"""Sorting by metadata: parse_sort's messages, and sort_ranked against Python's sorted over row dicts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from imagesearch.errors import InvalidQueryError
from imagesearch.index.metadata import Column, FieldType, MetadataTable
from imagesearch.search.ranking import Ranked
from imagesearch.search.sorting import SortKey, SortSpec, parse_sort, sort_ranked

FIELDS: dict[str, FieldType] = {
    "title": "string",
    "size": "number",
    "flag": "boolean",
    "taken": "datetime",
    "tags": "list",
}


def random_table(rows: int, seed: int) -> MetadataTable:
    """Every type, about a quarter missing, few distinct values (so keys tie and case differs)."""
    rng = np.random.default_rng(seed)

    def maybe(value: Any) -> Any:
        return None if rng.random() < 0.25 else value

    words = ["apple", "Apple", "APPLE", "banana", "cherry", "Banana", ""]
    columns = {
        "title": Column.from_values("string", [maybe(str(rng.choice(words))) for _ in range(rows)]),
        "size": Column.from_values("number", [maybe(float(rng.integers(-3, 4)) / 2) for _ in range(rows)]),
        "flag": Column.from_values("boolean", [maybe(bool(rng.integers(2))) for _ in range(rows)]),
        "taken": Column.from_values(
            "datetime", [maybe(datetime(2020, 1, int(rng.integers(1, 4)), tzinfo=UTC)) for _ in range(rows)]
        ),
        "tags": Column.from_values("list", [maybe(["a"]) for _ in range(rows)]),
    }
    return MetadataTable(rows, columns)


def random_items(rows: int, seed: int) -> list[Ranked]:
    rng = np.random.default_rng(seed + 100)
    ids = rng.permutation(rows)[: rows // 2 + 1]
    # Scores from a small set, so relevance ties on score and falls back to id.
    return [Ranked(id=int(i), score=float(rng.choice([0.2, 0.25, 0.3]))) for i in ids]


def oracle(items: list[Ranked], table: MetadataTable, spec: SortSpec) -> list[Ranked]:
    """Stable sorts, least significant key first: relevance, then each key (missing last)."""
    result = sorted(items, key=lambda item: (-item.score, item.id))
    for key in reversed(spec.keys):
        present = [item for item in result if key.field in table.row(item.id)]
        absent = [item for item in result if key.field not in table.row(item.id)]

        def value(item: Ranked, name: str = key.field) -> Any:
            found = table.row(item.id)[name]
            return found.casefold() if isinstance(found, str) and name == "title" else found

        result = sorted(present, key=value, reverse=key.descending) + absent
    return result


SPECS = [
    "title",
    "title:desc",
    "size:asc",
    "size:desc",
    "flag:desc",
    "taken:asc",
    "taken:desc,title:asc",
    "flag,size:desc,title:desc",
    "title:desc,taken,size",
]


@pytest.mark.parametrize("text", SPECS)
@pytest.mark.parametrize("seed", range(4))
def test_sort_ranked_matches_sorted_over_row_dicts(text: str, seed: int) -> None:
    table = random_table(60, seed)
    items = random_items(60, seed)
    spec = parse_sort(text, table.fields)
    assert sort_ranked(items, table, spec) == oracle(items, table, spec)


def test_missing_values_come_last_in_both_directions() -> None:
    table = MetadataTable(4, {"size": Column.from_values("number", [None, 2.0, float("nan"), 1.0])})
    items = [Ranked(id=i, score=0.5) for i in range(4)]
    assert [r.id for r in sort_ranked(items, table, parse_sort("size", table.fields))] == [3, 1, 0, 2]
    assert [r.id for r in sort_ranked(items, table, parse_sort("size:desc", table.fields))] == [1, 3, 0, 2]


def test_ties_keep_the_relevance_order_and_duplicates_stay() -> None:
    table = MetadataTable(3, {"title": Column.from_values("string", ["Cat", "cat", "CAT"])})
    items = [Ranked(2, 0.1), Ranked(1, 0.3, duplicates=(0,)), Ranked(0, 0.3)]
    ordered = sort_ranked(items, table, parse_sort("title:desc", table.fields))
    assert ordered == [Ranked(0, 0.3), Ranked(1, 0.3, duplicates=(0,)), Ranked(2, 0.1)]


def test_empty_items_and_bad_ids() -> None:
    table = random_table(5, 0)
    spec = parse_sort("size", table.fields)
    assert sort_ranked([], table, spec) == []
    with pytest.raises(IndexError, match="rows of the metadata table"):
        sort_ranked([Ranked(5, 0.1)], table, spec)


def test_parse_sort_reads_keys_and_directions() -> None:
    spec = parse_sort(" taken : DESC , title ,size:asc", FIELDS)
    assert spec == SortSpec((SortKey("taken", True), SortKey("title", False), SortKey("size", False)))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("title,,size", "empty key"),
        ("colour", "unknown field 'colour'; known fields: flag, size, tags, taken, title"),
        ("title:up", "must be asc or desc, not 'up'"),
        ("title:", "must be asc or desc, not ''"),
        ("tags:asc", "'tags': it is a list field"),
        ("size,size:desc", "'size' is given twice"),
    ],
)
def test_parse_sort_refuses_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        parse_sort(text, FIELDS)


def test_an_index_without_fields_says_so() -> None:
    with pytest.raises(InvalidQueryError, match="no metadata fields"):
        parse_sort("size", {})
