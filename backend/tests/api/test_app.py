"""The API over real HTTP: uvicorn search_api:app in a subprocess, a real index, real images."""

import io
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from support.servers import Server, serving, start_api
from support.tiny import BuiltIndex
from support.weights import save_random_checkpoint


def upload(api: Server, data: bytes, name: str = "q.jpg", **params: object) -> httpx.Response:
    return httpx.post(
        f"{api.url}/search-by-image", files={"file": (name, data, "image/jpeg")}, params=params, timeout=30
    )


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def test_health_reports_the_index(api: Server, built_index: BuiltIndex) -> None:
    body = httpx.get(f"{api.url}/health").json()
    assert body["status"] == "ok"
    assert body["images"] == 24 and body["dimension"] == 64
    assert body["model"] == "test-tiny-clip" and body["index_type"] == "IndexFlatIP"
    assert body["encoder"] == built_index.report.manifest.encoder_id
    assert body["index_factory"] == "Flat" and body["search_params"] == {} and body["recall_at_10"] == 1.0
    assert body["vectors_on_disk"] is False and body["vectors_file_bytes"] == 0  # one-stage index
    assert body["query_runtime"] == "onnxruntime fp32"  # built at start-up, the exact default


def test_health_reports_the_limits_it_enforces(api: Server) -> None:
    limits = httpx.get(f"{api.url}/health").json()["limits"]
    assert limits == {
        "max_top_k": 200,
        "max_offset": 1000,
        "max_query_terms": 8,
        "max_term_weight": 10.0,
        "max_query_chars": 500,
        "max_upload_bytes": 20 * 1024 * 1024,
        "max_batch_queries": 64,
        "queue_budget_s": 0.5,
    }
    # What a client reads there is what the routes accept, and one more is refused.
    search = f"{api.url}/search"
    assert httpx.get(search, params={"query": "x", "top_k": limits["max_top_k"]}).status_code == 200
    assert httpx.get(search, params={"query": "x", "top_k": limits["max_top_k"] + 1}).status_code == 422
    assert httpx.get(search, params={"query": "x", "offset": limits["max_offset"]}).status_code == 200
    assert httpx.get(search, params={"query": "x", "offset": limits["max_offset"] + 1}).status_code == 422
    assert httpx.get(search, params={"query": "x" * limits["max_query_chars"]}).status_code == 200
    assert httpx.get(search, params={"query": "x" * (limits["max_query_chars"] + 1)}).status_code == 422
    weight = limits["max_term_weight"]
    for count, status in ((limits["max_query_terms"], 200), (limits["max_query_terms"] + 1, 422)):
        terms = [{"text": f"word {n}", "weight": weight} for n in range(count)]
        assert httpx.post(search, json={"terms": terms}).status_code == status
    assert httpx.post(search, json={"terms": [{"text": "x", "weight": weight + 0.5}]}).status_code == 422
    batch = f"{api.url}/search/batch"
    for count, status in ((limits["max_batch_queries"], 200), (limits["max_batch_queries"] + 1, 422)):
        queries = [{"image_id": n % 24} for n in range(count)]
        assert httpx.post(batch, json={"queries": queries}, timeout=30).status_code == status


def test_text_search_response_shape(api: Server) -> None:
    response = httpx.get(f"{api.url}/search", params={"query": "a person", "top_k": 7})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "a person" and body["top_k"] == 7
    scores = [result["score"] for result in body["results"]]
    assert len(scores) == 7 and scores == sorted(scores, reverse=True)
    assert set(body["results"][0]) >= {"id", "image_url", "score", "source"}


def test_default_top_k_is_10(api: Server) -> None:
    assert len(httpx.get(f"{api.url}/search", params={"query": "city"}).json()["results"]) == 10


def test_image_search_finds_the_image_itself_and_serves_it(api: Server, built_index: BuiltIndex) -> None:
    source = Path(load_urls(built_index)[5])
    response = upload(api, source.read_bytes(), top_k=3)
    assert response.status_code == 200, response.text
    best = response.json()["results"][0]
    # Shown relative to the indexed folder (IMAGESEARCH_SOURCE_PATHS=relative, the default).
    assert best["id"] == 5 and best["source"] == source.relative_to(built_index.source.resolve()).as_posix()
    assert best["score"] == pytest.approx(1.0, abs=1e-3)
    # The result URL is loadable and returns exactly the indexed file.
    assert best["image_url"] == f"{api.url}/images/5"
    served = httpx.get(best["image_url"])
    assert served.status_code == 200 and served.content == source.read_bytes()


def test_top_k_as_form_field(api: Server, built_index: BuiltIndex) -> None:
    data = Path(load_urls(built_index)[2]).read_bytes()
    response = httpx.post(
        f"{api.url}/search-by-image", files={"file": ("a.png", data)}, data={"top_k": "4"}, timeout=30
    )
    assert response.status_code == 200 and len(response.json()["results"]) == 4


def load_urls(built_index: BuiltIndex) -> list[str]:
    from imagesearch.index.store import load_bundle

    return load_bundle(built_index.settings).urls


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "query"),
        ({"query": ""}, "query"),
        ({"query": "   "}, "empty"),
        ({"query": "x" * 501}, "500"),
        ({"query": "cat", "top_k": 0}, "top_k"),
        ({"query": "cat", "top_k": 201}, "top_k"),
        ({"query": "cat", "top_k": "ten"}, "top_k"),
    ],
)
def test_bad_text_queries_are_clear_4xx(api: Server, params: dict[str, object], fragment: str) -> None:
    response = httpx.get(f"{api.url}/search", params=params)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


def make_bomb() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buffer, "PNG")
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    rng = np.random.default_rng(1)
    data = jpeg_bytes(Image.fromarray(rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)))
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "status", "fragment"),
    [
        (b"", 422, "empty"),
        (b"hello, I am text", 422, "not an image"),
        (truncated_jpeg(), 422, "truncated"),
        (make_bomb(), 413, "pixels"),
    ],
)
def test_bad_uploads_are_clear_4xx(api: Server, data: bytes, status: int, fragment: str) -> None:
    response = upload(api, data)
    assert response.status_code == status, response.text
    assert fragment in response.json()["detail"]


def test_missing_or_misnamed_file_field(api: Server) -> None:
    response = httpx.post(f"{api.url}/search-by-image", files={"image": ("a.jpg", b"123")})
    assert response.status_code == 422 and "file" in response.json()["detail"]
    assert httpx.post(f"{api.url}/search-by-image").status_code == 422


def test_image_route_serves_only_indexed_ids(api: Server) -> None:
    for path in ("/images/24", "/images/-1", "/images/999999999999", "/images/..%2F..%2Fetc%2Fpasswd"):
        response = httpx.get(api.url + path)
        assert response.status_code in (404, 422), path
        assert "root:" not in response.text
    assert httpx.get(f"{api.url}/images/../../etc/passwd").status_code == 404


def test_cors_allows_the_ui_origin(api: Server) -> None:
    preflight = httpx.options(
        f"{api.url}/search",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.headers.get("access-control-allow-origin") == "http://localhost:3000"
    other = httpx.get(f"{api.url}/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_openapi_documents_limits(api: Server) -> None:
    schema = httpx.get(f"{api.url}/openapi.json").json()
    params = {p["name"]: p for p in schema["paths"]["/search"]["get"]["parameters"]}
    assert params["top_k"]["schema"]["maximum"] == 200 and params["top_k"]["schema"]["minimum"] == 1
    assert params["query"]["schema"]["maxLength"] == 500
    assert httpx.get(f"{api.url}/docs").status_code == 200


def test_a_multi_megabyte_photo_is_searched(api: Server) -> None:
    # Over Starlette's 1 MB in-memory spool (the app raises it to the upload limit).
    pixels = np.random.default_rng(3).integers(0, 256, (1944, 2592, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    assert len(buffer.getvalue()) > 2 * 1024 * 1024
    response = upload(api, buffer.getvalue(), top_k=5)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 5


def test_oversized_upload_is_413(built_index: BuiltIndex, tmp_path: Path) -> None:
    limits = {"IMAGESEARCH_MAX_UPLOAD_BYTES": "1000"}
    with serving(built_index.settings, tmp_path / "api.log", limits) as server:
        big = Path(load_urls(built_index)[0]).read_bytes()
        assert len(big) > 1000
        response = upload(server, big)
        assert response.status_code == 413 and "1,000-byte limit" in response.json()["detail"]
        # A body that announces itself as huge is refused before it is read.
        huge = httpx.post(
            f"{server.url}/search-by-image",
            content=b"x" * 200_000,
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert huge.status_code == 413 and "limited to 1,000" in huge.json()["detail"]
        health = httpx.get(f"{server.url}/health")
        assert health.status_code == 200
        assert health.json()["limits"]["max_upload_bytes"] == 1000  # the setting, as served


def refused_start(settings_dir: Path, built_index: BuiltIndex, log: Path, **env: str) -> str:
    settings = built_index.settings.model_copy(update={"data_dir": settings_dir})
    server = start_api(settings, log, env)
    code = server.process.wait(timeout=90)
    assert code != 0
    return log.read_text()


def copy_index(built_index: BuiltIndex, target: Path) -> Path:
    shutil.copytree(built_index.settings.data_dir, target)
    return target


def test_refuses_to_start_on_count_mismatch(built_index: BuiltIndex, tmp_path: Path) -> None:
    data = copy_index(built_index, tmp_path / "data")
    from imagesearch.index.manifest import dumps_urls

    (data / "embeddings" / "image_urls.pkl").write_bytes(dumps_urls(["only-one.jpg"]))
    log = refused_start(data, built_index, tmp_path / "api.log", IMAGESEARCH_VERIFY_CHECKSUMS="false")
    assert "index has 24 vectors, image_urls.pkl has 1 entries" in log


def test_refuses_to_start_on_tampered_index(built_index: BuiltIndex, tmp_path: Path) -> None:
    data = copy_index(built_index, tmp_path / "data")
    index_file = data / "faiss_index" / "image_index.faiss"
    index_file.write_bytes(index_file.read_bytes()[:-100])
    log = refused_start(data, built_index, tmp_path / "api.log")
    assert "does not match the manifest checksum" in log


def test_refuses_to_start_with_another_model(built_index: BuiltIndex, tmp_path: Path) -> None:
    other = save_random_checkpoint(built_index.settings, tmp_path / "other.pt", seed=7)
    log = refused_start(
        built_index.settings.data_dir, built_index, tmp_path / "api.log", IMAGESEARCH_PRETRAINED=str(other)
    )
    assert "the index was built with" in log


def test_refuses_to_start_without_an_index(built_index: BuiltIndex, tmp_path: Path) -> None:
    log = refused_start(tmp_path / "empty", built_index, tmp_path / "api.log")
    assert "no index at" in log and "run_pipeline.py" in log


def test_slow_upload_does_not_block_other_requests(api: Server, built_index: BuiltIndex) -> None:
    # While one client trickles its upload, health and text search still answer.
    import threading

    def trickle() -> None:
        def body():  # type: ignore[no-untyped-def]
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
            for _ in range(20):
                yield b"\xff" * 10
                threading.Event().wait(0.1)
            yield b"\r\n--b--\r\n"

        httpx.post(
            f"{api.url}/search-by-image",
            content=body(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
            timeout=30,
        )

    thread = threading.Thread(target=trickle)
    thread.start()
    try:
        response = httpx.get(f"{api.url}/search", params={"query": "x"}, timeout=1.5)
        assert response.status_code == 200
    finally:
        thread.join()
