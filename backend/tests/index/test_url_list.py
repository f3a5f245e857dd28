"""The packed URL list a loaded index holds (index/url_list.py) behaves as the list of str it was
built from, the Python list being the oracle: indexing, negative indexes, slices, iteration,
equality, non-UTF-8 file names; and it costs the UTF-8 bytes plus 8 bytes a source."""

from __future__ import annotations

import os

import pytest

from imagesearch.index.url_list import UrlList

SOURCES = [
    "https://images.example.org/a/b.jpg?size=large&x=1",
    "/data/photos/été/über.png",
    os.fsdecode(b"/data/photos/\xff\xfe-latin1.jpg"),  # not UTF-8 on disk: lone surrogates
    "",
    "relative/path with spaces.webp",
    "猫.jpg",
] * 40_000  # > one packing chunk


def test_indexing_slicing_and_iteration_match_the_list() -> None:
    packed = UrlList(SOURCES)
    assert len(packed) == len(SOURCES)
    for row in (0, 1, 2, 3, 65_535, 65_536, len(SOURCES) - 1, -1, -len(SOURCES)):
        assert packed[row] == SOURCES[row]
    for cut in (
        slice(0, 5),
        slice(65_530, 65_540),
        slice(None, None, 7_919),
        slice(-3, None),
        slice(9, 2, -2),
    ):
        assert packed[cut] == SOURCES[cut]
    assert list(packed) == SOURCES
    assert packed == SOURCES and packed == SOURCES and packed != SOURCES[:-1]
    assert SOURCES[4] in packed and "missing" not in packed
    for row in (len(SOURCES), -len(SOURCES) - 1):
        with pytest.raises(IndexError):
            packed[row]


def test_it_costs_the_utf8_bytes_and_an_offset_a_source() -> None:
    packed = UrlList(SOURCES)
    text = sum(len(source.encode("utf-8", "surrogatepass")) for source in SOURCES)
    assert packed.nbytes == text + 8 * len(SOURCES)


def test_an_empty_list() -> None:
    assert len(UrlList()) == 0 and list(UrlList()) == [] and UrlList() == []
    with pytest.raises(IndexError):
        UrlList()[0]
