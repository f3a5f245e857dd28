"""What access control requires, declared in the OpenAPI document (only when it is on).

The key is FastAPI's ``APIKeyHeader`` security scheme, required by the whole document and lifted
from liveness, so Swagger UI's "Authorize" sends it and schemathesis knows every operation needs
it; each operation documents the 401 (and, with a rate limit, the 429 with ``Retry-After``);
``GET /images/{image_id}`` documents the ``sig`` parameter that search results' image URLs carry.
Enforcement is ``api/access.py``'s middleware: this module only describes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.security import APIKeyHeader

SCHEME = "APIKeyHeader"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
_SIGNATURE_PARAMETER = {
    "name": "sig",
    "in": "query",
    "required": False,
    "description": "the signature a search result's image_url carries: lets a browser's <img> load this "
    "image without the X-API-Key header (which it cannot send)",
    "schema": {"type": "string", "title": "Sig"},
}


def declare_access(app: FastAPI, key_required: bool, rate_limited: bool, open_paths: Iterable[str]) -> None:
    """Make ``app.openapi()`` describe the key and the rate limit; ``open_paths`` need neither."""
    build = app.openapi
    exempt = frozenset(open_paths)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()  # FastAPI's document, cached in app.openapi_schema: completed in place
        if key_required:
            _declare_key(schema)
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if method in HTTP_METHODS:
                    _complete(operation, path in exempt, key_required, rate_limited)
        if key_required:
            for operation in schema.get("paths", {}).get("/images/{image_id}", {}).values():
                operation.setdefault("parameters", []).append(dict(_SIGNATURE_PARAMETER))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it


def _declare_key(schema: dict[str, Any]) -> None:
    scheme = APIKeyHeader(
        name="X-API-Key",
        description="IMAGESEARCH_API_KEY: required on every route but liveness",
        auto_error=False,
    )
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[SCHEME] = scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True)
    schema["security"] = [{SCHEME: []}]


def _complete(operation: dict[str, Any], exempt: bool, key_required: bool, rate_limited: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if exempt:
        operation["security"] = []  # open to all: overrides the document's requirement
        return
    if key_required:
        responses.setdefault("401", {"description": "missing or wrong X-API-Key", "content": _ERROR})
    if rate_limited:
        responses.setdefault(
            "429",
            {
                "description": "over the per-client rate limit (IMAGESEARCH_RATE_LIMIT)",
                "headers": {
                    "Retry-After": {
                        "description": "seconds until the next request is accepted",
                        "schema": {"type": "integer"},
                    }
                },
                "content": _ERROR,
            },
        )
