"""Maps domain errors and unusable requests to 4xx statuses with a readable ``detail`` message.

- Domain errors: InvalidQueryError / InvalidImageError -> 422, ImageTooLargeError -> 413; a bad
  metadata filter (FilterError) -> 422 with ``errors: [{loc: ["filter"], position, ...}]``.
- Invalid parameters or bodies -> 422 with one sentence for people and the structured list for
  programs. Python's JSON parser accepts ``NaN`` and ``Infinity``: an error quoting such an input
  carries it as text (JSON cannot), and unparseable JSON is reported in words, not as a position.
- Bodies the framework cannot even parse (bytes that are not UTF-8, broken multipart framing)
  come out of it as a bare 400: they become 422 like every other bad input.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from imagesearch.errors import FilterError, ImageTooLargeError, InvalidImageError, InvalidQueryError

_STATUS: dict[type[Exception], int] = {
    InvalidQueryError: 422,
    InvalidImageError: 422,
    ImageTooLargeError: 413,
}


def install_error_handlers(app: FastAPI) -> None:
    for error_type, status in _STATUS.items():
        app.add_exception_handler(error_type, _domain_handler(status))
    app.add_exception_handler(FilterError, _filter_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(HTTPException, _unparseable_body)


def _domain_handler(status: int):  # type: ignore[no-untyped-def]
    async def handle(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    return handle


async def _filter_handler(_: Request, exc: Exception) -> JSONResponse:
    """A bad metadata filter: the message, and where in the filter it went wrong for programs."""
    assert isinstance(exc, FilterError)
    error = {"loc": ["filter"], "msg": str(exc), "type": "filter_invalid", "position": exc.position}
    return JSONResponse(status_code=422, content={"detail": str(exc), "errors": [error]})


async def _validation_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_readable(error) for error in exc.errors()]
    messages = []
    for error in errors:
        loc = list(error.get("loc", ()))
        # The first element names where the parameter lives (query/body/path): not useful to people.
        where = ".".join(str(part) for part in loc[1:] if part is not None) if len(loc) > 1 else ""
        messages.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return JSONResponse(
        status_code=422,
        content={"detail": "; ".join(messages) or "invalid request", "errors": _jsonable(errors)},
    )


async def _unparseable_body(request: Request, exc: Exception) -> Response:
    """The framework's 400 for a body it could not parse -> 422; every other HTTPException as usual."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        return JSONResponse(
            status_code=422, content={"detail": f"the request body could not be read: {exc.detail}"}
        )
    return await http_exception_handler(request, exc)


def _readable(error: dict[str, Any]) -> dict[str, Any]:
    error = {key: _finite(value) for key, value in error.items()}
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "")
        error["loc"] = ("body",)
        error["msg"] = f"the body is not valid JSON: {reason}" if reason else "the body is not valid JSON"
    return error


def _finite(value: Any) -> Any:
    """Non-finite floats (anywhere inside) -> their text, which JSON can carry."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_finite(item) for item in value)
    return value


def _jsonable(errors: object) -> object:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(errors, custom_encoder={Exception: str, bytes: lambda b: "<bytes>"})
