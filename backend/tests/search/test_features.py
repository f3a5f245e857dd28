"""Pagination, min_score, /similar and combined (weighted, negative) queries over real HTTP.

Expected answers come from numpy over the vectors the index stored (search_oracle), or from the
encoder itself; the API runs as `uvicorn search_api:app` on a real pipeline-built index.
"""

from pathlib import Path

import httpx
import numpy as np
import pytest
from support.search_oracle import assert_ranking, b64, brute_force, encode_file, ids, stored_vectors, unit
from support.servers import Server
from support.tiny import BuiltIndex

from imagesearch.encoders.protocol import Encoder
from imagesearch.index.store import load_bundle
from imagesearch.search.query_terms import QueryTerm
from imagesearch.search.service import Searcher


@pytest.fixture(scope="module")
def vectors(built_index: BuiltIndex) -> np.ndarray:
    return stored_vectors(built_index.settings)


@pytest.fixture(scope="module")
def paths(built_index: BuiltIndex) -> list[Path]:
    return [Path(url) for url in load_bundle(built_index.settings).urls]


def post(api: Server, body: object) -> httpx.Response:
    return httpx.post(f"{api.url}/search", json=body, timeout=60)


def test_similar_is_brute_force_without_itself(api: Server, vectors: np.ndarray) -> None:
    for image_id in (0, 7, 23):
        response = httpx.get(f"{api.url}/similar/{image_id}", params={"top_k": 30})
        body = response.json()
        assert body["query"] == f"similar to #{image_id}" and body["has_more"] is False
        assert len(body["results"]) == 23 and image_id not in ids(response)
        assert_ranking(body["results"], vectors, vectors[image_id], exclude=(image_id,))


@pytest.mark.parametrize(
    ("path", "status"), [("/similar/24", 404), ("/similar/-1", 404), ("/similar/abc", 422)]
)
def test_similar_unknown_or_malformed_id(api: Server, path: str, status: int) -> None:
    response = httpx.get(api.url + path)
    assert response.status_code == status and response.json()["detail"]


def page_ids(api: Server, path: str, size: int, total: int, **params: object) -> tuple[list[int], list[bool]]:
    got: list[int] = []
    more: list[bool] = []
    for offset in range(0, total, size):
        response = httpx.get(api.url + path, params={**params, "top_k": size, "offset": offset}, timeout=60)
        got += ids(response)
        more.append(response.json()["has_more"])
    return got, more


@pytest.mark.parametrize("path", ["/search", "/similar/5"])
def test_pages_concatenate_to_one_big_request(api: Server, path: str) -> None:
    params = {"query": "a red square"} if path == "/search" else {}
    everything = ids(httpx.get(api.url + path, params={**params, "top_k": 24}))
    for size in (1, 5, 7):
        got, more = page_ids(api, path, size, len(everything), **params)
        assert got == everything and len(set(got)) == len(got)
        assert more == [True] * (len(more) - 1) + [False]
    past = httpx.get(api.url + path, params={**params, "offset": 30}).json()
    assert past["results"] == [] and past["has_more"] is False and past["offset"] == 30


def test_has_more_is_exact_at_the_end(api: Server) -> None:
    # /similar has 23 candidates: a page ending on the 23rd has nothing after it.
    assert httpx.get(f"{api.url}/similar/2", params={"top_k": 3, "offset": 20}).json()["has_more"] is False
    assert httpx.get(f"{api.url}/similar/2", params={"top_k": 3, "offset": 19}).json()["has_more"] is True


def test_post_search_pages_match_too(api: Server) -> None:
    terms = [{"text": "blue sky", "weight": 2}, {"image_id": 3, "weight": -0.5}]
    everything = ids(post(api, {"terms": terms, "top_k": 30}))
    assert len(everything) == 23 and 3 not in everything
    pages = [post(api, {"terms": terms, "top_k": 6, "offset": offset}).json() for offset in range(0, 24, 6)]
    assert [r["id"] for page in pages for r in page["results"]] == everything
    assert [page["has_more"] for page in pages] == [True, True, True, False]


def test_min_score_drops_exactly_the_results_below_it(api: Server, vectors: np.ndarray) -> None:
    scores = vectors @ vectors[4]
    others = np.delete(scores, 4)
    threshold = float(np.median(others))
    response = httpx.get(f"{api.url}/similar/4", params={"top_k": 200, "min_score": threshold})
    expected = {i for i in range(24) if i != 4 and scores[i] >= threshold}
    assert set(ids(response)) == expected and 0 < len(expected) < 23
    assert response.json()["min_score"] == threshold and response.json()["has_more"] is False
    assert all(r["score"] >= threshold for r in response.json()["results"])
    # Paging under min_score: has_more stops at the last result above it.
    short = httpx.get(f"{api.url}/similar/4", params={"top_k": len(expected), "min_score": threshold}).json()
    assert short["has_more"] is False
    shorter = httpx.get(f"{api.url}/similar/4", params={"top_k": len(expected) - 1, "min_score": threshold})
    assert shorter.json()["has_more"] is True


def test_negative_term_pushes_an_image_down(
    api: Server, vectors: np.ndarray, paths: list[Path], tiny_encoder: Encoder
) -> None:
    a = 6
    alone = brute_force(vectors, vectors[a], exclude=(a,))
    b = alone[0]  # A's nearest neighbour
    plain_response = post(api, {"terms": [{"image_id": a}], "top_k": 30})
    assert_ranking(plain_response.json()["results"], vectors, vectors[a], exclude=(a,))
    plain = ids(plain_response)
    # B given as an uploaded image (not by id, which would exclude it outright).
    body = {"terms": [{"image_id": a}, {"image_b64": b64(paths[b]), "weight": -1}], "top_k": 30}
    response = post(api, body)
    query = unit(unit(vectors[a].astype(np.float64)) - unit(encode_file(tiny_encoder, paths[b])))
    assert_ranking(response.json()["results"], vectors, query.astype(np.float32), exclude=(a,))
    assert ids(response).index(b) > plain.index(b)
    assert response.json()["query"] == f"image #{a} − uploaded image"  # noqa: RUF001


def test_combined_query_is_the_normalised_weighted_sum(
    api: Server, vectors: np.ndarray, paths: list[Path], tiny_encoder: Encoder, built_index: BuiltIndex
) -> None:
    texts = tiny_encoder.encode_texts(["golden retriever", "grass"]).astype(np.float64)
    upload = encode_file(tiny_encoder, paths[9])
    stored = vectors[5].astype(np.float64)
    expected = unit(2 * unit(texts[0]) + unit(stored) + 0.5 * unit(upload) - unit(texts[1]))
    terms = [
        {"text": "golden retriever", "weight": 2},
        {"image_id": 5},
        {"image_b64": b64(paths[9]), "weight": 0.5},
        {"text": "grass", "weight": -1},
    ]
    response = post(api, {"terms": terms, "top_k": 30})
    assert response.json()["query"] == '2×"golden retriever" + image #5 + 0.5×uploaded image − "grass"'  # noqa: RUF001
    assert_ranking(response.json()["results"], vectors, expected.astype(np.float32), exclude=(5,))
    # The vector itself, in process, against the same numpy sum.
    searcher = Searcher.load(built_index.settings, tiny_encoder)
    core = [
        QueryTerm(text="golden retriever", weight=2),
        QueryTerm(image_id=5),
        QueryTerm(image=paths[9].read_bytes(), weight=0.5),
        QueryTerm(text="grass", weight=-1),
    ]
    combined = searcher.queries.combined(core)
    assert np.abs(combined.vector[0] - expected).max() < 1e-5 and combined.exclude == {5}


def test_data_url_base64_is_accepted(api: Server, paths: list[Path]) -> None:
    plain = post(api, {"terms": [{"image_b64": b64(paths[1])}], "top_k": 3})
    data_url = post(api, {"terms": [{"image_b64": "data:image/png;base64," + b64(paths[1])}], "top_k": 3})
    assert ids(plain) == ids(data_url) and ids(plain)[0] == 1


def test_results_carry_no_caption_and_no_duplicates_by_default(api: Server) -> None:
    body = httpx.get(f"{api.url}/search", params={"query": "cat"}).json()
    assert body["dedupe"] is False and body["offset"] == 0 and body["min_score"] is None
    assert all(r["caption"] is None and r["duplicates"] == [] for r in body["results"])
    assert httpx.get(f"{api.url}/health").json()["captions"] is False


def test_hybrid_needs_captions(api: Server) -> None:
    for response in (
        httpx.get(f"{api.url}/search", params={"query": "cat", "hybrid": 0.5}),
        post(api, {"terms": [{"text": "cat"}], "hybrid": 0.3}),
    ):
        assert response.status_code == 422 and "no captions" in response.json()["detail"]
    assert httpx.get(f"{api.url}/search", params={"query": "cat", "hybrid": 0}).status_code == 200


TEXT = {"text": "dog"}


@pytest.mark.parametrize(
    ("path", "params", "fragment"),
    [
        ("/search", {"query": "x", "offset": -1}, "offset"),
        ("/search", {"query": "x", "offset": 1001}, "offset"),
        ("/search", {"query": "x", "min_score": 1.5}, "min_score"),
        ("/search", {"query": "x", "min_score": "nan"}, "min_score"),
        ("/search", {"query": "x", "hybrid": 2}, "hybrid"),
        ("/search", {"query": "x", "hybrid": -0.1}, "hybrid"),
        ("/search", {"query": "x", "dedupe": "maybe"}, "dedupe"),
        ("/similar/1", {"top_k": 0}, "top_k"),
        ("/similar/1", {"offset": "ten"}, "offset"),
        ("/similar/1", {"min_score": -2}, "min_score"),
    ],
)
def test_bad_query_parameters_are_422(
    api: Server, path: str, params: dict[str, object], fragment: str
) -> None:
    response = httpx.get(api.url + path, params=params)
    assert response.status_code == 422 and fragment in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "terms"),
        ({"terms": []}, "terms"),
        ({"terms": [{}]}, "exactly one"),
        ({"terms": [{"text": "a", "image_id": 1}]}, "exactly one"),
        ({"terms": [{"text": "a", "weight": 0}]}, "weight"),
        ({"terms": [{"text": "a", "weight": 11}]}, "weight"),
        ({"terms": [{"text": "a", "weight": -1}]}, "positive"),
        ({"terms": [TEXT] * 9}, "terms"),
        ({"terms": [{"text": "x" * 501}]}, "500"),
        ({"terms": [{"text": "   "}]}, "empty"),
        ({"terms": [{"image_id": 24}]}, "no image with id 24"),
        ({"terms": [{"image_id": -1}]}, "image_id"),
        ({"terms": [{"image_b64": "not base64!"}]}, "base64"),
        ({"terms": [{"image_b64": "aGVsbG8gd29ybGQ="}]}, "not an image"),
        ({"terms": [TEXT, {"text": "dog", "weight": -1}]}, "cancel"),
        ({"terms": [TEXT], "top_k": 201}, "top_k"),
        ({"terms": [TEXT], "offset": 1001}, "offset"),
        ({"terms": [TEXT], "min_score": 2}, "min_score"),
        ({"terms": [TEXT], "hybrid": 1.5}, "hybrid"),
        ({"terms": [TEXT], "colour": "red"}, "colour"),
        ({"terms": "dog"}, "terms"),
    ],
)
def test_bad_search_bodies_are_422(api: Server, body: dict[str, object], fragment: str) -> None:
    response = post(api, body)
    assert response.status_code == 422, response.text
    assert fragment in response.json()["detail"]


@pytest.mark.parametrize(
    "content", [b"{not json", b"", b'{"terms": [{"text": "a", "weight": NaN}]}', b"[]", b"\xff\xfe"]
)
def test_malformed_json_is_422(api: Server, content: bytes) -> None:
    response = httpx.post(f"{api.url}/search", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"]


def test_broken_multipart_is_422(api: Server) -> None:
    response = httpx.post(
        f"{api.url}/search-by-image",
        content=b"--b\r\n$--b--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 422 and "could not be read" in response.json()["detail"]


def test_oversize_base64_image_is_413(built_index: BuiltIndex, paths: list[Path], tmp_path: Path) -> None:
    from support.servers import serving

    limits = {"IMAGESEARCH_MAX_UPLOAD_BYTES": "5000"}
    with serving(built_index.settings, tmp_path / "api.log", limits) as server:
        big = paths[0].read_bytes()
        assert len(big) > 5000
        response = post(server, {"terms": [{"image_b64": b64(paths[0])}]})
        assert response.status_code == 413 and "5,000" in response.json()["detail"]
        # A body far over what one base64 image can need is refused before it is read.
        huge = post(server, {"terms": [{"text": "a"}], "pad": "x" * 200_000})
        assert huge.status_code == 413
        # ... also when sent chunked, without a Content-Length.
        chunked = httpx.post(
            f"{server.url}/search",
            content=iter([b'{"terms": [{"text": "', b"x" * 200_000, b'"}]}']),
            headers={"Content-Type": "application/json"},
        )
        assert chunked.status_code == 413 and "limited to 5,000" in chunked.json()["detail"]
        assert post(server, {"terms": [TEXT], "top_k": 2}).status_code == 200
        small_chunked = httpx.post(
            f"{server.url}/search",
            content=iter([b'{"terms": [{"text": ', b'"dog"}], "top_k": 2}']),
            headers={"Content-Type": "application/json"},
        )
        assert small_chunked.status_code == 200 and len(small_chunked.json()["results"]) == 2


# Near-duplicates: an index with an exact copy, a JPEG re-save and a resized copy of three images.
DEDUPE_THRESHOLD = 0.999  # random tiny-CLIP weights put distinct images up to ~0.99 apart


@pytest.fixture(scope="module")
def dup_index(tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path_factory: pytest.TempPathFactory):
    from PIL import Image
    from support.images import write_images
    from support.tiny import tiny_settings

    from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline

    folder = tmp_path_factory.mktemp("dups")
    originals = write_images(folder, 10)
    (folder / "copy").mkdir()
    (folder / "copy" / "exact.jpg").write_bytes(originals[0].read_bytes())
    Image.open(originals[1]).convert("RGB").save(folder / "copy" / "resaved.jpg", quality=40)
    first = Image.open(originals[2])
    first.resize((first.width * 3 // 4, first.height * 3 // 4)).save(folder / "copy" / "resized.png")
    settings = tiny_settings(tiny_checkpoint, tmp_path_factory.mktemp("dupdata"), batch_size=8)
    run_pipeline(settings, PipelineOptions(source=folder, progress=False), tiny_encoder)
    return settings


@pytest.fixture(scope="module")
def dup_api(dup_index, tmp_path_factory: pytest.TempPathFactory):
    from support.servers import serving

    env = {"IMAGESEARCH_DEDUPE_THRESHOLD": str(DEDUPE_THRESHOLD)}
    with serving(dup_index, tmp_path_factory.mktemp("duplog") / "api.log", env) as server:
        yield server


def position(urls: list[str], name: str) -> int:
    return next(i for i, url in enumerate(urls) if url.endswith(name))


def expected_groups(vectors: np.ndarray, query: np.ndarray, exclude=()) -> list[tuple[int, list[int]]]:
    """Greedy collapse in score order, computed here with numpy."""
    groups: list[tuple[int, list[int]]] = []
    for i in brute_force(vectors, query, exclude):
        home = next((g for g in groups if vectors[g[0]] @ vectors[i] >= DEDUPE_THRESHOLD), None)
        if home is None:
            groups.append((i, []))
        else:
            home[1].append(i)
    return groups


def test_dedupe_collapses_copies_and_only_copies(dup_index, dup_api: Server) -> None:
    vectors = stored_vectors(dup_index)
    urls = load_bundle(dup_index).urls
    copy_of = {"exact.jpg": "img0000.jpg", "resaved.jpg": "img0001.png", "resized.png": "img0002.jpg"}
    copies = {name: position(urls, name) for name in copy_of}
    originals = {name: position(urls, original) for name, original in copy_of.items()}
    cosines = vectors @ vectors.T
    pairs = {frozenset((originals[n], copies[n])) for n in copies}
    for i in range(len(vectors)):
        for j in range(i + 1, len(vectors)):
            assert (cosines[i, j] >= DEDUPE_THRESHOLD) == (frozenset((i, j)) in pairs), (i, j, cosines[i, j])

    for query_id in (originals["exact.jpg"], 5):
        response = httpx.get(f"{dup_api.url}/similar/{query_id}", params={"top_k": 50, "dedupe": True})
        got = [(r["id"], r["duplicates"]) for r in response.json()["results"]]
        assert got == expected_groups(vectors, vectors[query_id], exclude=(query_id,))
        assert response.json()["dedupe"] is True
    # Text query: every pair collapses into whichever of the two ranks first.
    body = httpx.get(f"{dup_api.url}/search", params={"query": "a photo", "top_k": 50, "dedupe": True}).json()
    assert len(body["results"]) == len(vectors) - 3
    collapsed = {frozenset((r["id"], *r["duplicates"])) for r in body["results"] if r["duplicates"]}
    assert collapsed == pairs
    # Off by default: every copy is its own result.
    plain = httpx.get(f"{dup_api.url}/search", params={"query": "a photo", "top_k": 50}).json()
    assert len(plain["results"]) == len(vectors) and all(r["duplicates"] == [] for r in plain["results"])


def test_dedupe_pages_are_full_and_concatenate(dup_api: Server) -> None:
    params = {"query": "shapes", "dedupe": True}
    everything = ids(httpx.get(f"{dup_api.url}/search", params={**params, "top_k": 50}))
    for size in (2, 4):
        got, more = page_ids(dup_api, "/search", size, len(everything), **params)
        assert got == everything
        assert more == [True] * (len(more) - 1) + [False]
    # A page of 4 after collapsing holds 4 results whenever that many distinct images remain.
    page = httpx.get(f"{dup_api.url}/search", params={**params, "top_k": 4, "offset": 4}).json()
    assert len(page["results"]) == 4


def test_dedupe_on_uploads_as_form_field(dup_index, dup_api: Server) -> None:
    urls = load_bundle(dup_index).urls
    original = next(u for u in urls if u.endswith("img0000.jpg"))
    data = Path(original).read_bytes()
    response = httpx.post(
        f"{dup_api.url}/search-by-image",
        files={"file": ("q.jpg", data)},
        data={"dedupe": "true", "top_k": "3"},
        timeout=30,
    )
    first = response.json()["results"][0]
    copy = urls.index(next(u for u in urls if u.endswith("exact.jpg")))
    # Identical vectors tie; the lower id is kept and the other listed as its duplicate.
    assert {first["id"], *first["duplicates"]} == {urls.index(original), copy}
    assert first["id"] == min(urls.index(original), copy) and len(response.json()["results"]) == 3


def test_pages_are_stable_across_ties_of_equal_scores(dup_api: Server) -> None:
    # The exact copy and its original score identically for every query.
    params = {"query": "shapes"}
    everything = ids(httpx.get(f"{dup_api.url}/search", params={**params, "top_k": 50}))
    for size in (1, 3):
        got, _ = page_ids(dup_api, "/search", size, len(everything), **params)
        assert got == everything


def test_ranker_orders_exact_ties_by_id_at_every_cut() -> None:
    import faiss

    from imagesearch.search.ranking import Ranker, RankOptions

    rng = np.random.default_rng(3)
    base = rng.normal(size=(1, 16)).astype(np.float32)
    vectors = np.concatenate([np.repeat(base, 40, axis=0), rng.normal(size=(60, 16)).astype(np.float32)])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    order = rng.permutation(100)
    index = faiss.IndexFlatIP(16)
    index.add(vectors[order])  # the 40 tied vectors sit at scattered ids
    tied = sorted(int(i) for i in np.flatnonzero(order < 40))
    ranker = Ranker(100, lambda ids: vectors[order][ids], 0.99)

    def fetch(k: int):
        scores, found = index.search(base, k)
        return scores[0], found[0].astype(np.int64)

    pages = [ranker.rank(fetch, RankOptions(top_k=7, offset=offset)) for offset in range(0, 42, 7)]
    first = [item.id for page in pages for item in page.items][:40]
    assert first == tied and all(page.has_more for page in pages)
    deduped = ranker.rank(fetch, RankOptions(top_k=3, dedupe=True))
    assert deduped.items[0].id == tied[0] and list(deduped.items[0].duplicates) == tied[1:]


# Hybrid: an index built from a CSV with captions.
WORDS = ["apple", "tree", "river", "dog", "bicycle", "mountain", "boat", "city"]


@pytest.fixture(scope="module")
def captioned(
    built_index: BuiltIndex,
    paths: list[Path],
    tiny_encoder: Encoder,
    tmp_path_factory: pytest.TempPathFactory,
):
    import csv

    from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline

    folder = tmp_path_factory.mktemp("captioned")
    rows = [
        [str(path), f"a {WORDS[i % 8]} near a {WORDS[(i * 3) % 8]}" if i % 5 else ""]
        for i, path in enumerate(paths)
    ]
    with (folder / "photos.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["url", "caption"], *rows])
    settings = built_index.settings.model_copy(update={"data_dir": folder / "data"})
    run_pipeline(settings, PipelineOptions(source=folder / "photos.csv", progress=False), tiny_encoder)
    return settings


@pytest.fixture(scope="module")
def captioned_api(captioned, tmp_path_factory: pytest.TempPathFactory):
    from support.servers import serving

    with serving(captioned, tmp_path_factory.mktemp("caplog") / "api.log") as server:
        yield server


def fused_order(
    vectors: np.ndarray, query: np.ndarray, captions: list[str], text: str, weight: float
) -> list[int]:
    """Weighted reciprocal-rank fusion (k0 = 60) of the numpy CLIP order and the BM25 order."""
    from imagesearch.search.lexical import CaptionIndex

    dense = brute_force(vectors, query)
    sparse = [i for i, _ in CaptionIndex(captions).search(text, len(captions))]
    score = {i: (1 - weight) / (60 + rank) for rank, i in enumerate(dense, start=1)}
    for rank, i in enumerate(sparse, start=1):
        score[i] = score.get(i, 0.0) + weight / (60 + rank)
    return sorted(score, key=lambda i: (-score[i], dense.index(i), i))


def test_hybrid_fuses_caption_matches_and_keeps_clip_scores(
    captioned, captioned_api: Server, tiny_encoder: Encoder
) -> None:
    bundle = load_bundle(captioned)
    assert bundle.captions is not None
    vectors = stored_vectors(captioned)
    assert httpx.get(f"{captioned_api.url}/health").json()["captions"] is True
    text = "a dog by the river"
    query = tiny_encoder.encode_texts([text])[0]
    for weight in (0.3, 0.7, 1.0):
        response = httpx.get(
            f"{captioned_api.url}/search", params={"query": text, "top_k": 24, "hybrid": weight}
        )
        results = response.json()["results"]
        assert [r["id"] for r in results] == fused_order(vectors, query, bundle.captions, text, weight)
        for r in results:
            assert r["score"] == pytest.approx(float(vectors[r["id"]] @ query), abs=1e-5)
            assert r["caption"] == (bundle.captions[r["id"]] or None)
    # Weight 1: the caption ranking leads; every caption with "dog" or "river" comes first.
    strong = ids(httpx.get(f"{captioned_api.url}/search", params={"query": text, "top_k": 24, "hybrid": 1}))
    matching = {i for i, c in enumerate(bundle.captions) if "dog" in c or "river" in c}
    assert set(strong[: len(matching)]) == matching
    # 0 is CLIP alone.
    plain = httpx.get(f"{captioned_api.url}/search", params={"query": text, "top_k": 24, "hybrid": 0}).json()
    assert_ranking(plain["results"], vectors, query)


def test_hybrid_pages_min_score_and_post(captioned, captioned_api: Server, tiny_encoder: Encoder) -> None:
    params = {"query": "apple tree", "hybrid": 0.5}
    everything = ids(httpx.get(f"{captioned_api.url}/search", params={**params, "top_k": 24}))
    got, more = page_ids(captioned_api, "/search", 5, len(everything), **params)
    assert got == everything and more[-1] is False
    vectors = stored_vectors(captioned)
    scores = vectors @ tiny_encoder.encode_texts(["apple tree"])[0]
    threshold = float(np.median(scores))
    kept = ids(
        httpx.get(f"{captioned_api.url}/search", params={**params, "top_k": 24, "min_score": threshold})
    )
    assert kept == [i for i in everything if scores[i] >= threshold]
    posted = httpx.post(
        f"{captioned_api.url}/search", json={"terms": [{"text": "apple tree"}], "top_k": 24, "hybrid": 0.5}
    )
    assert ids(posted) == everything
    image_only = httpx.post(f"{captioned_api.url}/search", json={"terms": [{"image_id": 1}], "hybrid": 0.5})
    assert image_only.status_code == 422 and "text term" in image_only.json()["detail"]


def test_similar_on_an_ivf_index_builds_its_id_map_once_under_concurrency(
    built_index: BuiltIndex, tiny_encoder: Encoder, vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    import faiss

    from imagesearch.index import stored_vectors
    from imagesearch.search.ranking import RankOptions

    bundle = load_bundle(built_index.settings)
    ivf = faiss.index_factory(vectors.shape[1], "IVF4,Flat", faiss.METRIC_INNER_PRODUCT)
    ivf.train(vectors)
    ivf.add(vectors)
    ivf.nprobe = 4  # every list: exact, so brute force is the reference
    searcher = Searcher(built_index.settings, tiny_encoder, replace(bundle, index=ivf))
    real_ivf_of = stored_vectors._ivf_of
    builds: list[int] = []

    class CountingIvf:
        """The real IVF index; its direct map takes a while to build, so racing threads would overlap."""

        def __init__(self, inner: object) -> None:
            self._inner = inner

        def make_direct_map(self) -> None:
            builds.append(threading.get_ident())
            time.sleep(0.05)
            self._inner.make_direct_map()  # type: ignore[attr-defined]

    monkeypatch.setattr(stored_vectors, "_ivf_of", lambda index: CountingIvf(real_ivf_of(index)))
    with ThreadPoolExecutor(8) as pool:
        pages = list(pool.map(lambda i: searcher.similar(i, RankOptions(top_k=23)), range(24)))
    assert len(builds) == 1, f"the direct map was built {len(builds)} times"
    for image_id, page in enumerate(pages):
        results = [{"id": hit.id, "score": hit.score} for hit in page.hits]
        assert_ranking(results, vectors, vectors[image_id], exclude=(image_id,))
