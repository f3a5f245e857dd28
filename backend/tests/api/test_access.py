"""Access control over real HTTP: the API key, signed image URLs, CORS preflights, the rate limit.

Each server is ``uvicorn search_api:app`` with the settings in its environment, as deployed.
"""

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.metrics import requests, scrape
from support.servers import TEST_API_KEY, Server, serving
from support.tiny import BuiltIndex

from imagesearch.api.access import ImageSigner

KEY = TEST_API_KEY
ORIGIN = "http://localhost:3000"  # one of the default IMAGESEARCH_CORS_ORIGINS


@pytest.fixture(scope="module")
def keyed(keyed_api: Server) -> Server:
    return keyed_api  # conftest.py: IMAGESEARCH_API_KEY=KEY, IMAGESEARCH_SOURCE_PATHS=absolute


@pytest.fixture(scope="module")
def limited(built_index: BuiltIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"IMAGESEARCH_RATE_LIMIT": "5/minute"}
    with serving(built_index.settings, tmp_path_factory.mktemp("logs") / "limited.log", env) as server:
        yield server


def client_at(address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (127.0.0.0/8 is all loopback on Linux)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def test_the_key_is_required_and_accepted(keyed: Server) -> None:
    for method, path, body in [
        ("GET", "/search?query=dog", None),
        ("GET", "/health", None),
        ("GET", "/similar/3", None),
        ("GET", "/images/3", None),
        ("GET", "/metrics", None),
        ("POST", "/search", {"terms": [{"text": "dog"}]}),
        ("GET", "/no/such/route", None),
    ]:
        refused = httpx.request(method, keyed.url + path, json=body)
        assert refused.status_code == 401, (path, refused.text)
        assert refused.json() == {"detail": "this API requires a key: send it in the X-API-Key header"}
        assert refused.headers["www-authenticate"] == 'APIKey header="X-API-Key"'
        accepted = httpx.request(method, keyed.url + path, json=body, headers={"X-API-Key": KEY}, timeout=30)
        assert accepted.status_code == (404 if path == "/no/such/route" else 200), (path, accepted.text)


def test_an_upload_is_refused_before_its_body_is_read(keyed: Server) -> None:
    """The 401 comes while the client is still sending: nothing of a refused body is read."""
    host, port = httpx.URL(keyed.url).host, httpx.URL(keyed.url).port
    head = (
        "POST /search-by-image HTTP/1.1\r\nHost: api\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        "Content-Length: 5000000\r\n\r\n--b\r\n"
    )
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(head.encode())  # and not one byte of the 5 MB more
        assert sock.recv(4096).startswith(b"HTTP/1.1 401 ")


def test_an_upload_is_accepted_with_the_key(keyed: Server, built_index: BuiltIndex) -> None:
    files = {"file": ("q.png", sorted(built_index.source.rglob("*.png"))[0].read_bytes())}
    assert httpx.post(f"{keyed.url}/search-by-image", files=files).status_code == 401
    accepted = httpx.post(f"{keyed.url}/search-by-image", files=files, headers=keyed.headers, timeout=30)
    assert accepted.status_code == 200, accepted.text


@pytest.mark.parametrize(
    "sent",
    [
        KEY[:-1],  # a prefix
        KEY + "0",  # the key and more
        KEY[:-1] + "Y",  # only the last character differs
        "X" + KEY[1:],  # only the first character differs
        KEY.upper(),  # keys are case-sensitive
        "a-wrong-key-of-the-same-length!!!"[: len(KEY)],
        "",
    ],
)
def test_a_wrong_key_is_refused_whatever_it_shares_with_the_right_one(keyed: Server, sent: str) -> None:
    response = httpx.get(f"{keyed.url}/search", params={"query": "dog"}, headers={"X-API-Key": sent})
    assert response.status_code == 401
    assert response.json() == {"detail": "the X-API-Key header does not hold this API's key"}


def test_liveness_and_docs_need_no_key(keyed: Server) -> None:
    # /health/live: the orchestrator's probe must not need the key.
    assert httpx.get(f"{keyed.url}/health/live").status_code == 200
    for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui.css"):
        assert httpx.get(keyed.url + path).status_code == 200, path


def test_openapi_declares_the_key_so_docs_and_clients_send_it(keyed: Server) -> None:
    schema = httpx.get(f"{keyed.url}/openapi.json").json()
    assert schema["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "IMAGESEARCH_API_KEY: required on every route but liveness",
    }
    assert schema["security"] == [{"APIKeyHeader": []}]
    search = schema["paths"]["/search"]["get"]
    assert search["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    image = schema["paths"]["/images/{image_id}"]["get"]
    assert "sig" in [parameter["name"] for parameter in image["parameters"]]
    assert "429" not in search["responses"]  # no rate limit on this server


def test_a_server_without_a_key_declares_none(api: Server) -> None:
    schema = httpx.get(f"{api.url}/openapi.json").json()
    assert "security" not in schema and "securitySchemes" not in schema.get("components", {})
    assert "401" not in schema["paths"]["/search"]["get"]["responses"]


def test_cors_preflight_passes_and_allows_the_key_header(keyed: Server) -> None:
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    response = httpx.options(
        f"{keyed.url}/search", headers={**preflight, "Access-Control-Request-Headers": "x-api-key"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "x-api-key" in response.headers["access-control-allow-headers"].lower()
    # Strict: another origin, or a header the UI never sends, is not allowed.
    assert (
        httpx.options(
            f"{keyed.url}/search", headers={**preflight, "Origin": "https://evil.example"}
        ).status_code
        == 400
    )
    other = {**preflight, "Access-Control-Request-Headers": "x-something-else"}
    assert httpx.options(f"{keyed.url}/search", headers=other).status_code == 400
    # The UI can read why it was refused: the 401 carries the CORS headers too.
    refused = httpx.get(f"{keyed.url}/search", params={"query": "dog"}, headers={"Origin": ORIGIN})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == ORIGIN
    assert "retry-after" in refused.headers["access-control-expose-headers"].lower()


def test_signed_image_urls_load_without_the_key_and_only_their_image(
    keyed: Server, built_index: BuiltIndex
) -> None:
    response = httpx.get(f"{keyed.url}/similar/2", params={"top_k": 3}, headers=keyed.headers, timeout=30)
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    url = httpx.URL(result["image_url"])
    image_id, sig = result["id"], url.params["sig"]
    assert url.path == f"/images/{image_id}" and len(sig) == 32
    # What an <img src> does: no header, just the URL. It gets exactly the indexed file.
    served = httpx.get(result["image_url"])
    assert served.status_code == 200
    assert served.content == Path(result["source"]).read_bytes()  # absolute paths on this server
    assert result["source"].startswith(str(built_index.source.resolve()))
    # A tampered signature, another image's, or the signature elsewhere: refused.
    tampered = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    other = (image_id + 1) % 24
    bad_signature = "this image URL's signature is not valid"
    for path, params in [
        (f"/images/{image_id}", {"sig": tampered}),
        (f"/images/{image_id}", {"sig": sig.upper()}),
        (f"/images/{image_id}", {"sig": sig[:16]}),
        (f"/images/{other}", {"sig": sig}),
        ("/search", {"query": "dog", "sig": sig}),
    ]:
        refused = httpx.get(keyed.url + path, params=params)
        assert refused.status_code == 401 and refused.json()["detail"].startswith(bad_signature), path
    assert httpx.get(f"{keyed.url}/images/{image_id}").status_code == 401  # unsigned
    # The signature is the documented HMAC: frontend/lib/image-signature.ts computes the same.
    assert sig == ImageSigner(KEY).sign(image_id)


def test_the_signature_is_pinned_for_the_ui() -> None:
    """The same known answer is pinned in frontend/lib/image-signature.test.ts."""
    assert KEY == "k3y-for-tests-0123456789abcdefXYZ"
    assert ImageSigner(KEY).sign(17) == "4a360a099061fce444e34c2f8930b05f"


def test_refusals_are_counted_by_route_and_reason(keyed: Server) -> None:
    before = scrape(keyed)
    assert httpx.get(f"{keyed.url}/similar/1").status_code == 401
    assert httpx.get(f"{keyed.url}/similar/1", headers={"X-API-Key": "nope"}).status_code == 401
    assert httpx.get(f"{keyed.url}/images/1", params={"sig": "0" * 32}).status_code == 401
    after = scrape(keyed)
    assert (
        requests(after, "/similar/{image_id}", "GET", "401")
        - requests(before, "/similar/{image_id}", "GET", "401")
        == 2
    )
    assert (
        requests(after, "/images/{image_id}", "GET", "401")
        - requests(before, "/images/{image_id}", "GET", "401")
        == 1
    )
    for reason in ("missing_key", "wrong_key", "bad_signature"):
        key = ("imagesearch_access_refused_total", (("reason", reason),))
        assert after[key] - before.get(key, 0.0) == 1, reason


def test_absolute_sources_when_configured(keyed: Server, built_index: BuiltIndex) -> None:
    response = httpx.get(f"{keyed.url}/search", params={"query": "x", "top_k": 24}, headers=keyed.headers)
    sources = sorted(result["source"] for result in response.json()["results"])
    assert sources == sorted(str(path.resolve()) for path in built_index.source.rglob("img*"))


def test_the_rate_limit_refuses_with_retry_after_per_client(limited: Server) -> None:
    with client_at("127.0.0.3") as first, client_at("127.0.0.4") as second:
        for _ in range(5):
            assert first.get(f"{limited.url}/search", params={"query": "dog"}).status_code == 200
        refused = first.get(f"{limited.url}/similar/1")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["detail"].startswith(
            "too many requests from this client (limit: 5 per 1 minute)"
        )
        # Liveness is never limited; another client has its own allowance.
        assert first.get(f"{limited.url}/health/live").status_code == 200
        assert second.get(f"{limited.url}/health").status_code == 200
        metrics = second.get(f"{limited.url}/metrics").text
    assert (
        'imagesearch_http_requests_total{method="GET",route="/similar/{image_id}",status="429"} 1.0'
        in metrics
    )
    assert 'imagesearch_access_refused_total{reason="rate_limited"} 1.0' in metrics


def test_a_rate_limited_schema_documents_the_429(limited: Server) -> None:
    with client_at("127.0.0.5") as client:
        schema = client.get(f"{limited.url}/openapi.json").json()
    refused = schema["paths"]["/search"]["get"]["responses"]["429"]
    assert refused["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert "security" not in schema  # a limit without a key


def test_the_docs_can_be_locked_too() -> None:
    """IMAGESEARCH_PUBLIC_DOCS=false: the schema and the docs pages need the key as well."""
    from fastapi.testclient import TestClient

    from imagesearch.api.app import create_app
    from imagesearch.config import Settings

    client = TestClient(create_app(Settings(api_key=KEY, public_docs=False)))  # no lifespan: no index needed
    for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui.css"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"X-API-Key": KEY}).status_code == 200, path
