"""What the API answers past capacity: 503 + ``Retry-After``, counted, before any costly work.

The decision is the admission queue's (api/admission.py); this module turns a refusal into the
answer and the metrics. The search routes check before anything of the request is read: FastAPI
reads and parses a route's body before its dependencies run, so the check sits in the route
class, ahead of them. Under overload a refused request then costs its HTTP framing and this
check, not a multipart parse, a base64 decode or the validation of a dozen parameters (and a
client that sent ``Expect: 100-continue`` never sends its body at all). The price: a repeated
text search that the result cache would answer is refused too while the server is busy.
A search admitted there is checked again at the gate (deps.SearchGate), after its upload.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import Counter, Gauge
from pydantic import Field
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from imagesearch.api.admission import AdmissionQueue, Refusal, RetryBook
from imagesearch.api.schemas import ErrorResponse
from imagesearch.telemetry import REGISTRY

SHED = Counter(
    "imagesearch_searches_shed",
    "Searches refused with 503 + Retry-After because the time they would take was over the queue budget "
    "(IMAGESEARCH_QUEUE_BUDGET_S), by route template",
    ["route"],
    registry=REGISTRY,
)
QUEUED = Gauge(
    "imagesearch_search_queue_searches",
    "Searches admitted and not done (waiting for or in the encoder)",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
QUEUE_EXPECTED = Gauge(
    "imagesearch_search_queue_expected_seconds",
    "Seconds a search admitted now is expected to take (the measured costs of the searches admitted "
    "before it, and a search's own measured time); over the queue budget it is refused",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)


class BusyResponse(ErrorResponse):
    retry_after_s: int | None = Field(
        default=None,
        description="busy: seconds to wait before retrying, as the Retry-After header says; absent when "
        "the search took longer than the request timeout",
    )


class BusyError(Exception):
    """Raised where a search is refused; the app's handler answers it (``install_overload``)."""

    def __init__(self, refusal: Refusal, retries: RetryBook) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
        self.retries = retries


def report_queue(admission: AdmissionQueue) -> None:
    """Publish the queue's state (after each admission and completion)."""
    QUEUED.set(admission.admitted)
    QUEUE_EXPECTED.set(admission.expected_s())


class BusyAnswer(JSONResponse):
    """A 503 sent whole, at once, or after ``delay_s`` for a connection that came back before the
    Retry-After of its previous 503 (api/admission.py RetryBook): a sleeping coroutine, no work."""

    def __init__(self, refusal: Refusal, delay_s: float = 0.0) -> None:
        super().__init__(
            status_code=503,
            content={"detail": refusal.message, "retry_after_s": refusal.retry_after_s},
            headers={"Retry-After": str(refusal.retry_after_s)},
        )
        self.delay_s = delay_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        await super().__call__(scope, receive, send)


def connection_of(request: Request) -> tuple[str, int] | None:
    """The client's TCP connection: (host, port), as the server saw it."""
    client = request.scope.get("client")
    return (client[0], client[1]) if client else None


def busy_response(refusal: Refusal, request: Request, retries: RetryBook) -> Response:
    """The 503 for a refused search (and its count): its expected time, the budget, when to retry."""
    SHED.labels(route=getattr(request.scope.get("route"), "path", "")).inc()
    connection = connection_of(request)
    delay = retries.delay_s(connection)
    retries.refused(connection, refusal.retry_after_s, delay)
    return BusyAnswer(refusal, delay)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BusyError)
    return busy_response(exc.refusal, request, exc.retries)


def install_overload(app: FastAPI) -> None:
    """Answer a BusyError raised at the gate (a search admitted early, refused after its upload)."""
    app.add_exception_handler(BusyError, _refused)


def refusing_route(admission: AdmissionQueue, retries: RetryBook) -> type[APIRoute]:
    """A route class that answers 503 before the parameters and body are read when the queue is over budget.

    The cheapest point the route is known at: under overload most requests end here (~0.4 ms of
    the event loop each on this 2-core machine; ~1.5 ms when FastAPI had read the parameters).
    """

    class RefusingRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def refuse_first(request: Request) -> Response:
                refused = admission.refusal(retries.waiting)
                if refused is not None:
                    return busy_response(refused, request, retries)
                retries.forget(connection_of(request))
                return await handler(request)

            return refuse_first

    return RefusingRoute
