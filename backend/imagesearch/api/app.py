"""Application factory: settings -> encoder + index loaded once in the lifespan -> routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from PIL import Image
from starlette.formparsers import MultiPartParser

from imagesearch import __version__
from imagesearch.api.access import API_KEY_HEADER, install_access
from imagesearch.api.deps import SearchGate
from imagesearch.api.docs import install_docs
from imagesearch.api.http_errors import install_error_handlers
from imagesearch.api.lifecycle import WorkerLifecycle
from imagesearch.api.limits import BodySizeLimit
from imagesearch.api.metrics import RequestMetrics, build_metrics_router
from imagesearch.api.overload import install_overload
from imagesearch.api.reload import build_admin_router
from imagesearch.api.routes import build_routers, probes
from imagesearch.api.text_reader import UploadTextReader
from imagesearch.config import Settings
from imagesearch.encoders.factory import load_encoder
from imagesearch.errors import ImageSearchError
from imagesearch.search.service import Searcher

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    lifecycle = WorkerLifecycle(settings)
    app = FastAPI(
        title="Multimodal Image Search",
        version=__version__,
        description="Text -> image and image -> image search over a CLIP + FAISS index.",
        lifespan=_lifespan(settings, lifecycle),
        # /docs and /redoc are served from installed files, not FastAPI's CDN pages (api/docs.py).
        docs_url=None,
        redoc_url=None,
    )
    _install_middleware(app, settings)
    install_error_handlers(app)
    install_docs(app)
    # One gate for every search route: the concurrency limit is for the whole process.
    gate = SearchGate.from_settings(settings)
    install_overload(app)
    for router in build_routers(settings, gate):
        app.include_router(router)
    app.include_router(probes.build_router(lifecycle.readiness))
    app.include_router(build_admin_router(settings, lifecycle.reloader))
    app.include_router(build_metrics_router())
    return app


def _lifespan(
    settings: Settings, lifecycle: WorkerLifecycle
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Load the encoder and the index once, before the first request; refuse to start on errors."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            searcher = Searcher.load(settings, load_encoder(settings, purpose="query"))
            searcher.reader = UploadTextReader(settings)
            app.state.searcher = searcher
            # The first query of each kind pays for lazy set-up (sessions, caches): now, not a user.
            app.state.searcher.encoder.encode_texts(["warm-up"])
            app.state.searcher.encoder.encode_images([Image.new("RGB", (32, 32))])
        except ImageSearchError as exc:
            # One clear line instead of a chained traceback; uvicorn then exits non-zero.
            logger.error("cannot start the search API: %s", exc)
            raise RuntimeError(f"cannot start the search API: {exc}") from None
        logger.info("serving %d images from %s", app.state.searcher.size, settings.data_dir)
        async with lifecycle.running(app):  # ready, reloads, drain (api/lifecycle.py)
            yield

    return lifespan


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    # Added first, so CORS (added last, outermost) also decorates its 413 for the browser UI.
    app.add_middleware(BodySizeLimit, max_upload_bytes=settings.max_upload_bytes)
    # Keep uploads in memory while the multipart body is parsed: the route reads the whole file
    # into memory anyway, and Starlette's default spills anything over 1 MB to a temporary file
    # first (4-8 ms for a 1-2 MB photo here). BodySizeLimit bounds what one request can hold.
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, settings.max_upload_bytes)
    # Inside CORS: preflights are answered before any key is asked for, and a 401/429 carries
    # the CORS headers the UI needs to read it; outside BodySizeLimit: a refused body is not read.
    install_access(app, settings)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        # Only what the UI sends beyond the CORS-safelisted headers (Starlette always allows those).
        allow_headers=[API_KEY_HEADER],
        # The UI waits as long as a 429 (or a 503) says before it retries.
        expose_headers=["Retry-After"],
    )
    # Outermost: counts every answer, the 413s and CORS preflights included.
    app.add_middleware(RequestMetrics)
