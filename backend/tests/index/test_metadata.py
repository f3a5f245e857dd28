"""The metadata table: five typed columns, Parquet round trip read back by an independent reader."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imagesearch.index.metadata import Column, MetadataTable, concat_tables, iso_to_ms, ms_to_iso

ROWS = [
    {"name": "Ann", "year": 2020, "ok": True, "taken": "2020-01-02T03:04:05Z", "tags": ["sea", "sun"]},
    {"year": 2021.5},
    {"name": "", "ok": False, "taken": "1969-12-31T23:59:59Z", "tags": []},
]
TYPES = {"name": "string", "year": "number", "ok": "boolean", "taken": "datetime", "tags": "list"}


def table() -> MetadataTable:
    def column(name: str) -> Column:
        values = [row.get(name) for row in ROWS]
        if name == "taken":
            values = [iso_to_ms(v) if v is not None else None for v in values]  # type: ignore[arg-type]
        return Column.from_values(TYPES[name], values)  # type: ignore[arg-type]

    return MetadataTable(len(ROWS), {name: column(name) for name in TYPES})


def test_rows_come_back_as_json_values_with_absent_fields_left_out() -> None:
    assert [table().row(i) for i in range(3)] == ROWS


def test_parquet_round_trip_keeps_types_values_and_missing() -> None:
    data = table().to_parquet_bytes()
    back = MetadataTable.from_parquet_bytes(data)
    assert back.fields == TYPES
    assert [back.row(i) for i in range(3)] == ROWS
    # pyarrow reads the file on its own terms: the documented Arrow types, nulls where absent.
    read = pq.read_table(pa.BufferReader(data))
    assert str(read.schema.field("taken").type) == "timestamp[ms, tz=UTC]"
    assert pa.types.is_list(read.schema.field("tags").type)
    assert read.schema.field("tags").type.value_type == pa.string()
    assert read.column("year").to_pylist() == [2020.0, 2021.5, None]
    assert read.column("taken").to_pylist()[0] == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_table_without_fields_keeps_its_row_count() -> None:
    empty = MetadataTable.from_parquet_bytes(MetadataTable.empty(7).to_parquet_bytes())
    assert empty.rows == 7 and empty.fields == {} and empty.row(3) == {}


def test_concat_and_take_keep_alignment() -> None:
    other = MetadataTable(2, {"year": Column.from_values("number", [1, None])})
    joined = concat_tables([table(), other])
    assert joined.rows == 5 and joined.fields == TYPES
    assert joined.row(3) == {"year": 1} and joined.row(4) == {}
    assert [joined.take([4, 0]).row(i) for i in range(2)] == [{}, ROWS[0]]
    with pytest.raises(ValueError, match="number in one part and string in another"):
        concat_tables([other, MetadataTable(1, {"year": Column.from_values("string", ["x"])})])


def test_bad_shapes_and_types_are_refused() -> None:
    with pytest.raises(ValueError, match="has 2 rows, the table 3"):
        MetadataTable(3, {"a": Column.from_values("number", [1, 2])})
    with pytest.raises(ValueError, match="unknown field type"):
        Column("colour", np.zeros(1), np.ones(1, dtype=bool))  # type: ignore[arg-type]
    buffer = io.BytesIO()
    pq.write_table(pa.table({"when": pa.array([1], type=pa.int32())}), buffer)
    with pytest.raises(ValueError, match="unsupported Arrow type int32"):
        MetadataTable.from_parquet_bytes(buffer.getvalue())


def test_iso_dates() -> None:
    assert iso_to_ms("1970-01-02") == 86_400_000
    assert iso_to_ms("1970-01-01T01:00:00+01:00") == 0
    assert ms_to_iso(iso_to_ms("2024-02-29T12:30:00Z")) == "2024-02-29T12:30:00Z"
    with pytest.raises(ValueError):
        iso_to_ms("yesterday")
