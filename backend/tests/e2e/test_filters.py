"""Metadata over HTTP: a CSV's columns and the images' facts indexed, then filter, sort and facets
on every search route, each result checked against the CSV and against brute-force cosine ranking
over the matching subset (numpy on the index's own vectors: no code of the search path)."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import faiss
import httpx
import numpy as np
import pytest
from support.images import write_images
from support.servers import Server, serving
from support.tiny import tiny_settings

from imagesearch.config import Settings
from imagesearch.encoders.protocol import Encoder
from imagesearch.ingest.metadata import MetadataOptions
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline

PHOTOGRAPHERS = ("Jane Doe", "Li Wei", "Ana Souza")
TAGS = ("sea", "beach", "city", "night", "forest")
COUNT = 60


def row_for(n: int, path: Path) -> dict[str, str]:
    return {
        "url": str(path),
        "photographer": PHOTOGRAPHERS[n % 3],
        "year": str(2015 + n % 10),
        "taken": f"20{15 + n % 10}-{1 + n % 12:02d}-{1 + n % 28:02d}T12:00:00Z",
        "tags": "|".join(TAGS[(n + k) % 5] for k in range(n % 3)),
        "featured": "yes" if n % 4 == 0 else "no",
        "rating": "" if n % 7 == 0 else str(n % 5),  # some images have none
        "caption": f"{TAGS[n % 5]} picture number {n}",
    }


@dataclass(frozen=True)
class Collection:
    settings: Settings
    rows: list[dict[str, str]]  # the CSV rows, in source order (= vector order: nothing fails)
    vectors: np.ndarray  # (COUNT, dim), read from the index file


@pytest.fixture(scope="module")
def collection(
    tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path_factory: pytest.TempPathFactory
) -> Collection:
    root = tmp_path_factory.mktemp("meta")
    paths = write_images(root / "images", COUNT)
    rows = [row_for(n, path) for n, path in enumerate(paths)]
    source = root / "photos.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    settings = tiny_settings(tiny_checkpoint, root / "data", batch_size=8)
    options = PipelineOptions(source=source, progress=False, metadata=MetadataOptions())
    report = run_pipeline(settings, options, tiny_encoder)
    assert report.ok == COUNT
    index = faiss.read_index(str(settings.index_path))
    return Collection(settings, rows, index.reconstruct_n(0, index.ntotal))


@pytest.fixture(scope="module")
def api(collection: Collection, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(collection.settings, tmp_path_factory.mktemp("logs") / "api.log") as server:
        yield server


def embed(api: Server, text: str) -> np.ndarray:
    response = httpx.post(f"{api.url}/embed/text", json={"texts": [text]}, timeout=30)
    response.raise_for_status()
    return np.asarray(response.json()["vectors"][0], dtype=np.float32)


def exact_order(
    collection: Collection, query: np.ndarray, keep: Callable[[dict[str, str]], bool]
) -> list[int]:
    """Ids of the matching rows by cosine desc, then id: the oracle's ranking."""
    ids = [i for i, row in enumerate(collection.rows) if keep(row)]
    scores = collection.vectors[ids] @ query
    return [ids[j] for j in sorted(range(len(ids)), key=lambda j: (-float(scores[j]), ids[j]))]


def get(api: Server, **params: Any) -> httpx.Response:
    return httpx.get(f"{api.url}/search", params={"query": "a photo", **params}, timeout=30)


def test_health_lists_the_typed_fields(api: Server) -> None:
    fields = httpx.get(f"{api.url}/health").json()["metadata_fields"]
    assert {k: fields[k] for k in ("photographer", "year", "taken", "tags", "featured", "rating")} == {
        "photographer": "string",
        "year": "number",
        "taken": "datetime",
        "tags": "list",
        "featured": "boolean",
        "rating": "number",
    }
    # Facts of local files: their size in pixels and on disk, their date.
    assert fields["width"] == fields["height"] == fields["file_size"] == "number"
    assert fields["file_modified"] == "datetime"


def test_every_result_carries_its_own_metadata(api: Server, collection: Collection) -> None:
    results = get(api, top_k=COUNT).json()["results"]
    assert len(results) == COUNT
    for result in results:
        row, metadata = collection.rows[result["id"]], result["metadata"]
        # The CSV lies beside its images/ folder: sources are shown relative to the CSV's folder.
        assert (
            result["source"] == Path(row["url"]).relative_to(collection.settings.data_dir.parent).as_posix()
        )
        assert metadata["photographer"] == row["photographer"] and metadata["year"] == int(row["year"])
        assert metadata.get("tags") == (row["tags"].split("|") if row["tags"] else None)  # empty: missing
        assert metadata["featured"] == (row["featured"] == "yes")
        assert metadata.get("rating") == (int(row["rating"]) if row["rating"] else None)
        assert metadata["taken"] == row["taken"]


FILTERS: list[tuple[str, Callable[[dict[str, str]], bool]]] = [
    ('photographer = "Jane Doe"', lambda r: r["photographer"] == "Jane Doe"),
    ("year >= 2020 AND featured = true", lambda r: int(r["year"]) >= 2020 and r["featured"] == "yes"),
    ("tags IN [sea, night]", lambda r: bool({"sea", "night"} & set(r["tags"].split("|")))),
    (
        "NOT (year 2016 TO 2018) OR rating EXISTS",
        lambda r: not 2016 <= int(r["year"]) <= 2018 or r["rating"] != "",
    ),
    ("taken >= 2021-03 AND taken < 2023", lambda r: r["taken"][:7] >= "2021-03" and r["taken"][:4] < "2023"),
    ("rating NOT EXISTS", lambda r: r["rating"] == ""),
]


@pytest.mark.parametrize(("expression", "keep"), FILTERS, ids=[f for f, _ in FILTERS])
def test_a_filtered_search_is_the_exact_ranking_of_the_matching_images(
    api: Server, collection: Collection, expression: str, keep: Callable[[dict[str, str]], bool]
) -> None:
    expected = exact_order(collection, embed(api, "a photo"), keep)
    assert expected  # every filter here matches something
    body = get(api, filter=expression, top_k=COUNT).json()
    assert [result["id"] for result in body["results"]] == expected
    # Pages of a filtered search tile the same order, with no holes.
    paged = [
        r["id"]
        for offset in range(0, len(expected), 4)
        for r in get(api, filter=expression, top_k=4, offset=offset).json()["results"]
    ]
    assert paged == expected


def test_bad_filters_are_422_with_a_message_that_points_at_the_problem(api: Server) -> None:
    cases = {
        "year >= ": "expected",
        "yeer > 2020": "year",  # the suggestion
        'year > "abc"': "number",
        "tags > 3": "list",
        "(year > 2020": "",
    }
    for expression, hint in cases.items():
        response = get(api, filter=expression)
        assert response.status_code == 422, (expression, response.text)
        detail = response.json()["detail"]
        assert isinstance(detail, str) and hint in detail, (expression, detail)
    # Programs get where it went wrong: the character offset of the offending part.
    errors = get(api, filter="year > 2020 AND yeer = 3").json()["errors"]
    assert errors == [{"loc": ["filter"], "msg": errors[0]["msg"], "type": "filter_invalid", "position": 16}]
    # A bad sort or facet is 422 too, named in the message.
    assert (
        "sort" in get(api, sort="tags:desc").json()["detail"]
        or "tags" in get(api, sort="tags:desc").json()["detail"]
    )
    assert get(api, facets="nope").status_code == 422


def test_facets_count_every_matching_image_not_only_the_page(api: Server, collection: Collection) -> None:
    body = get(api, filter="year >= 2018", facets="photographer,featured", top_k=3).json()
    matching = [r for r in collection.rows if int(r["year"]) >= 2018]
    assert len(body["results"]) == 3
    by_photographer = {b["value"]: b["count"] for b in body["facets"]["photographer"]["buckets"]}
    assert by_photographer == Counter(r["photographer"] for r in matching)
    by_featured = {b["value"]: b["count"] for b in body["facets"]["featured"]["buckets"]}
    assert by_featured == Counter(r["featured"] == "yes" for r in matching)


def test_sort_orders_the_relevant_results_by_a_field(api: Server, collection: Collection) -> None:
    query = embed(api, "a photo")
    scores = collection.vectors @ query
    threshold = float(np.sort(scores)[-25])  # the 25 best are relevant
    body = get(api, min_score=threshold, sort="year:desc", top_k=50).json()
    relevant = {i for i in range(COUNT) if scores[i] >= threshold - 1e-6}
    ids = [r["id"] for r in body["results"]]
    assert set(ids) == relevant and body["total"] == len(relevant)
    years = [int(collection.rows[i]["year"]) for i in ids]
    assert years == sorted(years, reverse=True)
    # Within one year, relevance decides.
    for a, b in pairwise(ids):
        if collection.rows[a]["year"] == collection.rows[b]["year"]:
            assert scores[a] >= scores[b] - 1e-5


def test_auto_cutoff_keeps_a_prefix_of_the_exact_ranking(api: Server, collection: Collection) -> None:
    expected = exact_order(collection, embed(api, "a photo"), lambda r: True)
    body = get(api, cutoff="auto", top_k=COUNT).json()
    ids = [r["id"] for r in body["results"]]
    assert 1 <= len(ids) <= COUNT and ids == expected[: len(ids)] and body["total"] == len(ids)


def test_every_route_takes_the_same_filter(api: Server, collection: Collection) -> None:
    keep = [i for i, row in enumerate(collection.rows) if row["photographer"] == "Li Wei"]
    expression = 'photographer = "li wei"'  # strings match case-insensitively
    data = Path(collection.rows[5]["url"]).read_bytes()
    responses = {
        "upload (form field)": httpx.post(
            f"{api.url}/search-by-image",
            files={"file": ("q.jpg", data)},
            data={"filter": expression, "top_k": "50"},
        ),
        "upload (query)": httpx.post(
            f"{api.url}/search-by-image",
            files={"file": ("q.jpg", data)},
            params={"filter": expression, "top_k": 50},
        ),
        "similar": httpx.get(f"{api.url}/similar/0", params={"filter": expression, "top_k": 50}),
        "terms": httpx.post(
            f"{api.url}/search", json={"terms": [{"text": "a photo"}], "filter": expression, "top_k": 50}
        ),
    }
    for name, response in responses.items():
        assert response.status_code == 200, (name, response.text)
        ids = {r["id"] for r in response.json()["results"]}
        assert ids == set(keep) - ({0} if name == "similar" else set()), name
    batch = httpx.post(
        f"{api.url}/search/batch",
        json={"queries": [{"text": "sea"}, {"image_id": 3}], "filter": expression, "top_k": 50},
    ).json()
    assert [{r["id"] for r in page["results"]} for page in batch["results"]] == [set(keep), set(keep)]


def test_hybrid_search_stays_inside_the_filter(api: Server, collection: Collection) -> None:
    """The caption (BM25) side of a hybrid search only proposes images the filter allows."""
    keep = {i for i, row in enumerate(collection.rows) if row["featured"] == "yes"}
    body = get(api, query="forest picture", hybrid=0.5, filter="featured = true", top_k=COUNT).json()
    ids = [r["id"] for r in body["results"]]
    assert set(ids) == keep and len(ids) == len(keep)
    unfiltered = [r["id"] for r in get(api, query="forest picture", hybrid=1.0, top_k=5).json()["results"]]
    assert any(i not in keep for i in unfiltered)  # the caption match alone would leave the filter
