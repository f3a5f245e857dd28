"""Facts every image carries, whatever its source: its size and, from EXIF, when and with what it
was taken and where; plus, for local files, their size and modification time.

Width and height are the image's upright size at full resolution: what ``decode_image`` gives
without a draft factor. ``decode_image`` with ``min_side`` lets libjpeg decode a JPEG at 1/2, 1/4
or 1/8 scale, and it applies the EXIF orientation and then drops the tag, so its result no longer
knows either. Hence ``image_facts`` wants the image as opened (``Image.open``: header read, no
pixels yet), and ``read_image_facts`` opens the bytes itself; called on a decoded image it gives
that image's size and no orientation.

Nothing here raises for odd EXIF: a tag that cannot be read is left out (cameras and editors write
zero denominators, "0000:00:00 00:00:00", wrong types and truncated blocks).
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from imagesearch.errors import FetchError, InvalidImageError
from imagesearch.index.metadata import Column, FieldType, MetadataTable

IMAGE_FACT_TYPES: dict[str, FieldType] = {
    "width": "number",
    "height": "number",
    "taken": "datetime",
    "camera_make": "string",
    "camera_model": "string",
    "gps_lat": "number",
    "gps_lon": "number",
    "orientation": "number",
}
FILE_FACT_TYPES: dict[str, FieldType] = {"file_modified": "datetime", "file_size": "number"}
# With --ocr (ingest/ocr_stage.py): whether text was read, and the text (absent when none).
OCR_FACT_TYPES: dict[str, FieldType] = {"has_text": "boolean", "ocr_text": "string"}
FACT_TYPES: dict[str, FieldType] = {**IMAGE_FACT_TYPES, **FILE_FACT_TYPES, **OCR_FACT_TYPES}

# EXIF tag numbers (CIPA DC-008): IFD0, the Exif sub-IFD and the GPS sub-IFD.
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_MAKE, _MODEL, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
_DATETIME_ORIGINAL, _OFFSET_TIME, _OFFSET_TIME_ORIGINAL = 0x9003, 0x9010, 0x9011
_SUBSEC_TIME, _SUBSEC_TIME_ORIGINAL = 0x9290, 0x9291
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
_SIDEWAYS = frozenset({5, 6, 7, 8})  # orientations that swap width and height
_EXIF_TIME = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")


def image_facts(image: Image.Image) -> dict[str, Any]:
    """``width``/``height`` (ints, upright) and, where EXIF has them, ``taken`` (aware datetime),
    ``camera_make``, ``camera_model``, ``gps_lat``/``gps_lon`` (signed degrees), ``orientation``
    (1-8). See the module docstring for which image to pass."""
    tags = _ExifTags.read(image)
    orientation = tags.integer(_ORIENTATION)
    width, height = image.size
    if orientation in _SIDEWAYS:
        width, height = height, width
    facts: dict[str, Any] = {"width": width, "height": height}
    if orientation is not None and 1 <= orientation <= 8:
        facts["orientation"] = orientation
    taken = _taken(tags, _DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL, _SUBSEC_TIME_ORIGINAL)
    taken = taken or _taken(tags, _DATETIME, _OFFSET_TIME, _SUBSEC_TIME)
    optional = {
        "taken": taken,
        "camera_make": tags.text(_MAKE),
        "camera_model": tags.text(_MODEL),
        "gps_lat": _coordinate(tags, _GPS_LAT, _GPS_LAT_REF, "S", 90.0),
        "gps_lon": _coordinate(tags, _GPS_LON, _GPS_LON_REF, "W", 180.0),
    }
    facts.update({name: value for name, value in optional.items() if value is not None})
    return facts


def read_image_facts(data: bytes) -> dict[str, Any]:
    """``image_facts`` of the encoded image ``data``, read from its header (no pixel decoding).
    Raises InvalidImageError for data PIL cannot identify."""
    try:
        with warnings.catch_warnings():
            # Image.open parses the EXIF already (for the dpi) and warns about each bad tag.
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                return image_facts(image)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidImageError(f"the image header could not be read: {exc}") from exc


def file_facts(path: Path) -> dict[str, Any]:
    """``file_modified`` (the mtime, an aware UTC datetime) and ``file_size`` (bytes) of a local file.
    Raises FetchError if it cannot be stat'ed."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise FetchError(f"cannot read the file facts of {path}: {exc}") from exc
    return {"file_modified": datetime.fromtimestamp(stat.st_mtime, tz=UTC), "file_size": stat.st_size}


def facts_table(
    rows: Sequence[Mapping[str, Any] | None], types: Mapping[str, FieldType] = FACT_TYPES
) -> MetadataTable:
    """A table of ``len(rows)`` rows from per-row fact dicts (None: a row that failed, all missing).

    Only fields that some row has become columns, in the order of ``types``. Raises ValueError for
    a fact not in ``types`` (a programming error, not bad input)."""
    unknown = {name for row in rows if row is not None for name in row} - set(types)
    if unknown:
        raise ValueError(f"facts without a field type: {', '.join(sorted(unknown))}")
    columns: dict[str, Column] = {}
    for name, type_ in types.items():
        values = [None if row is None else row.get(name) for row in rows]
        if any(value is not None for value in values):
            columns[name] = Column.from_values(type_, values)
    return MetadataTable(len(rows), columns)


class _ExifTags:
    """Lookups in an image's EXIF that return None instead of raising."""

    def __init__(self, base: Mapping[int, Any], exif: Mapping[int, Any], gps: Mapping[int, Any]) -> None:
        self._base, self._exif, self.gps = base, exif, gps

    @classmethod
    def read(cls, image: Image.Image) -> _ExifTags:
        # PIL warns once per bad tag ("Corrupt EXIF data"): noise in a run over many photos.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exif = image.getexif()
            except Exception:  # PIL raises many types on corrupt EXIF; facts are best effort
                return cls({}, {}, {})
            return cls(dict(exif), _sub_ifd(exif, _EXIF_IFD), _sub_ifd(exif, _GPS_IFD))

    def raw(self, tag: int) -> Any:
        # Date tags belong in the Exif sub-IFD, but some writers put them in IFD0.
        return self._exif.get(tag, self._base.get(tag))

    def text(self, tag: int) -> str | None:
        return _text(self.raw(tag))

    def integer(self, tag: int) -> int | None:
        value = self.raw(tag)
        if isinstance(value, tuple | list) and len(value) == 1:
            value = value[0]
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sub_ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:  # a sub-IFD offset pointing anywhere: the rest of the EXIF still counts
        return {}


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    text = value.split("\x00", 1)[0].strip()  # ASCII tags end at the first NUL
    return text or None


def _taken(tags: _ExifTags, time_tag: int, offset_tag: int, subsec_tag: int) -> datetime | None:
    """An EXIF local time "YYYY:MM:DD HH:MM:SS" with its offset tag (else UTC) and sub-seconds."""
    match = _EXIF_TIME.fullmatch(tags.text(time_tag) or "")
    if match is None:
        return None
    offset = _OFFSET.fullmatch(tags.text(offset_tag) or "")
    subsec = tags.text(subsec_tag) or ""
    micro = int(subsec[:6].ljust(6, "0")) if subsec.isdigit() else 0
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        zone = UTC
        if offset is not None:
            minutes = int(offset[2]) * 60 + int(offset[3])
            zone = timezone(timedelta(minutes=minutes if offset[1] == "+" else -minutes))
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except (ValueError, OverflowError):  # "0000:00:00 00:00:00", month 13, offset over a day
        return None


def _coordinate(tags: _ExifTags, value_tag: int, ref_tag: int, negative: str, limit: float) -> float | None:
    """Signed decimal degrees from GPS (degrees, minutes, seconds) rationals and their N/S, E/W ref."""
    value = tags.gps.get(value_tag)
    parts = value if isinstance(value, tuple | list) else (value,)
    try:
        numbers = [float(part) for part in parts]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not 1 <= len(numbers) <= 3 or not all(math.isfinite(n) and n >= 0 for n in numbers):
        return None  # IFDRational turns a zero denominator into nan
    degrees = sum(number / 60.0**power for power, number in enumerate(numbers))
    if degrees > limit:
        return None
    ref = _text(tags.gps.get(ref_tag)) or ""
    return -degrees if ref.upper().startswith(negative) else degrees
