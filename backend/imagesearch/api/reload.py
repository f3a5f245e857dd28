"""Picking up a rebuilt index without a restart: ``POST /admin/reload`` and SIGHUP.

The new bundle is loaded and checked (checksums, counts, encoder compatibility) beside the one
serving; only then is ``app.state.searcher`` replaced, in one assignment. Requests in flight hold
the searcher they started with and finish on it; a new index that fails its checks is refused
and the old one keeps serving. A save replaces the index files by rename, so the files of a
memory-mapped old index stay intact until it is dropped.

With several workers (``uvicorn --workers N``) the admin call reaches one of them; it then
advances the reload generation the workers share (``api/reload_generation.py``) and each other
worker, polling it, loads the data folder's index itself. SIGHUP to one worker does the same;
SIGHUP to uvicorn's supervisor replaces the workers one by one instead (uvicorn's own handling),
each new one loading the index at start-up. While a worker loads a new index its
``/health/ready`` answers 503 ``reloading``; it keeps serving the old one meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
import threading
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, HTTPException, Request
from prometheus_client import Gauge
from starlette.concurrency import run_in_threadpool

from imagesearch.api.readiness import Readiness
from imagesearch.api.reload_generation import POLL_S, ReloadGeneration
from imagesearch.api.schemas import ErrorResponse, ReloadResponse
from imagesearch.config import Settings
from imagesearch.errors import ImageSearchError
from imagesearch.index.store import load_bundle
from imagesearch.search.service import Searcher
from imagesearch.telemetry import REGISTRY

logger = logging.getLogger(__name__)

# One series per live worker (``pid`` label) when several serve: whether a reload reached them all.
INDEX_IMAGES = Gauge(
    "imagesearch_index_images",
    "Images in the index this worker serves",
    multiprocess_mode="liveall",
    registry=REGISTRY,
)
INDEX_GENERATION = Gauge(
    "imagesearch_index_generation",
    "Reload generation of the index this worker serves (shared by the workers of one server)",
    multiprocess_mode="liveall",
    registry=REGISTRY,
)

_RESPONSES: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorResponse, "description": "missing or wrong admin token"},
    404: {"model": ErrorResponse, "description": "admin calls are disabled (no IMAGESEARCH_ADMIN_TOKEN)"},
    409: {"model": ErrorResponse, "description": "the new index was refused; the previous one keeps serving"},
}


class Reloader:
    """Loads the bundle in ``settings.data_dir`` and swaps it in; one reload at a time.

    ``generation`` (the workers' shared counter; None when this process serves alone) is read
    when the Reloader is made, before the lifespan loads the first index: a reload that lands
    while this worker starts is then followed too.
    """

    def __init__(
        self,
        settings: Settings,
        readiness: Readiness | None = None,
        generation: ReloadGeneration | None = None,
    ) -> None:
        self.settings = settings
        self.readiness = readiness or Readiness()
        self.generation = generation
        self._served = generation.read() if generation is not None else 0
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def reload(self, app: FastAPI) -> ReloadResponse:
        """Blocking; raises ImageSearchError (nothing swapped) when the new index is unfit."""
        with self._lock:
            old: Searcher = app.state.searcher
            new = self._swap(app)
            if self.generation is not None:
                self._served = self.generation.bump()  # the other workers follow
            self.started(app)
        manifest = new.bundle.manifest
        logger.info("reloaded: %d images (was %d), %s", new.size, old.size, manifest.index_type)
        return ReloadResponse(
            status="reloaded",
            images=new.size,
            previous_images=old.size,
            index_type=manifest.index_type,
            created_at=manifest.created_at,
        )

    def started(self, app: FastAPI) -> None:
        """Publish what this worker serves (also right after the lifespan's first load)."""
        INDEX_IMAGES.set(app.state.searcher.size)
        INDEX_GENERATION.set(self._served)

    def _swap(self, app: FastAPI) -> Searcher:
        old: Searcher = app.state.searcher
        with self.readiness.reloading():
            new = Searcher(self.settings, old.encoder, load_bundle(self.settings), old.reader)
        app.state.searcher = new  # the swap: one reference assignment
        return new

    async def follow(self, app: FastAPI) -> None:
        """Until cancelled: reload when another worker advanced the shared generation."""
        if self.generation is None:
            return
        while True:
            await asyncio.sleep(POLL_S)
            try:
                if self.generation.read() != self._served:
                    await run_in_threadpool(self._follow_once, app)
            except OSError as exc:  # the run folder went away or became unreadable: say so, go on
                logger.warning("cannot follow the reload generation: %s", exc)

    def _follow_once(self, app: FastAPI) -> None:
        assert self.generation is not None
        with self._lock:
            generation = self.generation.read()
            if generation == self._served:
                return  # this worker's own reload, or one already followed
            try:
                new = self._swap(app)
                logger.info("reload generation %d: now serving %d images", generation, new.size)
            except ImageSearchError as exc:
                logger.error(
                    "reload generation %d refused, the previous index keeps serving: %s", generation, exc
                )
            self._served = generation  # tried: not again until the next reload
            self.started(app)

    def install_sighup(self, app: FastAPI) -> None:
        """Reload on SIGHUP (where the platform has it), off the event loop."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, AttributeError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, self._on_sighup, app)

    def remove_sighup(self) -> None:
        with contextlib.suppress(NotImplementedError, AttributeError, RuntimeError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)

    def _on_sighup(self, app: FastAPI) -> None:
        task = asyncio.get_running_loop().create_task(self._reload_logged(app))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _reload_logged(self, app: FastAPI) -> None:
        try:
            await run_in_threadpool(self.reload, app)
        except ImageSearchError as exc:
            logger.error("SIGHUP reload refused, the previous index keeps serving: %s", exc)


def build_admin_router(settings: Settings, reloader: Reloader) -> APIRouter:
    router = APIRouter()

    @router.post("/admin/reload", responses=_RESPONSES)
    async def reload_index(
        request: Request,
        authorization: Annotated[str | None, Header(description="Bearer IMAGESEARCH_ADMIN_TOKEN")] = None,
    ) -> ReloadResponse:
        """Load the index now in the data folder and swap it in, without dropping requests."""
        if not settings.admin_token:
            raise HTTPException(404, "admin calls are disabled: set IMAGESEARCH_ADMIN_TOKEN to enable them")
        expected = f"Bearer {settings.admin_token}".encode()
        if not hmac.compare_digest((authorization or "").encode(), expected):
            raise HTTPException(403, "missing or wrong admin token: send 'Authorization: Bearer <token>'")
        try:
            return await run_in_threadpool(reloader.reload, request.app)
        except ImageSearchError as exc:
            raise HTTPException(
                409, f"the new index was refused; the previous one keeps serving: {exc}"
            ) from exc

    return router
