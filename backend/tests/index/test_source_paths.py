"""How local sources are shown to clients: relative to the indexed folder, never from the root."""

from pathlib import PurePath

import pytest

from imagesearch.index.source_paths import common_folder, display_root, relative_source

ROOT = PurePath("/srv/photos")


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("/srv/photos/cat.jpg", "cat.jpg"),
        ("/srv/photos/2024/summer/beach.png", "2024/summer/beach.png"),
        ("file:///srv/photos/2024/a%20b.jpg", "2024/a b.jpg"),  # a file: URL is a local file too
        ("/srv/photos/x/../y/dog.jpg", "y/dog.jpg"),  # normalised before it is compared
        # Outside the folder: the file name alone, never a path that climbs out or starts at "/".
        ("/srv/photos/../secrets/key.jpg", "key.jpg"),
        ("/home/alice/elsewhere.jpg", "elsewhere.jpg"),
        ("/srv/photos-old/cat.jpg", "cat.jpg"),  # a sibling with the folder's name as a prefix
        # URLs are shown as stored.
        ("https://images.example.org/1.jpg?w=400", "https://images.example.org/1.jpg?w=400"),
        ("s3://bucket/key.jpg", "s3://bucket/key.jpg"),
    ],
)
def test_relative_source(source: str, shown: str) -> None:
    assert relative_source(source, ROOT) == shown


def test_without_a_folder_a_source_is_shown_by_its_name() -> None:
    assert relative_source("/srv/photos/2024/cat.jpg", None) == "cat.jpg"
    assert relative_source("/srv/photos/2024/cat.jpg", PurePath("/")) == "cat.jpg"


def test_common_folder_is_the_deepest_holding_every_local_source() -> None:
    sources = ["/data/a/2024/x.jpg", "/data/a/2023/y.jpg", "https://example.org/z.jpg", "/data/a/w.jpg"]
    assert common_folder(sources) == PurePath("/data/a")
    assert common_folder(["/data/a/x.jpg"]) == PurePath("/data/a")
    # Nothing in common but the root, or no local files: no folder (names are shown).
    assert common_folder(["/data/x.jpg", "/home/y.jpg"]) is None
    assert common_folder(["https://example.org/z.jpg"]) is None


def test_display_root_prefers_the_recorded_folder() -> None:
    sources = ["/data/a/2024/x.jpg", "/data/a/2024/y.jpg"]
    assert display_root(sources, "/data/a") == PurePath("/data/a")
    # An index built before the folder was recorded: the folder its files have in common.
    assert display_root(sources, "") == PurePath("/data/a/2024")
