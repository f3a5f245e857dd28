"""The filter language (search/filters.py): every operator and type rule, every error, and masks
equal to an independent row-by-row oracle on a random table over many random filters."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.filter_oracle import FIELDS, random_condition, random_filter, random_table

from imagesearch.errors import FilterError, InvalidQueryError
from imagesearch.index.metadata import Column, MetadataTable
from imagesearch.search.filters import ColumnEncodings, CompiledFilter, FilterEngine, compile_filter


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


# Six photos; row 5 has no value anywhere.
TABLE = MetadataTable(
    6,
    {
        "title": Column.from_values("string", ["Beach", "beach day", "", "Straße", "Zebra", None]),
        "photographer": Column.from_values("string", ["Jane Doe", "JANE DOE", "John", "jane", "x", None]),
        "year": Column.from_values("number", [2019, 2020, 2020.5, 2021, -3, None]),
        "public": Column.from_values("boolean", [True, False, True, False, True, None]),
        "taken": Column.from_values(
            "datetime",
            [
                ms("2019-12-31T23:59:59.999"),
                ms("2020-01-01T00:00:00"),
                ms("2020-05-01T10:00:00"),
                ms("2020-05-01T23:59:59.999"),
                ms("2021-03-04T05:06:07"),
                None,
            ],
        ),
        "tags": Column.from_values(
            "list", [["Beach", "sea"], ["SEA"], [], ["city"], ["beach", "city"], None]
        ),
        "camera model": Column.from_values("string", ["Canon", "Nikon", "canon", "", "Leica", None]),
    },
)
ENGINE = FilterEngine(TABLE)


def rows(text: str) -> list[int]:
    return [int(i) for i in np.flatnonzero(ENGINE.mask(text))]


def error(text: str, fields: dict[str, str] | None = None) -> FilterError:
    with pytest.raises(FilterError) as raised:
        compile_filter(text, fields if fields is not None else TABLE.fields)  # type: ignore[arg-type]
    return raised.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # string: case-insensitive equality, casefolded ("ß" = "ss"), ordering, ranges
        ('title = "BEACH"', [0]),
        ("title = beach", [0]),
        ("title = 'strasse'", [3]),
        ("title != beach", [1, 2, 3, 4, 5]),
        ("title IN [zebra, 'Beach Day']", [1, 4]),
        ("title NOT IN [zebra, 'Beach Day']", [0, 2, 3, 5]),
        ("title > beach", [1, 3, 4]),
        ("title >= beach", [0, 1, 3, 4]),
        ("title < beach", [2]),
        ("title <= Beach", [0, 2]),
        ("title b TO c", [0, 1]),
        ('photographer = "jane doe"', [0, 1]),
        ("`camera model` = CANON", [0, 2]),
        # number
        ("year = 2020", [1]),
        ("year != 2020", [0, 2, 3, 4, 5]),
        ("year > 2020", [2, 3]),
        ("year >= 2020", [1, 2, 3]),
        ("year < 2020", [0, 4]),
        ("year <= 2020", [0, 1, 4]),
        ("year 2020 TO 2021", [1, 2, 3]),
        ("year IN [2019, 2021, 7]", [0, 3]),
        ("year NOT IN [2019, 2021]", [1, 2, 4, 5]),
        ("year = -3", [4]),
        ("year = -3e0", [4]),
        ("year = 2.0205e3", [2]),
        ('year = "2020"', [1]),
        # boolean
        ("public = true", [0, 2, 4]),
        ("public = FALSE", [1, 3]),
        ("public != true", [1, 3, 5]),
        ("public IN [false]", [1, 3]),
        ("public NOT IN [false]", [0, 2, 4, 5]),
        # datetime: intervals at the literal's precision
        ("taken = 2020", [1, 2, 3]),
        ("taken != 2020", [0, 4, 5]),
        ("taken >= 2020", [1, 2, 3, 4]),
        ("taken > 2020", [4]),
        ("taken < 2020", [0]),
        ("taken <= 2020", [0, 1, 2, 3]),
        ("taken = 2020-05-01", [2, 3]),
        ('taken = "2020-05-01"', [2, 3]),
        ("taken = 2020-05", [2, 3]),
        ("taken > 2020-05-01", [4]),
        ("taken <= 2020-05-01T10:00", [0, 1, 2]),
        ("taken < 2020-05-01T10:00:00", [0, 1]),
        ("taken = 2020-05-01T12:00:00+02:00", [2]),
        ("taken 2019 TO 2020", [0, 1, 2, 3]),
        ("taken 2020-05-01T10:00:00Z TO 2021", [2, 3, 4]),
        ("taken IN [2019, 2021]", [0, 4]),
        ("taken NOT IN [2019, 2021]", [1, 2, 3, 5]),
        ("taken = 2019-12-31T23:59:59.999Z", [0]),
        # list: any element
        ("tags = sea", [0, 1]),
        ("tags = BEACH", [0, 4]),
        ("tags != sea", [2, 3, 4, 5]),
        ("tags IN [city, sea]", [0, 1, 3, 4]),
        ("tags NOT IN [city, sea]", [2, 5]),
        ("tags IN []", []),
        ("tags NOT IN []", [0, 1, 2, 3, 4, 5]),
        # presence and emptiness
        ("title EXISTS", [0, 1, 2, 3, 4]),
        ("title NOT EXISTS", [5]),
        ("title IS NULL", [5]),
        ("title IS NOT NULL", [0, 1, 2, 3, 4]),
        ("title IS EMPTY", [2]),
        ("title IS NOT EMPTY", [0, 1, 3, 4, 5]),
        ("tags IS EMPTY", [2]),
        ("tags IS NOT EMPTY", [0, 1, 3, 4, 5]),
        ("year IS EMPTY", []),
        ("public IS EMPTY", []),
        # NOT, precedence and parentheses
        ("NOT title = beach", [1, 2, 3, 4, 5]),
        ("NOT (tags = sea)", [2, 3, 4, 5]),
        ("NOT NOT tags = sea", [0, 1]),
        ("year = 2019 OR year = 2021 AND public = true", [0]),
        ("(year = 2019 OR year = 2021) AND public = false", [3]),
        ("public = true AND year = 2019 OR year = 2021", [0, 3]),
        ("year >= 2020 AND photographer = 'Jane Doe'", [1]),
        # keywords in any case
        ("Year >= 2020 and photographer = 'jane doe' or TAGS = city", [1, 3, 4]),
    ],
)
def test_operator_and_type_rules(text: str, expected: list[int]) -> None:
    text = text.replace("Year", "year").replace("TAGS", "tags")  # field names are case-sensitive
    assert rows(text) == expected


def test_keywords_are_case_insensitive_and_field_names_are_not() -> None:
    assert rows("year In [2019] oR tags iS eMpTy") == [0, 2]
    assert rows("title not exists") == [5]
    assert "unknown field 'Year'" in str(error("Year = 1"))
    assert "did you mean 'year'?" in str(error("Year = 1"))


def test_a_string_field_takes_numbers_dates_and_words_as_written() -> None:
    table = MetadataTable(3, {"code": Column.from_values("string", ["2020", "2020-05-01", "-1.5e3"])})
    assert compile_filter("code = 2020", table.fields).mask(table).tolist() == [True, False, False]
    assert compile_filter("code = 2020-05-01", table.fields).mask(table).tolist() == [False, True, False]
    assert compile_filter("code = -1.5e3", table.fields).mask(table).tolist() == [False, False, True]


def test_escapes_in_quoted_strings() -> None:
    table = MetadataTable(3, {"t": Column.from_values("string", ['say "hi"', "O'Brien", "a\\b"])})
    for text, expected in [
        (r'"say \"hi\""', 0),
        (r"'O\'Brien'", 1),
        ('"O\'Brien"', 1),
        (r'"a\\b"', 2),
    ]:
        assert np.flatnonzero(compile_filter(f"t = {text}", table.fields).mask(table)).tolist() == [expected]


def test_compiled_filter_is_frozen_and_names_its_fields() -> None:
    compiled = compile_filter("year > 1 AND (tags = a OR NOT `camera model` EXISTS)", TABLE.fields)
    assert isinstance(compiled, CompiledFilter)
    assert compiled.text == "year > 1 AND (tags = a OR NOT `camera model` EXISTS)"
    assert compiled.fields_used == frozenset({"year", "tags", "camera model"})
    with pytest.raises(AttributeError):
        compiled.text = "x"  # type: ignore[misc]
    encodings = ColumnEncodings(TABLE)
    assert compiled.mask(TABLE, encodings).tolist() == compiled.mask(TABLE).tolist()
    with pytest.raises(ValueError, match="another table"):
        compiled.mask(TABLE, ColumnEncodings(TABLE.take([0])))


def test_a_table_without_the_compiled_field_is_refused() -> None:
    compiled = compile_filter("year > 1", {"year": "number"})
    with pytest.raises(FilterError, match="this table has a string field"):
        compiled.mask(MetadataTable(1, {"year": Column.from_values("string", ["x"])}))
    with pytest.raises(FilterError, match="no such field"):
        compiled.mask(MetadataTable.empty(1))


def test_engine_caches_read_only_masks_and_evicts_the_oldest() -> None:
    engine = FilterEngine(TABLE, cache_size=2)
    first = engine.mask("year > 2019")
    assert engine.mask("year > 2019") is first
    assert not first.flags.writeable
    with pytest.raises(ValueError):
        first[0] = True
    engine.mask("year > 2020")
    engine.mask("year > 2021")  # pushes "year > 2019" out
    assert engine.mask("year > 2019") is not first
    assert engine.fields == TABLE.fields


def test_engine_is_thread_safe() -> None:
    engine = FilterEngine(TABLE, cache_size=4)
    texts = [f"year >= {2018 + i % 5} OR tags = sea" for i in range(200)]
    results: list[list[list[bool]]] = [[] for _ in range(4)]

    def work(mine: list[list[bool]]) -> None:
        mine.extend(engine.mask(text).tolist() for text in texts)

    threads = [threading.Thread(target=work, args=(mine,)) for mine in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [FilterEngine(TABLE).mask(text).tolist() for text in texts]
    assert results == [expected] * 4


# --- errors: each names the offending token, and its position points at it ---------------------


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("year >=", 7, ["expected a value after '>='", "end of the filter"]),
        ("year >= 2020 AND", 16, ["expected a field name, NOT or '(' after 'AND'"]),
        ("= 5", 0, ["at the start", "found '='"]),
        ("year 2020", 9, ["expected TO after '2020'"]),
        ("(year = 1", 9, ["AND, OR or ')' after '1'"]),
        ("year = 1 )", 9, ["found ')'", "AND, OR or the end of the filter"]),
        ("year = 1 year = 2", 9, ["found 'year'"]),
        ("title = null", 8, ["found 'null'", "keyword", '"null"']),
        ("title IN [a, b", 14, ["expected ',' or ']' after 'b'"]),
        ("title IS beach", 9, ["NOT, NULL or EMPTY after 'IS'", "found 'beach'"]),
        ("title NOT beach", 10, ["IN or EXISTS after 'NOT'"]),
        ("title", 5, ["expected an operator"]),
        ('title = "abc', 8, ['string opened with " is never closed']),
        ("`camera model = 1", 0, ["field name opened with ` is never closed"]),
        ("title = a@b", 9, ["unexpected character '@'"]),
        ("title = 'a' AND year = 1 AND ", 29, ["after 'AND'"]),
    ],
)
def test_syntax_errors_say_what_was_expected_where(text: str, position: int, words: list[str]) -> None:
    raised = error(text)
    assert isinstance(raised, InvalidQueryError)
    assert raised.position == position
    for word in words:
        assert word in str(raised)
    assert f"position {position}" in str(raised)


def test_unknown_field_lists_the_known_ones_and_suggests_the_closest() -> None:
    raised = error("year > 1 AND photgrapher = x")
    assert raised.position == 13
    assert "unknown field 'photgrapher'" in str(raised)
    assert "did you mean 'photographer'?" in str(raised)
    assert "known fields: `camera model`, photographer, public, tags, taken, title, year" in str(raised)
    assert "no metadata fields" in str(error("a = 1", {}))
    assert "did you mean" not in str(error("zzzzzz = 1"))


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("year = abc", 7, "year is a number field; 'abc' is not a number"),
        ("year > 2020-05", 7, "year is a number field; '2020-05' is not a number"),
        ("year 1 TO x", 10, "'x' is not a number"),
        ("year IN [1, true]", 12, "'true' is not a number"),
        ("public = 1", 9, "public is a boolean field; '1' is not true or false"),
        ("public = yes", 9, "'yes' is not true or false"),
        ("taken >= yesterday", 9, "taken is a datetime field; 'yesterday' is not a date"),
        ("taken = 2020-13", 8, "'2020-13' is not a date"),
        ("taken = 20", 8, "'20' is not a date"),
        ("taken = '2020-02-30'", 8, "'2020-02-30' is not a date"),
        ("tags > a", 5, "tags is a list field; '>' does not apply"),
        ("tags a TO b", 7, "tags is a list field; 'TO' does not apply"),
        ("public <= true", 7, "public is a boolean field; '<=' does not apply"),
        ("`camera model` = 1 AND tags < z", 28, "tags is a list field; '<' does not apply"),
    ],
)
def test_type_errors_point_at_the_value_or_operator(text: str, position: int, message: str) -> None:
    raised = error(text)
    assert message in str(raised)
    assert raised.position == position
    assert f"position {position}" in str(raised)


def test_empty_long_and_deep_filters_are_refused() -> None:
    for blank in ["", "   ", "\n\t"]:
        assert error(blank).position == 0 and "empty" in str(error(blank))
    long = " OR ".join(["year = 1"] * 200)
    assert len(long) > 2000
    raised = error(long)
    assert raised.position == 2000 and "limit is 2000" in str(raised)
    assert rows(" OR ".join(["year = 2019"] * 120)) == [0]  # wide is fine
    assert rows("(" * 32 + "year = 2019" + ")" * 32) == [0]
    raised = error("(" * 33 + "year = 2019" + ")" * 33)
    assert raised.position == 32 and "nested too deeply" in str(raised)
    raised = error("NOT " * 33 + "year = 2019")
    assert raised.position == 128
    raised = error("(" * 999)  # far past any recursion limit: still a FilterError
    assert raised.position is not None


# --- the oracle: random table, random filters, masks equal row by row --------------------------


@pytest.fixture(scope="module")
def random_case() -> tuple[MetadataTable, list[dict[str, object]], FilterEngine]:
    table = random_table(random.Random(7), 3000)
    return table, [table.row(i) for i in range(table.rows)], FilterEngine(table, cache_size=16)


def test_random_conditions_match_the_oracle(random_case: tuple) -> None:
    _, row_dicts, engine = random_case
    rng = random.Random(11)
    for _ in range(600):
        text, predicate = random_condition(rng)
        expected = [predicate(row) for row in row_dicts]
        assert engine.mask(text).tolist() == expected, text


def test_random_filters_match_the_oracle(random_case: tuple) -> None:
    table, row_dicts, engine = random_case
    rng = random.Random(12)
    nonempty = 0
    for _ in range(300):
        text, predicate = random_filter(rng)
        expected = [predicate(row) for row in row_dicts]
        mask = compile_filter(text, table.fields).mask(table, engine.encodings)
        assert mask.tolist() == expected, text
        nonempty += 0 < sum(expected) < table.rows
    assert nonempty > 100  # the filters are not all trivially everything or nothing


def test_the_random_table_has_every_type_and_missing_values(random_case: tuple) -> None:
    table, _, _ = random_case
    assert {column.type for column in table.columns.values()} == set(FIELDS.values())
    assert all(0 < column.present.sum() < table.rows for column in table.columns.values())


# --- fuzz: any input gives a mask or a FilterError, never another exception --------------------

TOKENS = [
    *["year", "title", "tags", "taken", "public", "`camera model`", "nope", "`", "'", '"'],
    *["=", "!=", ">", ">=", "<", "<=", "TO", "IN", "NOT", "EXISTS", "IS", "NULL", "EMPTY"],
    *["AND", "OR", "(", ")", "[", "]", ",", "1", "-2.5e3", "2020", "2020-05-01", "true", "beach"],
    *['"a b"', "'x'", "2020-05-01T10:00Z", "\\", "@", "é"],
]


def _mask_or_filter_error(text: str) -> None:
    try:
        mask = ENGINE.mask(text)
    except FilterError as raised:
        assert raised.position is None or 0 <= raised.position <= len(text)
        assert str(raised)
    else:
        assert mask.shape == (TABLE.rows,) and mask.dtype == np.bool_


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=120))
def test_fuzz_arbitrary_text(text: str) -> None:
    _mask_or_filter_error(text)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=25), st.sampled_from([" ", "", "  "]))
def test_fuzz_token_soup(tokens: list[str], separator: str) -> None:
    _mask_or_filter_error(separator.join(tokens))
