"""Self-hosted interactive docs: ``/docs`` (Swagger UI) and ``/redoc`` without any CDN.

FastAPI's default pages load Swagger UI / ReDoc (and a favicon, and ReDoc's Google Fonts) from
public CDNs, so on a machine without internet they are blank. Here the same pages are built with
FastAPI's own helpers, pointed at the copies that the ``fastapi-offline`` package ships in its
package folder (its ``FastAPIOffline`` app class is not used, only these files), served by a
StaticFiles mount. See FastAPI's "Custom Docs UI Static Assets (Self-Hosting)".
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PACKAGE = "fastapi_offline"
ASSETS_URL = "/docs-assets"
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"
ASSET_FILES = (SWAGGER_JS, SWAGGER_CSS, REDOC_JS, FAVICON)
# The bundles still name one remote image: ReDoc's "API docs by Redocly" logo (cdn.redoc.ly). The
# browser is told not to fetch images from elsewhere; ReDoc hides the logo when it cannot load.
IMAGES_FROM_HERE_ONLY = {"Content-Security-Policy": "img-src 'self' data: blob:"}


def assets_dir() -> Path:
    """The folder of the installed package holding the Swagger UI / ReDoc bundles."""
    folder = Path(str(files(ASSETS_PACKAGE) / "static"))
    missing = [name for name in ASSET_FILES if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(f"the API docs assets are missing from {folder}: {', '.join(missing)}")
    return folder


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs``, ``/docs/oauth2-redirect`` and ``/redoc`` from local assets.

    ``app`` must be created with ``docs_url=None, redoc_url=None`` (so FastAPI does not add its
    CDN pages); the OpenAPI document stays where FastAPI serves it (``app.openapi_url``).
    """
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    # No "validator" badge: Swagger UI would load it from validator.swagger.io for non-local hosts.
    swagger_parameters = {"validatorUrl": None, **(app.swagger_ui_parameters or {})}
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")

    def prefix(request: Request) -> str:
        # Behind a proxy that strips a path prefix (uvicorn --root-path), as FastAPI's pages do.
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = prefix(request)
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/{SWAGGER_JS}",
            swagger_css_url=f"{root}{ASSETS_URL}/{SWAGGER_CSS}",
            swagger_favicon_url=f"{root}{ASSETS_URL}/{FAVICON}",
            oauth2_redirect_url=root + oauth2_redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=swagger_parameters,
        )
        page.headers.update(IMAGES_FROM_HERE_ONLY)
        return page

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = prefix(request)
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/{REDOC_JS}",
            redoc_favicon_url=f"{root}{ASSETS_URL}/{FAVICON}",
            with_google_fonts=False,
        )
        page.headers.update(IMAGES_FROM_HERE_ONLY)
        return page
