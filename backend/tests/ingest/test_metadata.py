"""CSV columns -> typed metadata: inference of each type, the cases that fool naive inference,
given types with bad cells (reported, rows kept aligned), clear errors, and Unsplash-like data.

Datetimes are checked against pandas' own ISO 8601 parser, not against the code under test."""

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagesearch.errors import SourceError
from imagesearch.index.metadata import MetadataTable
from imagesearch.ingest.metadata import (
    MetadataOptions,
    MetadataProblem,
    infer_type,
    table_metadata,
)
from imagesearch.ingest.sources import detect_url_column
from imagesearch.ingest.tables import read_table


def frame_of(**columns: list[str]) -> pd.DataFrame:
    rows = len(next(iter(columns.values())))
    return pd.DataFrame({"url": [f"/img/{i}.jpg" for i in range(rows)], **columns})


def metadata(frame: pd.DataFrame, **options: object) -> tuple[MetadataTable, list[MetadataProblem]]:
    return table_metadata(frame, "url", MetadataOptions(**options))  # type: ignore[arg-type]


def pandas_ms(texts: list[str]) -> list[int]:
    """Epoch milliseconds by pandas (naive times taken as UTC, as the project does)."""
    stamps = pd.to_datetime(pd.Series(texts), format="ISO8601", utc=True)
    return [int(value) for value in stamps.astype("datetime64[ms, UTC]").astype("int64")]


def test_each_type_is_inferred_and_the_url_column_is_left_out() -> None:
    table, problems = metadata(
        frame_of(
            flag=["true", "No", "YES"],
            count=["3", "-1.5", "2e3"],
            when=["2016-03-10", "2016-03-10 19:09:18.947", "2020-01-01T00:00:00Z"],
            tags=["dog|beach", "cat", " sun | sea "],
            note=["a dog", "3", "true"],
        )
    )
    assert problems == []
    assert table.fields == {
        "flag": "boolean",
        "count": "number",
        "when": "datetime",
        "tags": "list",
        "note": "string",
    }
    assert [table.row(i) for i in range(3)] == [
        {"flag": True, "count": 3, "when": "2016-03-10T00:00:00Z", "tags": ["dog", "beach"], "note": "a dog"},
        {
            "flag": False,
            "count": -1.5,
            "when": "2016-03-10T19:09:18.947000Z",
            "tags": ["cat"],
            "note": "3",
        },
        {"flag": True, "count": 2000, "when": "2020-01-01T00:00:00Z", "tags": ["sun", "sea"], "note": "true"},
    ]


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["01234", "90210"], "string"),  # zip codes keep their leading zero
        (["007", "12"], "string"),
        (["0", "0.5", "-0.25", "10"], "number"),
        (["2016", "1999", "2024"], "number"),  # bare years are numbers, not dates
        (["2016-03", "2016-04"], "string"),  # year-month is not an ISO date the parser takes
        (["12345678901234567890", "1"], "string"),  # an id float64 cannot hold exactly
        (["123456789012345", "1"], "number"),
        (["nan", "inf"], "string"),
        (["1,234", "5"], "string"),
        (["1", "0"], "number"),  # 1/0 infer as numbers; booleans are words
        (["t", "f"], "string"),  # unless asked for (types=): see the override test
        (["2016-02-30"], "string"),  # looks ISO, is no date
        (["2016-03-10T10:00+05:30", "2016-03-10T10:00:00-0800", "2016-03-10 10:00:00+01"], "datetime"),
        (["3", "n/a", "4"], "string"),  # one odd cell: nothing dropped
        (['["a", "b"]', '["c"]'], "list"),
        (['["a", 1]'], "string"),  # a JSON array, but not of strings
        (["[draft] my photo", "x|y"], "string"),
        ([], "string"),
    ],
)
def test_inference_of_tricky_columns(texts: list[str], expected: str) -> None:
    assert infer_type(texts) == expected


def test_hashes_with_the_separator_are_not_lists() -> None:
    # Unsplash's blur_hash: same-length tokens whose alphabet includes "|".
    hashes = ["LEHV6nWB2yk8pyo0adR*.7kCMdnj", "LKO2?U%2Tw=w]~RBVZRi};RP|uwH", "L6PZfSi_.AyE_3t7t7R**0o#Dg|4"]
    assert infer_type(hashes) == "string"
    assert infer_type(["landscape|nature", "portrait|people"]) == "list"  # varying words are lists


def test_separator_is_an_option() -> None:
    table, _ = metadata(frame_of(tags=["a; b", "c"], pipes=["x|y", "z"]), list_separator=";")
    assert table.fields == {"tags": "list", "pipes": "string"}
    assert table.row(0) == {"tags": ["a", "b"], "pipes": "x|y"}


def test_json_lists_keep_their_items_whole() -> None:
    table, _ = metadata(frame_of(tags=['["sea|side", "sky"]', "one|two", ""]))
    assert [table.row(i).get("tags") for i in range(3)] == [["sea|side", "sky"], ["one", "two"], None]


def test_empty_cells_nan_and_empty_columns_are_missing() -> None:
    frame = frame_of(size=["3", "", "  "], empty=["", "", ""])
    frame["nan"] = [np.nan, 1.5, None]
    table, problems = metadata(frame)
    assert problems == []
    assert table.rows == 3
    assert table.fields == {"size": "number", "empty": "string", "nan": "number"}
    assert table.columns["size"].present.tolist() == [True, False, False]
    assert table.columns["empty"].present.tolist() == [False, False, False]
    assert table.columns["nan"].present.tolist() == [False, True, False]


def test_datetimes_and_time_zones_agree_with_pandas() -> None:
    texts = [
        "2016-03-10 19:09:18.947",
        "2016-03-10T19:09:18Z",
        "2016-03-10T19:09:18+05:30",
        "2016-03-10T19:09:18.123456-08:00",
        "1969-12-31T23:59:59.999Z",
        "2024-02-29",
    ]
    table, _ = metadata(frame_of(when=texts))
    column = table.columns["when"]
    assert column.type == "datetime"
    assert column.values.tolist() == pandas_ms(texts)


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=pd.Timestamp("1900-01-01"), max_value=pd.Timestamp("2200-01-01")))
def test_any_iso_datetime_agrees_with_pandas(moment: datetime) -> None:
    text = pd.Timestamp(moment).isoformat(sep=" ", timespec="milliseconds")
    assert infer_type([text]) == "datetime"
    table, _ = metadata(frame_of(when=[text]))
    assert table.columns["when"].values.tolist() == pandas_ms([text])


def test_given_types_report_bad_cells_with_their_rows_and_keep_alignment() -> None:
    frame = frame_of(
        views=["10", "lots", "", "007", "3.5"],
        featured=["t", "f", "maybe", "1", "NO"],
        when=["2016-03-10", "yesterday", "2016-03-11", "", "2016"],
        label=["5", "6", "7", "8", "9"],
    )
    types = {"views": "number", "featured": "boolean", "when": "datetime", "label": "string"}
    table, problems = metadata(frame, types=types)
    assert table.rows == 5
    assert table.fields == types
    assert [table.columns["views"].value(i) for i in range(5)] == [10, None, None, 7, 3.5]
    assert [table.columns["featured"].value(i) for i in range(5)] == [True, False, None, True, False]
    assert [table.columns["when"].value(i) for i in range(5)] == [
        "2016-03-10T00:00:00Z",
        None,
        "2016-03-11T00:00:00Z",
        None,
        None,
    ]
    assert table.columns["label"].value(4) == "9"
    assert [(p.row, p.column, p.value) for p in problems] == [
        (1, "views", "lots"),
        (2, "featured", "maybe"),
        (1, "when", "yesterday"),
        (4, "when", "2016"),
    ]
    assert "expected a number" in problems[0].message
    assert "ISO 8601" in problems[2].message


def test_a_given_list_type_reports_bad_json() -> None:
    table, problems = metadata(frame_of(tags=["a|b", '["x", 2]', "c"]), types={"tags": "list"})
    assert [table.columns["tags"].value(i) for i in range(3)] == [["a", "b"], None, ["c"]]
    assert problems == [MetadataProblem(1, "tags", '["x", 2]', problems[0].message)]
    assert "JSON array of strings" in problems[0].message


def test_columns_option_chooses_and_orders_and_names_are_stripped() -> None:
    frame = pd.DataFrame({" url ": ["a.jpg"], " width ": ["3"], "height": ["4"], "note": ["x"]})
    table, _ = table_metadata(frame, " url ", MetadataOptions(columns=("height", " width ")))
    assert table.fields == {"height": "number", "width": "number"}
    everything, _ = table_metadata(frame, " url ", MetadataOptions())
    assert list(everything.fields) == ["width", "height", "note"]
    none, _ = table_metadata(frame, " url ", MetadataOptions(columns=()))
    assert none.rows == 1
    assert none.fields == {}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (MetadataOptions(columns=("widht",)), r"no column 'widht' for metadata; columns: width, note"),
        (MetadataOptions(types={"hight": "number"}), r"no column 'hight' .*columns: width, note"),
        (MetadataOptions(columns=("url",)), "is the URL column"),
        (MetadataOptions(types={"url": "string"}), "is the URL column"),
        (MetadataOptions(columns=("width",), types={"note": "string"}), "not among the chosen columns"),
    ],
)
def test_unknown_names_are_clear_errors(options: MetadataOptions, message: str) -> None:
    frame = pd.DataFrame({"url": ["a.jpg"], "width": ["3"], "note": ["x"]})
    with pytest.raises(SourceError, match=message):
        table_metadata(frame, "url", options)


def test_unknown_type_names_and_bad_separators_are_errors() -> None:
    with pytest.raises(SourceError, match=r"type 'integer' for column 'width'; one of string"):
        MetadataOptions(types={"width": "integer"})  # type: ignore[dict-item]
    with pytest.raises(SourceError, match="separator"):
        MetadataOptions(list_separator="")
    with pytest.raises(SourceError, match="URL column 'link'"):
        table_metadata(pd.DataFrame({"url": ["a"]}), "link", MetadataOptions())


UNSPLASH_CSV = """\
photo_id,photo_url,photo_image_url,photo_submitted_at,photo_featured,photo_width,photo_height,\
photo_aspect_ratio,photo_description,photographer_username,photo_location_name,\
photo_location_latitude,photo_location_longitude,photo_location_country,stats_views,stats_downloads,\
ai_description,ai_primary_landmark_name,ai_primary_landmark_confidence,exif_camera_make,exif_iso,\
exif_exposure_time,blur_hash,keywords
XMyPniM9LF0,https://unsplash.com/photos/XMyPniM9LF0,https://images.unsplash.com/uploads/14119492946973137ce46/f1f2ebf3,\
2014-09-29 00:08:38.594364,t,4272,2848,1.5,Woman exploring a forest,michellespencer77,,,,,2375421,6967,\
woman walking in the forest,,,Canon,100,1/250,LEHV6nWB2yk8pyo0adR*.7kCMdnj,forest|woman|nature
rDLBArZUl1c,https://unsplash.com/photos/rDLBArZUl1c,https://images.unsplash.com/photo-1416339306562-f3d12fefd36f,\
2014-11-18 19:36:57.08945,t,3000,4000,0.75,Succulents in a terrarium,ugmonk,"Sydney, Australia",\
-33.8688,151.2093,Australia,13784815,82141,succulent plants in clear glass terrarium,Sydney Opera House,\
0.95,FUJIFILM,,1/60,LKO2?U%2Tw=w]~RBVZRi};RP|uwH,plant|terrarium
cNDGZ2sQ3Bo,https://unsplash.com/photos/cNDGZ2sQ3Bo,https://images.unsplash.com/photo-1420708392410-3c593b80d416,\
2015-01-08 22:55:43.0,f,2640,1749,1.51,,jcpeterson,Mount Hood,45.3736,-121.6959,United States,\
1302461,3428,rocky mountain under gray sky at daytime,,,,400,,L6PZfSi_.AyE_3t7t7R**0o#Dg|4,mountain
"""


def test_unsplash_like_csv_gets_sensible_types(tmp_path: Path) -> None:
    csv = tmp_path / "photos_url.csv"
    csv.write_text(UNSPLASH_CSV, encoding="utf-8")
    frame = read_table(csv)
    url_column = detect_url_column(list(frame.columns))
    assert url_column == "photo_image_url"
    table, problems = table_metadata(frame, url_column, MetadataOptions())
    assert problems == []
    assert table.rows == 3
    assert table.fields == {
        "photo_id": "string",
        "photo_url": "string",
        "photo_submitted_at": "datetime",
        "photo_featured": "string",  # "t"/"f" is not inferred; types={"photo_featured": "boolean"} is
        "photo_width": "number",
        "photo_height": "number",
        "photo_aspect_ratio": "number",
        "photo_description": "string",
        "photographer_username": "string",
        "photo_location_name": "string",
        "photo_location_latitude": "number",
        "photo_location_longitude": "number",
        "photo_location_country": "string",
        "stats_views": "number",
        "stats_downloads": "number",
        "ai_description": "string",
        "ai_primary_landmark_name": "string",
        "ai_primary_landmark_confidence": "number",
        "exif_camera_make": "string",
        "exif_iso": "number",
        "exif_exposure_time": "string",
        "blur_hash": "string",
        "keywords": "list",
    }
    submitted = frame["photo_submitted_at"].tolist()
    assert table.columns["photo_submitted_at"].values.tolist() == pandas_ms(submitted)
    assert table.row(1)["photo_location_latitude"] == -33.8688
    assert "photo_location_latitude" not in table.row(0)
    assert table.row(0)["keywords"] == ["forest", "woman", "nature"]
    featured, _ = table_metadata(frame, url_column, MetadataOptions(types={"photo_featured": "boolean"}))
    assert featured.columns["photo_featured"].values.tolist() == [True, True, False]


def test_a_metadata_table_survives_parquet() -> None:
    table, _ = metadata(
        frame_of(n=["1", "", "2.5"], when=["2016-03-10T10:00+01:00", "", "2016-03-10"], tags=["a|b", "", "c"])
    )
    again = MetadataTable.from_parquet_bytes(table.to_parquet_bytes())
    assert again.fields == table.fields
    assert [again.row(i) for i in range(3)] == [table.row(i) for i in range(3)]
