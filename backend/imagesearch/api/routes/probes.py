"""GET /health/live and /health/ready: the probes of a process manager or load balancer.

Liveness touches nothing but the process (no index, no lock): a worker busy with searches still
answers it. Readiness says whether this worker should get traffic (api/readiness.py).
"""

import os

from fastapi import APIRouter, Request, Response

from imagesearch.api.readiness import LiveResponse, Readiness, ReadyResponse


def build_router(readiness: Readiness) -> APIRouter:
    router = APIRouter()

    @router.get("/health/live")
    async def live() -> LiveResponse:
        """The process is up and its event loop answers (no index access)."""
        return LiveResponse(pid=os.getpid())

    @router.get(
        "/health/ready",
        responses={503: {"model": ReadyResponse, "description": "starting, reloading or draining"}},
    )
    async def ready(request: Request, response: Response) -> ReadyResponse:
        """200 once the index and the query towers are loaded and warm; 503 while a new index loads
        or from SIGTERM on."""
        state = readiness.state
        if state != "ready":
            response.status_code = 503
            response.headers["Retry-After"] = "1"
        searcher = getattr(request.app.state, "searcher", None)
        return ReadyResponse(status=state, images=searcher.size if searcher is not None else None)

    return router
