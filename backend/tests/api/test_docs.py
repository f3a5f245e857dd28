"""/docs and /redoc load every asset from the API itself (fastapi-offline's files), none from a CDN."""

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from support.servers import Server

from imagesearch.api.app import create_app
from imagesearch.api.docs import ASSETS_URL
from imagesearch.config import Settings


class AssetLinks(HTMLParser):
    """The (kind, url) of each <script src> and <link href> in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.assets.append(("script", values["src"] or ""))
        elif tag == "link" and values.get("href"):
            kind = "stylesheet" if "stylesheet" in (values.get("rel") or "") else "icon"
            self.assets.append((kind, values["href"] or ""))


def page_assets(html: str) -> list[tuple[str, str]]:
    parser = AssetLinks()
    parser.feed(html)
    return parser.assets


# What each kind of asset must be served as, and a size below which it is no real bundle.
EXPECTED = {
    "script": ("javascript", 100_000),
    "stylesheet": ("text/css", 10_000),
    "icon": ("image/", 100),
}


@pytest.mark.parametrize(
    ("page", "kinds"),
    [("/docs", {"script", "stylesheet", "icon"}), ("/redoc", {"script", "icon"})],
)
def test_docs_pages_load_every_asset_from_the_api_itself(api: Server, page: str, kinds: set[str]) -> None:
    response = httpx.get(api.url + page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "googleapis" not in response.text and "cdn.jsdelivr" not in response.text
    assets = page_assets(response.text)
    assert {kind for kind, _ in assets} == kinds, assets
    origin = urlsplit(api.url).netloc
    for kind, url in assets:
        absolute = urljoin(api.url + page, url)
        assert urlsplit(absolute).netloc == origin, f"{page} loads {url} from another host"
        asset = httpx.get(absolute)
        content_type, min_size = EXPECTED[kind]
        assert asset.status_code == 200, url
        assert content_type in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > min_size, (url, len(asset.content))


def test_openapi_and_oauth2_redirect_stay_where_they_were(api: Server) -> None:
    assert httpx.get(f"{api.url}/openapi.json").json()["info"]["title"] == "Multimodal Image Search"
    redirect = httpx.get(f"{api.url}/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "swaggerUIRedirectOauth2" in redirect.text
    assert httpx.get(f"{api.url}{ASSETS_URL}/not-there.js").status_code == 404


def test_docs_asset_urls_follow_the_root_path() -> None:
    # Behind a proxy serving the API under /api (uvicorn --root-path). No `with`: no lifespan, so
    # no model or index is loaded; the docs routes need neither.
    client = TestClient(create_app(Settings()), root_path="/api")
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200
        assert "'/api/openapi.json'" in response.text or '"/api/openapi.json"' in response.text
        for _, url in page_assets(response.text):
            assert url.startswith(f"/api{ASSETS_URL}/"), url
            assert client.get(url).status_code == 200, url
