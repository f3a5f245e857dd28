"""Repeated text searches are answered from a per-index page cache: same page, no encode, no scan."""

import dataclasses
from pathlib import Path

import httpx
import numpy as np
from support.metrics import scrape, stage_count
from support.servers import Server
from support.tiny import BuiltIndex

from imagesearch.encoders.protocol import Encoder
from imagesearch.index.store import load_bundle
from imagesearch.search.ranking import RankOptions
from imagesearch.search.service import Searcher


class CountingIndex:
    """The real index; counts search calls."""

    def __init__(self, index: object) -> None:
        self.index = index
        self.searches = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.index, name)

    def search(self, vectors: np.ndarray, k: int) -> object:
        self.searches += 1
        return self.index.search(vectors, k)  # type: ignore[attr-defined]


def searcher_with_counter(built_index: BuiltIndex, encoder: Encoder, **overrides: object) -> Searcher:
    settings = built_index.settings.model_copy(update=overrides)
    bundle = load_bundle(settings)
    counted = dataclasses.replace(bundle, index=CountingIndex(bundle.index))
    return Searcher(settings, encoder, counted)


def test_repeated_page_skips_encoder_and_faiss_and_keys_on_every_option(
    built_index: BuiltIndex, tiny_encoder: Encoder
) -> None:
    searcher = searcher_with_counter(built_index, tiny_encoder, text_cache_size=0)
    index = searcher.bundle.index
    first = searcher.text_page("a red car", RankOptions(5))
    assert index.searches == 1
    assert searcher.text_page("  a red   car ", RankOptions(5)) == first  # normalised whitespace
    assert searcher.cached_text_page("a red car", RankOptions(5)) == first
    assert index.searches == 1
    others = [RankOptions(6), RankOptions(5, 1), RankOptions(5, min_score=0.1), RankOptions(5, dedupe=True)]
    for options in others:
        searcher.text_page("a red car", options)
    assert index.searches >= 5  # each other option set is a search of its own
    assert searcher.cached_text_page("a blue car", RankOptions(5)) is None


def test_cache_is_bounded_off_at_zero_and_not_shared_with_a_reloaded_index(
    built_index: BuiltIndex, tiny_encoder: Encoder
) -> None:
    small = searcher_with_counter(built_index, tiny_encoder, result_cache_size=2)
    for text in ("one", "two", "three"):
        small.text_page(text, RankOptions(3))
    assert len(small.page_cache) == 2 and small.cached_text_page("one", RankOptions(3)) is None
    off = searcher_with_counter(built_index, tiny_encoder, result_cache_size=0)
    off.text_page("one", RankOptions(3))
    off.text_page("one", RankOptions(3))
    assert off.bundle.index.searches == 2
    fresh = searcher_with_counter(built_index, tiny_encoder)  # what a reload builds
    assert fresh.cached_text_page("two", RankOptions(3)) is None


def test_repeated_search_over_http_returns_the_same_json_without_encoding_or_scanning(
    api: Server, tmp_path: Path
) -> None:
    params = {"query": "result cache over http", "top_k": 7}
    first = httpx.get(f"{api.url}/search", params=params)
    before = scrape(api)
    again = [httpx.get(f"{api.url}/search", params=params) for _ in range(3)]
    after = scrape(api)
    assert all(response.status_code == 200 and response.json() == first.json() for response in again)
    for stage in ("encode", "search"):
        assert stage_count(after, stage) == stage_count(before, stage)
    assert httpx.get(f"{api.url}/search", params={"query": "   ", "top_k": 7}).status_code == 422
