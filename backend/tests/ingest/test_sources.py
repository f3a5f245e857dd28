from pathlib import Path

import pytest

from imagesearch.errors import SourceError
from imagesearch.ingest.sources import read_sources, source_root


def test_csv_url_column_is_detected_by_name(tmp_path: Path) -> None:
    csv = tmp_path / "photos_url.csv"
    csv.write_text(
        "photo_id,photo_image_url,photo_description\n"
        "1,https://images.example.org/1.jpg,a dog\n"
        "2,https://images.example.org/2.jpg,a cat\n"
    )
    assert read_sources(csv) == ["https://images.example.org/1.jpg", "https://images.example.org/2.jpg"]


def test_csv_column_flag_and_relative_paths(tmp_path: Path) -> None:
    csv = tmp_path / "list.csv"
    csv.write_text("name,where\nx,pics/a.jpg\ny,/abs/b.jpg\nz,file:///c.jpg\n")
    assert read_sources(csv, url_column="where") == [
        str(tmp_path / "pics" / "a.jpg"),
        "/abs/b.jpg",
        "file:///c.jpg",
    ]


def test_csv_without_url_column_is_a_clear_error(tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(SourceError, match="--url-column"):
        read_sources(csv)
    with pytest.raises(SourceError, match="no column 'nope'"):
        read_sources(csv, url_column="nope")


def test_csv_keeps_blank_rows_as_positions(tmp_path: Path) -> None:
    # A blank cell is one failed image later, not a silently dropped row.
    csv = tmp_path / "gaps.csv"
    csv.write_text("url,caption\nhttps://x/1.jpg,a\n,b\nhttps://x/3.jpg,c\n")
    assert read_sources(csv) == ["https://x/1.jpg", "", "https://x/3.jpg"]


def test_folder_is_recursive_sorted_and_filtered(tmp_path: Path) -> None:
    for name in ("b/2.PNG", "a/1.jpg", "a/notes.txt", "c/.hidden.jpg", "3.webp"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    assert read_sources(tmp_path) == [
        str(tmp_path / "3.webp"),
        str(tmp_path / "a" / "1.jpg"),
        str(tmp_path / "b" / "2.PNG"),
    ]


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no image files"):
        read_sources(tmp_path)


def test_list_file_skips_comments_and_blanks(tmp_path: Path) -> None:
    listing = tmp_path / "images.txt"
    listing.write_text("# my photos\nhttps://x/1.jpg\n\n  rel/2.png  \n")
    assert read_sources(listing) == ["https://x/1.jpg", str(tmp_path / "rel" / "2.png")]


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        read_sources(tmp_path / "nope.csv")


def test_source_root_of_a_folder_is_the_folder(tmp_path: Path) -> None:
    (tmp_path / "2024").mkdir()
    urls = [str(tmp_path / "2024" / "a.jpg")]
    assert source_root(tmp_path, urls) == str(tmp_path.resolve())  # even when all files are deeper


def test_source_root_of_a_csv_beside_its_images_is_its_folder(tmp_path: Path) -> None:
    csv = tmp_path / "photos.csv"
    csv.write_text("path\nimages/a.jpg\nimages/deeper/b.jpg\nhttps://example.org/c.jpg\n")
    assert source_root(csv, read_sources(csv)) == str(tmp_path.resolve())


def test_source_root_of_a_csv_naming_files_elsewhere_is_their_common_folder(tmp_path: Path) -> None:
    csv = tmp_path / "lists" / "photos.csv"
    csv.parent.mkdir()
    elsewhere = tmp_path / "archive"
    csv.write_text(f"path\n{elsewhere / '2023' / 'a.jpg'}\n{elsewhere / '2024' / 'b.jpg'}\n")
    assert source_root(csv, read_sources(csv)) == str(elsewhere)
    # Files with nothing in common but the root: no folder (the API shows their names).
    csv.write_text("path\n/var/a.jpg\n/home/b.jpg\n")
    assert source_root(csv, read_sources(csv)) == ""
    csv.write_text("url\nhttps://example.org/a.jpg\n")
    assert source_root(csv, read_sources(csv)) == ""
