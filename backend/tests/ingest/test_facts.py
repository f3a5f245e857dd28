"""Image and file facts: EXIF written by another tool (Debian's exiftool) into real photos and read
back by ours, PIL-written EXIF checked by exiftool in turn, malformed EXIF, images without EXIF,
sizes against a full decode, file facts against os.stat."""

import io
import json
import os
import random
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from PIL import Image, TiffImagePlugin
from support.images import make_image
from support.photos import gallery_rows

from imagesearch.errors import FetchError, InvalidImageError
from imagesearch.images import decode_image
from imagesearch.index.metadata import MetadataTable
from imagesearch.ingest.facts import (
    FACT_TYPES,
    FILE_FACT_TYPES,
    IMAGE_FACT_TYPES,
    OCR_FACT_TYPES,
    facts_table,
    file_facts,
    image_facts,
    read_image_facts,
)

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None,
    reason="exiftool is not installed (Debian: apt-get install libimage-exiftool-perl); "
    "it is the independent EXIF writer and reader these tests compare with",
)
MAX_PIXELS = 100_000_000

# What exiftool writes into each photo (tag=value arguments); the last photo gets nothing.
EXIFTOOL_TAGS: tuple[tuple[str, ...], ...] = (
    (
        "-DateTimeOriginal=2021:07:04 18:30:12",
        "-SubSecTimeOriginal=25",
        "-OffsetTimeOriginal=+10:00",
        "-Make=Canon",
        "-Model=Canon EOS 5D Mark IV",
        "-GPSLatitude=33.856784",
        "-GPSLatitudeRef=S",
        "-GPSLongitude=151.215297",
        "-GPSLongitudeRef=W",
        "-Orientation#=6",
    ),
    (
        "-DateTimeOriginal=1999:12:31 23:59:59",  # no offset: UTC
        "-Make=NIKON CORPORATION",
        "-Model=NIKON D750",
        "-GPSLatitude=48.858370",
        "-GPSLatitudeRef=N",
        "-GPSLongitude=2.294481",
        "-GPSLongitudeRef=E",
        "-Orientation#=1",
    ),
    (
        "-ModifyDate=2010:01:02 03:04:05",  # IFD0 DateTime only: the fallback
        "-OffsetTime=-03:30",
        "-Model=Pixel 7",
        "-Orientation#=8",
    ),
    (),
)


def real_photos(folder: Path, count: int) -> list[Path]:
    """Copies of the demo gallery's photographs (scratch's scenes), which carry no EXIF."""
    rows = [row for row in gallery_rows() if row["origin"] == "scratch" and row["url"].endswith(".jpg")]
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for row in sorted(rows, key=lambda row: row["url"])[:count]:
        copy = folder / f"{len(copies):02d}-{Path(row['url']).name}"
        shutil.copyfile(row["url"], copy)
        copies.append(copy)
    assert len(copies) == count
    return copies


def exiftool_json(*paths: Path) -> list[dict[str, Any]]:
    assert EXIFTOOL is not None
    out = subprocess.run(
        [EXIFTOOL, "-n", "-json", "-G", *map(str, paths)], check=True, capture_output=True, text=True
    )
    by_path = {entry["SourceFile"]: entry for entry in json.loads(out.stdout)}
    return [by_path[str(path)] for path in paths]


def exiftool_time(reference: dict[str, Any]) -> pd.Timestamp | None:
    """When the photo was taken, as exiftool reports it, parsed by pandas (no offset: UTC)."""
    text = reference.get("Composite:SubSecDateTimeOriginal") or reference.get("EXIF:DateTimeOriginal")
    offset = reference.get("EXIF:OffsetTimeOriginal", "")
    if text is None and "EXIF:ModifyDate" in reference:
        text, offset = reference["EXIF:ModifyDate"], reference.get("EXIF:OffsetTime", "")
    if text is None:
        return None
    date, _, time = str(text).partition(" ")
    stamp = pd.Timestamp(f"{date.replace(':', '-')} {time}{offset if offset not in time else ''}")
    return stamp if stamp.tzinfo is not None else stamp.tz_localize("UTC")


def stripped(text: str | None) -> str | None:
    return None if text is None else text.strip()


def expected_facts(reference: dict[str, Any]) -> dict[str, Any]:
    width, height = reference["File:ImageWidth"], reference["File:ImageHeight"]
    orientation = reference.get("EXIF:Orientation")
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    optional = {
        "orientation": orientation,
        # exiftool drops trailing spaces and NULs but keeps leading spaces; we strip both
        "camera_make": stripped(reference.get("EXIF:Make")),
        "camera_model": stripped(reference.get("EXIF:Model")),
        "gps_lat": reference.get("Composite:GPSLatitude"),
        "gps_lon": reference.get("Composite:GPSLongitude"),
    }
    return {"width": width, "height": height, **{k: v for k, v in optional.items() if v is not None}}


@needs_exiftool
def test_exif_written_by_exiftool_reads_as_exiftool_reads_it(tmp_path: Path) -> None:
    photos = real_photos(tmp_path, len(EXIFTOOL_TAGS))
    for photo, tags in zip(photos, EXIFTOOL_TAGS, strict=True):
        if tags:
            assert EXIFTOOL is not None
            subprocess.run([EXIFTOOL, "-q", "-overwrite_original", *tags, str(photo)], check=True)
    for photo, reference in zip(photos, exiftool_json(*photos), strict=True):
        facts = read_image_facts(photo.read_bytes())
        taken = facts.pop("taken", None)
        expected = expected_facts(reference)
        assert facts == pytest.approx(expected, abs=1e-9), photo.name
        want = exiftool_time(reference)
        assert (None if taken is None else pd.Timestamp(taken)) == want, photo.name
    assert read_image_facts(photos[0].read_bytes())["gps_lat"] < 0  # the S ref is honoured


@needs_exiftool
def test_sizes_of_real_photos_agree_with_exiftool_and_a_full_decode(tmp_path: Path) -> None:
    photos = real_photos(tmp_path, 24)
    for photo, reference in zip(photos, exiftool_json(*photos), strict=True):
        data = photo.read_bytes()
        facts = read_image_facts(data)
        assert facts == {"width": reference["File:ImageWidth"], "height": reference["File:ImageHeight"]}
        assert decode_image(data, MAX_PIXELS).size == (facts["width"], facts["height"])


def test_sizes_are_the_upright_full_size_even_when_the_decode_is_drafted() -> None:
    image = make_image(3, (640, 480))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: stored 640x480, shown 480x640
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    data = buffer.getvalue()
    facts = read_image_facts(data)
    assert (facts["width"], facts["height"], facts["orientation"]) == (480, 640, 6)
    assert decode_image(data, MAX_PIXELS).size == (480, 640)
    drafted = decode_image(data, MAX_PIXELS, min_side=100)
    assert drafted.size == (120, 160)  # libjpeg's 1/4 scale: why facts come from the header
    assert "orientation" not in image_facts(drafted)  # decode_image applied it and dropped the tag


@needs_exiftool
def test_pil_written_exif_reads_as_exiftool_reads_it(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "FUJIFILM\x00\x00  "  # NUL-padded, as cameras write it
    exif[0x0110] = "  X-T3 "
    exif[0x0132] = "2019:05:06 07:08:09"  # DateTime only, in IFD0
    exif[0x0112] = 3
    exif[0x8825] = {1: "S", 2: (12.0, 30.0, 15.5), 3: "W", 4: (45.0, 0.0, 36.0)}
    path = tmp_path / "pil.jpg"
    make_image(5, (300, 200)).save(path, "JPEG", exif=exif)
    facts = read_image_facts(path.read_bytes())
    assert facts == {
        "width": 300,
        "height": 200,
        "orientation": 3,
        "taken": datetime(2019, 5, 6, 7, 8, 9, tzinfo=UTC),
        "camera_make": "FUJIFILM",
        "camera_model": "X-T3",
        "gps_lat": pytest.approx(-(12 + 30 / 60 + 15.5 / 3600)),
        "gps_lon": pytest.approx(-(45 + 36 / 3600)),
    }
    (reference,) = exiftool_json(path)
    facts.pop("taken")
    assert facts == pytest.approx(expected_facts(reference), abs=1e-9)


def test_exif_in_png_and_the_exif_sub_ifd_are_read() -> None:
    exif = Image.Exif()
    exif[0x8769] = {0x9003: "2001:02:03 04:05:06", 0x9011: "+0530", 0x9291: "5"}
    buffer = io.BytesIO()
    make_image(1, (160, 120)).save(buffer, "PNG", exif=exif)
    facts = read_image_facts(buffer.getvalue())
    assert facts["taken"] == datetime.fromisoformat("2001-02-03T04:05:06.5+05:30")


def test_images_without_exif_have_only_their_size() -> None:
    for format_, mode in (("PNG", "RGBA"), ("GIF", "P"), ("WEBP", "RGB"), ("JPEG", "L"), ("BMP", "RGB")):
        buffer = io.BytesIO()
        make_image(2, (180, 130)).convert(mode).save(buffer, format_)
        assert read_image_facts(buffer.getvalue()) == {"width": 180, "height": 130}, format_


def save_with_exif(exif: bytes | Image.Exif) -> bytes:
    buffer = io.BytesIO()
    make_image(4, (160, 120)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def test_odd_tag_values_are_left_out() -> None:
    exif = Image.Exif()
    exif[0x0110] = "\x00\x00"  # Model of NULs only
    exif[0x0112] = 42  # no such orientation
    exif[0x0132] = "0000:00:00 00:00:00"  # "unknown", as some cameras write it
    exif[0x8769] = {0x9003: "2020:13:01 00:00:00", 0x9011: "+25:00"}
    exif[0x8825] = {
        1: "N",
        2: (TiffImagePlugin.IFDRational(1, 0), 0.0, 0.0),  # a zero denominator
        3: "E",
        4: (200.0, 0.0, 0.0),  # beyond 180 degrees
    }
    assert read_image_facts(save_with_exif(exif)) == {"width": 160, "height": 120}


def test_malformed_exif_never_raises() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0132] = "2020:01:02 03:04:05"
    exif[0x8825] = {1: "S", 2: (1.0, 2.0, 3.0), 3: "W", 4: (4.0, 5.0, 6.0)}
    exif[0x8769] = {0x9003: "2020:01:02 03:04:05", 0x9011: "+01:00"}
    valid = exif.tobytes()
    blobs = [b"Exif\x00\x00", b"Exif\x00\x00garbage", b"Exif\x00\x00MM\x00*\xff\xff\xff\xff", b"\x00" * 40]
    blobs += [valid[:cut] for cut in range(0, len(valid), 3)]
    rng = random.Random(7)
    for _ in range(300):
        broken = bytearray(valid)
        for _ in range(rng.randint(1, 8)):
            broken[rng.randrange(6, len(broken))] = rng.randrange(256)
        blobs.append(bytes(broken))
    for blob in blobs:
        facts = read_image_facts(save_with_exif(blob))
        assert (facts["width"], facts["height"]) == (160, 120)
        assert set(facts) <= set(IMAGE_FACT_TYPES)


def test_data_that_is_no_image_is_an_invalid_image() -> None:
    with pytest.raises(InvalidImageError):
        read_image_facts(b"not an image")


def test_file_facts_agree_with_os_stat(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"x" * 12345)
    os.utime(path, ns=(1_600_000_000_250_000_000, 1_600_000_000_250_000_000))
    facts = file_facts(path)
    stat = os.stat(path)  # noqa: PTH116 - the reference is the system call itself
    assert facts == {
        "file_modified": datetime(2020, 9, 13, 12, 26, 40, 250000, tzinfo=UTC),
        "file_size": stat.st_size,
    }
    assert facts["file_size"] == 12345
    assert facts["file_modified"].timestamp() == stat.st_mtime
    with pytest.raises(FetchError, match=r"gone\.jpg"):
        file_facts(tmp_path / "gone.jpg")


def test_facts_become_a_table_aligned_with_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(save_with_exif(Image.Exif()))
    rows = [
        {"width": 10, "height": 20, "taken": datetime(2004, 5, 31, 13, 17, 20, 909000, tzinfo=UTC)},
        None,  # a row that failed: every field missing
        {**read_image_facts(path.read_bytes()), **file_facts(path)},
    ]
    table = facts_table(rows)
    assert table.rows == 3
    assert table.fields == {
        "width": "number",
        "height": "number",
        "taken": "datetime",
        "file_modified": "datetime",
        "file_size": "number",
    }
    assert table.columns["width"].present.tolist() == [True, False, True]
    assert table.row(1) == {}
    assert table.row(0) == {"width": 10, "height": 20, "taken": "2004-05-31T13:17:20.909000Z"}
    assert table.columns["taken"].values[0] == pd.Timestamp("2004-05-31T13:17:20.909Z").value // 10**6
    again = MetadataTable.from_parquet_bytes(table.to_parquet_bytes())
    assert [again.row(i) for i in range(3)] == [table.row(i) for i in range(3)]
    assert facts_table([None, None]).fields == {}
    assert set(FACT_TYPES) == set(IMAGE_FACT_TYPES) | set(FILE_FACT_TYPES) | set(OCR_FACT_TYPES)
    with pytest.raises(ValueError, match="iso"):
        facts_table([{"iso": 100}])
