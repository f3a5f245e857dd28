"""Access control for public deployments: the optional API key, signed image URLs, the rate limit.

One pure ASGI middleware, placed inside CORSMiddleware (so browsers' preflight requests are
answered before any key is asked for, and a refusal still carries the CORS headers the UI needs
to read it) and outside everything that reads a body (so a refused request is never read).

- With ``IMAGESEARCH_API_KEY`` set, every request but liveness (``/health/live``) must carry the
  key in the ``X-API-Key`` header; the comparison is of the two keys' SHA-256 digests with
  ``hmac.compare_digest``, so it takes the same time whatever the key sent, its length included.
  The docs (``/docs``, ``/redoc``, ``/openapi.json``) stay open unless ``public_docs`` is off.
- ``<img src>`` cannot send a header: a search result's ``image_url`` for a local file carries
  ``sig``, an HMAC-SHA256 of the image id under the key, which ``GET /images/{id}`` accepts
  instead. It opens that one image and nothing else; it does not expire (rotating the key
  revokes every signature).
- With ``IMAGESEARCH_RATE_LIMIT`` set (``api/rate_limit.py``), each client past its limit gets a
  429 with ``Retry-After``; the limit is checked before the key, so guessing keys is limited too.

Refusals are JSON ``{"detail": ...}`` like every other error, and are counted by the request
metrics under the route they were meant for, and by reason in ``imagesearch_access_refused``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from typing import NamedTuple
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from imagesearch.api.access_docs import declare_access
from imagesearch.api.rate_limit import ClientRateLimit
from imagesearch.config import Settings
from imagesearch.telemetry import REGISTRY

API_KEY_HEADER = "X-API-Key"
SIGNATURE_PARAM = "sig"
LIVENESS_PATHS = frozenset({"/health/live"})
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
DOCS_PREFIX = "/docs-assets/"
_IMAGE_PATH = re.compile(r"/images/(-?\d{1,19})")
_SIGNATURE_CHARS = 32  # hex digits kept: 128 bits

REFUSED = Counter(
    "imagesearch_access_refused",
    "Requests refused by access control, by reason (missing_key, wrong_key, bad_signature, rate_limited)",
    ["reason"],
    registry=REGISTRY,
)
MISSING_KEY = f"this API requires a key: send it in the {API_KEY_HEADER} header"
WRONG_KEY = f"the {API_KEY_HEADER} header does not hold this API's key"
BAD_SIGNATURE = (
    f"this image URL's signature is not valid: use the image_url of a search result, or send the "
    f"{API_KEY_HEADER} header"
)


class ImageSigner:
    """Signs image ids under the API key: ``sig`` = the first 32 hex digits of
    HMAC-SHA256(key, "imagesearch-image:<id>"); frontend/lib/image-signature.ts computes the same."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def sign(self, image_id: int) -> str:
        message = f"imagesearch-image:{image_id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:_SIGNATURE_CHARS]

    def verify(self, image_id: int, signature: str) -> bool:
        return hmac.compare_digest(self.sign(image_id).encode(), signature.encode())


def install_access(app: FastAPI, settings: Settings) -> None:
    """Add the access middleware (call it between the body-reading middleware and CORS), the
    image signer that ``image_url`` uses, and the OpenAPI declaration of what it requires."""
    key = settings.api_key.get_secret_value() if settings.api_key else None
    limit = ClientRateLimit(settings.rate_limit) if settings.rate_limit else None
    app.state.image_signer = ImageSigner(key) if key else None
    if key is None and limit is None:
        return
    app.add_middleware(AccessControl, key=key, public_docs=settings.public_docs, limit=limit)
    declare_access(
        app, key_required=key is not None, rate_limited=limit is not None, open_paths=LIVENESS_PATHS
    )


def image_url(request: Request, image_id: int) -> str:
    """The URL of ``GET /images/{image_id}`` on this API, signed when a key is required."""
    url = request.url_for("get_image", image_id=image_id)
    signer: ImageSigner | None = getattr(request.app.state, "image_signer", None)
    return str(url.include_query_params(**{SIGNATURE_PARAM: signer.sign(image_id)}) if signer else url)


class AccessControl:
    """Pure ASGI middleware: the rate limit, then the API key (or an image URL's signature)."""

    def __init__(
        self, app: ASGIApp, key: str | None, public_docs: bool, limit: ClientRateLimit | None
    ) -> None:
        self.app = app
        self._key_digest = hashlib.sha256(key.encode()).digest() if key else None
        self._signer = ImageSigner(key) if key else None
        self._public_docs = public_docs
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) in LIVENESS_PATHS:
            await self.app(scope, receive, send)
            return
        refusal = await self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        reason, response = refusal
        REFUSED.labels(reason=reason).inc()
        _label_route(scope)
        await response(scope, receive, send)

    async def _refusal(self, scope: Scope) -> tuple[str, JSONResponse] | None:
        if self._limit is not None:
            client = scope.get("client")
            wait = await self._limit.hit(client[0] if client else "unknown")
            if wait is not None:
                headers = {"Retry-After": str(wait.retry_after_s)}
                return "rate_limited", JSONResponse({"detail": wait.message}, 429, headers=headers)
        if self._key_digest is None or self._open_docs(route_path(scope)):
            return None
        sent = _header(scope, API_KEY_HEADER.lower().encode())
        if sent is not None:
            if hmac.compare_digest(hashlib.sha256(sent).digest(), self._key_digest):
                return None
            return "wrong_key", _unauthorized(WRONG_KEY)
        signature = _query_value(scope, SIGNATURE_PARAM)
        if signature is None:
            return "missing_key", _unauthorized(MISSING_KEY)
        if self._signed_image(scope, signature):
            return None
        return "bad_signature", _unauthorized(BAD_SIGNATURE)

    def _open_docs(self, path: str) -> bool:
        return self._public_docs and (path in DOCS_PATHS or path.startswith(DOCS_PREFIX))

    def _signed_image(self, scope: Scope, signature: str) -> bool:
        match = _IMAGE_PATH.fullmatch(route_path(scope))
        if self._signer is None or match is None or scope["method"] not in ("GET", "HEAD"):
            return False
        return self._signer.verify(int(match.group(1)), signature)


def route_path(scope: Scope) -> str:
    """The path the router matches: without the prefix a proxy strips (uvicorn --root-path)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((value for key, value in scope["headers"] if key == name), None)


def _query_value(scope: Scope, name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


def _unauthorized(detail: str) -> JSONResponse:
    return JSONResponse(
        {"detail": detail}, 401, headers={"WWW-Authenticate": f'APIKey header="{API_KEY_HEADER}"'}
    )


class _RouteLabel(NamedTuple):
    """What the request metrics read of a route (its template), for a request refused before routing."""

    path: str


def _label_route(scope: Scope) -> None:
    """Record the route template a refused request was meant for, as the router would, so the
    request metrics count it there (the templates of the OpenAPI document: every API route)."""
    app = scope.get("app")
    if not isinstance(app, FastAPI):
        return
    path = route_path(scope)
    for template in app.openapi().get("paths", {}):
        if _template_regex(template).match(path):
            scope["route"] = _RouteLabel(template)
            return


@functools.cache
def _template_regex(template: str) -> re.Pattern[str]:
    regex, _, _ = compile_path(template)
    return regex
