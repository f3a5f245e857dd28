"""Request metrics (count + latency per route template, method, status) and ``GET /metrics``.

Labels use the route *template* (``/similar/{image_id}``), never the raw path, so ids and
scanners' random URLs cannot blow up the number of series; requests that match no route are
counted under ``<unmatched>``.
"""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagesearch.api.workers import SERVING, metrics_registry
from imagesearch.telemetry import REGISTRY

UNMATCHED = "<unmatched>"

REQUESTS = Counter(
    "imagesearch_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "imagesearch_http_request_seconds",
    "HTTP request latency (first byte in to last byte out), by route template, method and status",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
IN_PROGRESS = Gauge(
    "imagesearch_http_requests_in_progress",
    "HTTP requests being answered now (summed over the workers)",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)


class RequestMetrics:
    """Pure ASGI middleware: times each HTTP request and counts it when the response is done."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before it answers

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            IN_PROGRESS.dec()
            # The router records the matched route in the (shared) scope.
            route = getattr(scope.get("route"), "path", UNMATCHED)
            labels = {"route": route, "method": scope.get("method", ""), "status": str(status)}
            REQUESTS.labels(**labels).inc()
            LATENCY.labels(**labels).observe(time.perf_counter() - started)


def build_metrics_router() -> APIRouter:
    router = APIRouter()

    @router.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
    )
    def metrics() -> Response:
        """Prometheus metrics: requests by route, latency histograms, search stage timings; with
        several workers, every worker's (api/workers.py), whichever answers."""
        return Response(generate_latest(metrics_registry(SERVING)), media_type=CONTENT_TYPE_LATEST)

    return router
