"""Maps domain errors to HTTP statuses with a readable ``detail`` message."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from imagesearch.errors import ImageTooLargeError, InvalidImageError, InvalidQueryError

_STATUS: dict[type[Exception], int] = {
    InvalidQueryError: 422,
    InvalidImageError: 422,
    ImageTooLargeError: 413,
}


def install_error_handlers(app: FastAPI) -> None:
    for error_type, status in _STATUS.items():
        app.add_exception_handler(error_type, _domain_handler(status))
    app.add_exception_handler(RequestValidationError, _validation_handler)


def _domain_handler(status: int):  # type: ignore[no-untyped-def]
    async def handle(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    return handle


async def _validation_handler(_: Request, exc: Exception) -> JSONResponse:
    # One readable sentence for people and UIs, the structured list for programs.
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
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


def _jsonable(errors: object) -> object:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(errors, custom_encoder={Exception: str, bytes: lambda b: "<bytes>"})
