"""Picking up a rebuilt index without a restart: ``POST /admin/reload`` and SIGHUP.

The new bundle is loaded and checked (checksums, counts, encoder compatibility) beside the one
serving; only then is ``app.state.searcher`` replaced, in one assignment. Requests in flight hold
the searcher they started with and finish on it; a new index that fails its checks is refused
and the old one keeps serving. A save replaces the index files by rename, so the files of a
memory-mapped old index stay intact until it is dropped.
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
from starlette.concurrency import run_in_threadpool

from imagesearch.api.schemas import ErrorResponse, ReloadResponse
from imagesearch.config import Settings
from imagesearch.errors import ImageSearchError
from imagesearch.index.store import load_bundle
from imagesearch.search.service import Searcher

logger = logging.getLogger(__name__)

_RESPONSES: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorResponse, "description": "missing or wrong admin token"},
    404: {"model": ErrorResponse, "description": "admin calls are disabled (no IMAGESEARCH_ADMIN_TOKEN)"},
    409: {"model": ErrorResponse, "description": "the new index was refused; the previous one keeps serving"},
}


class Reloader:
    """Loads the bundle in ``settings.data_dir`` and swaps it in; one reload at a time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def reload(self, app: FastAPI) -> ReloadResponse:
        """Blocking; raises ImageSearchError (nothing swapped) when the new index is unfit."""
        with self._lock:
            old: Searcher = app.state.searcher
            new = Searcher(self.settings, old.encoder, load_bundle(self.settings), old.reader)
            app.state.searcher = new  # the swap: one reference assignment
        manifest = new.bundle.manifest
        logger.info("reloaded: %d images (was %d), %s", new.size, old.size, manifest.index_type)
        return ReloadResponse(
            status="reloaded",
            images=new.size,
            previous_images=old.size,
            index_type=manifest.index_type,
            created_at=manifest.created_at,
        )

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
