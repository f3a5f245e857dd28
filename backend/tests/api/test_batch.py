"""POST /search/batch: the same answers as one call per query, with one encoder call per kind."""

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from support.search_oracle import b64
from support.servers import Server
from support.tiny import BuiltIndex

from imagesearch.encoders.protocol import Encoder
from imagesearch.index.store import load_bundle
from imagesearch.search.query_terms import QueryTerm
from imagesearch.search.ranking import RankOptions
from imagesearch.search.service import Searcher


@pytest.fixture(scope="module")
def paths(built_index: BuiltIndex) -> list[Path]:
    return [Path(url) for url in load_bundle(built_index.settings).urls]


def batch(api: Server, queries: list[dict[str, Any]], **extra: object) -> httpx.Response:
    return httpx.post(f"{api.url}/search/batch", json={"queries": queries, **extra}, timeout=60)


def test_each_batch_result_equals_its_single_call(api: Server, paths: list[Path]) -> None:
    queries: list[dict[str, Any]] = [
        {"text": "a red circle"},
        {"image_id": 4},
        {"image_b64": b64(paths[11])},
        {"text": "  a red   circle "},  # the same text once whitespace is folded
        {"text": "night city", "weight": 3},
        {"image_id": 0},
    ]
    for extra in ({"top_k": 5}, {"top_k": 23, "min_score": 0.2}, {}):
        response = batch(api, queries, **extra)
        assert response.status_code == 200, response.text
        answers = response.json()["results"]
        assert len(answers) == len(queries)
        for query, answer in zip(queries, answers, strict=True):
            single = httpx.post(f"{api.url}/search", json={"terms": [query], **extra}, timeout=60).json()
            assert answer["query"] == single["query"] and answer["has_more"] == single["has_more"]
            assert [r["id"] for r in answer["results"]] == [r["id"] for r in single["results"]]
            got = [r["score"] for r in answer["results"]]
            assert got == pytest.approx([r["score"] for r in single["results"]], abs=1e-5)
    assert 4 not in [r["id"] for r in answers[1]["results"]]  # an image asked by id is not its own answer


@pytest.mark.parametrize(
    ("queries", "fragment"),
    [
        ([], "queries"),
        ([{"text": "a"}] * 65, "queries"),
        ([{"text": "a", "weight": -1}], "positive"),
        ([{"text": "a", "image_id": 1}], "exactly one"),
        ([{"text": "a"}, {"image_id": 99}], "no image with id 99"),
        ([{"text": "a"}, {"image_b64": "%%%"}], "base64"),
        ([{"text": "ok"}, {"text": " "}], "empty"),
    ],
)
def test_batch_limits_are_422(api: Server, queries: list[dict[str, Any]], fragment: str) -> None:
    response = batch(api, queries)
    assert response.status_code == 422 and fragment in response.json()["detail"]


def test_batch_top_k_and_body_shape_are_checked(api: Server) -> None:
    assert batch(api, [{"text": "a"}], top_k=0).status_code == 422
    assert batch(api, [{"text": "a"}], min_score=-3).status_code == 422
    assert httpx.post(f"{api.url}/search/batch", json={"query": "a"}).status_code == 422


class Counting:
    """Delegates to the real encoder / index and counts the batched calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(("texts", len(texts)))
        return self.inner.encode_texts(texts)

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        self.calls.append(("images", len(images)))
        return self.inner.encode_images(images)

    def search(self, vectors: np.ndarray, k: int) -> Any:
        self.calls.append(("search", len(vectors)))
        return self.inner.search(vectors, k)


def test_one_encoder_call_per_kind_and_one_index_search(
    built_index: BuiltIndex, tiny_encoder: Encoder, paths: list[Path]
) -> None:
    bundle = load_bundle(built_index.settings)
    encoder, index = Counting(tiny_encoder), Counting(bundle.index)
    searcher = Searcher(built_index.settings, encoder, replace(bundle, index=index))  # type: ignore[arg-type]
    terms = [
        QueryTerm(text="one"),
        QueryTerm(image=paths[1].read_bytes()),
        QueryTerm(text="two"),
        QueryTerm(image_id=7),
        QueryTerm(image=paths[2].read_bytes()),
        QueryTerm(text="one"),
    ]
    pages = searcher.batch_pages(terms, RankOptions(top_k=5))
    assert len(pages) == 6 and all(len(page.hits) == 5 for page in pages)
    assert sorted(encoder.calls) == [("images", 2), ("texts", 2)]
    assert index.calls == [("search", 6)]
    # Texts now cached: a second batch encodes only the images.
    encoder.calls.clear()
    searcher.batch_pages(terms, RankOptions(top_k=5))
    assert encoder.calls == [("images", 2)]
    single = searcher.text_page("two", RankOptions(top_k=5))
    assert [hit.id for hit in single.hits] == [hit.id for hit in pages[2].hits]
