"""Typed metadata of the indexed images: one row per vector, in vector order, stored as Parquet.

Each field has one of five types, and a column holds its values as a NumPy array plus a
``present`` mask (False where the image has no value):

=========== =========================================== ==========================
type        ``values``                                  missing value in ``values``
=========== =========================================== ==========================
``string``  object array of ``str``                     ``""``
``number``  ``float64``                                 ``nan``
``boolean`` ``bool``                                    ``False``
``datetime`` ``int64`` milliseconds since 1970-01-01 UTC ``0``
``list``    object array of ``tuple[str, ...]``         ``()``
=========== =========================================== ==========================

Filters (``search/filters.py``), facets and sorting work on these arrays directly; a result's
``metadata`` is :meth:`MetadataTable.row`. On disk it is one Parquet file (Arrow types ``string``,
``float64``, ``bool``, ``timestamp[ms, UTC]``, ``list<string>``, nulls where absent), written in
the index's atomic commit and covered by the manifest's checksums.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

FieldType = Literal["string", "number", "boolean", "datetime", "list"]
FIELD_TYPES: tuple[FieldType, ...] = get_args(FieldType)
JsonValue = str | float | int | bool | list[str] | None

_ARROW_TYPES: dict[FieldType, pa.DataType] = {
    "string": pa.string(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "datetime": pa.timestamp("ms", tz="UTC"),
    "list": pa.list_(pa.string()),
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MISSING: dict[FieldType, Any] = {"string": "", "number": np.nan, "boolean": False, "datetime": 0, "list": ()}
_DTYPES: dict[FieldType, Any] = {
    "string": object,
    "number": np.float64,
    "boolean": np.bool_,
    "datetime": np.int64,
    "list": object,
}


@dataclass(frozen=True)
class Column:
    """One field's values for every row; ``present[i]`` is False where row ``i`` has no value."""

    type: FieldType
    values: np.ndarray[Any, Any]
    present: npt.NDArray[np.bool_]

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {self.type!r}; one of {', '.join(FIELD_TYPES)}")
        if self.values.shape != self.present.shape or self.values.ndim != 1:
            raise ValueError("a column's values and present mask must be 1-d and of one length")

    @classmethod
    def from_values(cls, type_: FieldType, values: Sequence[Any]) -> Column:
        """A column from Python values (None: missing); datetimes as ``datetime`` or epoch ms."""
        present = np.array([value is not None for value in values], dtype=bool)
        converted = [_to_storage(type_, value) if value is not None else _MISSING[type_] for value in values]
        array = np.empty(len(values), dtype=_DTYPES[type_])
        array[:] = converted if type_ != "list" else _object_items(converted)
        return cls(type_, array, present)

    def __len__(self) -> int:
        return len(self.values)

    def value(self, row: int) -> JsonValue:
        """Row ``row``'s value as JSON (datetimes as ISO 8601 UTC strings), or None."""
        if not self.present[row]:
            return None
        value = self.values[row]
        if self.type == "number":
            number = float(value)
            return int(number) if number.is_integer() and abs(number) < 2**53 else number
        if self.type == "boolean":
            return bool(value)
        if self.type == "datetime":
            return ms_to_iso(int(value))
        if self.type == "list":
            return list(value)
        return str(value)

    def take(self, rows: npt.NDArray[np.int64]) -> Column:
        return Column(self.type, self.values[rows], self.present[rows])


@dataclass(frozen=True)
class MetadataTable:
    """``columns[name]`` for every field, each ``rows`` long (a table may have no fields)."""

    rows: int
    columns: Mapping[str, Column] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, column in self.columns.items():
            if len(column) != self.rows:
                raise ValueError(f"metadata field {name!r} has {len(column)} rows, the table {self.rows}")

    @classmethod
    def empty(cls, rows: int) -> MetadataTable:
        return cls(rows, {})

    @property
    def fields(self) -> dict[str, FieldType]:
        """Field name -> type, in column order."""
        return {name: column.type for name, column in self.columns.items()}

    def row(self, row: int) -> dict[str, JsonValue]:
        """Row ``row``'s present values, field -> JSON value (absent fields are left out)."""
        return {name: column.value(row) for name, column in self.columns.items() if column.present[row]}

    def take(self, rows: Sequence[int] | npt.NDArray[np.int64]) -> MetadataTable:
        """The rows ``rows`` (in that order) as a new table."""
        index = np.asarray(rows, dtype=np.int64)
        return MetadataTable(len(index), {name: column.take(index) for name, column in self.columns.items()})

    def to_arrow(self) -> pa.Table:
        arrays = [_to_arrow(column) for column in self.columns.values()]
        schema = pa.schema([pa.field(name, _ARROW_TYPES[c.type]) for name, c in self.columns.items()])
        if not arrays:  # Arrow cannot say how many rows a table without columns has
            return pa.table({"__rows__": pa.nulls(self.rows, pa.null())})
        return pa.Table.from_arrays(arrays, schema=schema)

    def to_parquet_bytes(self) -> bytes:
        buffer = io.BytesIO()
        pq.write_table(self.to_arrow(), buffer, compression="zstd")
        return buffer.getvalue()

    @classmethod
    def from_arrow(cls, table: pa.Table) -> MetadataTable:
        """The table ``to_arrow`` wrote; raises ValueError for a column of an unsupported type."""
        if table.column_names == ["__rows__"]:
            return cls.empty(table.num_rows)
        return cls(
            table.num_rows, {name: _from_arrow(name, table.column(name)) for name in table.column_names}
        )

    @classmethod
    def from_parquet_bytes(cls, data: bytes) -> MetadataTable:
        return cls.from_arrow(pq.read_table(pa.BufferReader(data)))


def concat_tables(tables: Iterable[MetadataTable]) -> MetadataTable:
    """Rows of ``tables`` one after another; a field missing from some table is absent there.

    A field whose type differs between tables is refused (ValueError)."""
    parts = list(tables)
    types: dict[str, FieldType] = {}
    for table in parts:
        for name, type_ in table.fields.items():
            if types.setdefault(name, type_) != type_:
                raise ValueError(
                    f"metadata field {name!r} is {types[name]} in one part and {type_} in another"
                )
    columns = {}
    for name, type_ in types.items():
        pieces = [table.columns.get(name) or _absent(type_, table.rows) for table in parts]
        columns[name] = Column(
            type_,
            np.concatenate([np.empty(0, dtype=_DTYPES[type_]), *(piece.values for piece in pieces)]),
            np.concatenate([np.zeros(0, dtype=bool), *(piece.present for piece in pieces)]),
        )
    return MetadataTable(sum(table.rows for table in parts), columns)


def iso_to_ms(text: str) -> int:
    """Milliseconds since the epoch for an ISO 8601 date or date-time (naive: UTC); ValueError if not one."""
    return datetime_to_ms(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))


def datetime_to_ms(value: datetime) -> int:
    """Milliseconds since the epoch (naive: UTC), floored, in exact integer arithmetic: the float
    ``timestamp() * 1000`` is 1 ms short for some times (``2004-05-31T13:17:20.909``)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(milliseconds=1)


def ms_to_iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _to_storage(type_: FieldType, value: Any) -> Any:
    if type_ == "datetime":
        if isinstance(value, datetime):
            return datetime_to_ms(value)
        return int(value)
    if type_ == "list":
        return tuple(str(item) for item in value)
    if type_ == "number":
        return float(value)
    if type_ == "boolean":
        return bool(value)
    return str(value)


def _object_items(values: list[Any]) -> np.ndarray[Any, Any]:
    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):  # element-wise: NumPy would turn tuples into a 2-d array
        array[i] = value
    return array


def _absent(type_: FieldType, rows: int) -> Column:
    return Column.from_values(type_, [None] * rows)


def _to_arrow(column: Column) -> pa.Array:
    mask = ~column.present
    if column.type == "list":
        return pa.array(
            [list(v) if p else None for v, p in zip(column.values, column.present, strict=True)],
            type=_ARROW_TYPES["list"],
        )
    if column.type == "string":
        return pa.array(list(column.values), type=pa.string(), mask=mask)
    return pa.array(column.values, type=_ARROW_TYPES[column.type], mask=mask)


def _from_arrow(name: str, chunked: pa.ChunkedArray) -> Column:
    arrow_type = chunked.type
    type_ = next((name for name, expected in _ARROW_TYPES.items() if arrow_type.equals(expected)), None)
    if type_ is None:
        raise ValueError(f"metadata column {name!r} has the unsupported Arrow type {arrow_type}")
    array = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
    present = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if type_ == "datetime":
        values = array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    elif type_ == "list":
        values = _object_items([tuple(v) if v is not None else () for v in array.to_pylist()])
    elif type_ == "string":
        values = _object_items([v if v is not None else "" for v in array.to_pylist()])
    else:
        filled = array.fill_null(_MISSING[type_])
        values = np.asarray(filled.to_numpy(zero_copy_only=False), dtype=_DTYPES[type_])
    return Column(type_, values, present)
