"""HTTP routes. Thin: validate, run the search off the event loop, shape the response.

No `from __future__ import annotations` here: the limits in the annotations are read from
`settings` inside `build_router`, which FastAPI can only resolve when they are evaluated.
"""

import asyncio
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from imagesearch.api.schemas import ErrorResponse, HealthResponse, SearchResponse, SearchResult
from imagesearch.config import Settings
from imagesearch.errors import ImageTooLargeError, InvalidImageError, InvalidQueryError
from imagesearch.fallback_encoder import FALLBACK_WARNING
from imagesearch.search import Hit, Searcher


def get_searcher(request: Request) -> Searcher:
    searcher: Searcher = request.app.state.searcher
    return searcher


SearcherDep = Annotated[Searcher, Depends(get_searcher)]

_ERRORS: dict[int | str, dict[str, object]] = {
    413: {"model": ErrorResponse, "description": "upload or image over the size limits"},
    422: {"model": ErrorResponse, "description": "invalid query, parameter or image"},
    503: {"model": ErrorResponse, "description": "the search took longer than the request timeout"},
}
_IMAGE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"image/*": {}}, "description": "the indexed image file"},
    307: {"description": "redirect to the original URL of a remote image"},
    404: {"model": ErrorResponse, "description": "no indexed local image with this id"},
    422: {"model": ErrorResponse, "description": "the id is not an integer"},
}
T = TypeVar("T")


class SearchGate:
    """Runs blocking searches (encoding) in the thread pool, off the event loop.

    At most ``limit`` run at once; the rest wait in FIFO order, so under load every request
    waits its turn instead of a few starving while many threads fight over the cores. The
    deadline covers the wait: a thread cannot be cancelled, so on timeout the client gets a
    503 at once while any started work finishes in the background.
    """

    def __init__(self, limit: int, timeout_s: float) -> None:
        self._semaphore = asyncio.Semaphore(limit)
        self._timeout_s = timeout_s

    async def run(self, function: Callable[..., T], *args: object) -> T:
        try:
            return await asyncio.wait_for(self._run(function, *args), timeout=self._timeout_s)
        except TimeoutError as exc:
            raise HTTPException(503, f"the search took longer than {self._timeout_s:g} s; try again") from exc

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        async with self._semaphore:
            return await run_in_threadpool(function, *args)


def build_router(settings: Settings) -> APIRouter:
    """Routes whose documented limits come from ``settings`` (shown in /docs)."""
    router = APIRouter()
    gate = SearchGate(settings.max_concurrent_searches, settings.request_timeout_s)
    top_k_doc = f"number of results, 1..{settings.max_top_k}"
    TopK = Annotated[int, Query(ge=1, le=settings.max_top_k, description=top_k_doc)]  # noqa: N806

    @router.get("/health")
    def health(searcher: SearcherDep) -> HealthResponse:
        manifest = searcher.bundle.manifest
        return HealthResponse(
            status="ok",
            images=searcher.size,
            dimension=manifest.dim,
            model=manifest.model,
            pretrained=manifest.pretrained,
            encoder=manifest.encoder_id,
            index_type=manifest.index_type,
            index_factory=manifest.index_factory,
            search_params=manifest.search_params,
            recall_at_10=manifest.recall_at_10,
            created_at=manifest.created_at,
            fallback=searcher.encoder.fallback,
            encoder_label=searcher.encoder.label,
            warning=FALLBACK_WARNING if searcher.encoder.fallback else None,
        )

    @router.get("/search", responses=_ERRORS)
    async def search(
        request: Request,
        searcher: SearcherDep,
        query: Annotated[
            str,
            Query(
                min_length=1,
                max_length=settings.max_query_chars,
                description="text to search for, e.g. 'a person on a bicycle in the rain'",
            ),
        ],
        top_k: TopK = settings.default_top_k,
    ) -> SearchResponse:
        hits = await gate.run(searcher.search_text, query, top_k)
        return _response(request, query, top_k, hits)

    @router.post("/search-by-image", responses=_ERRORS)
    async def search_by_image(
        request: Request,
        searcher: SearcherDep,
        file: Annotated[UploadFile, File(description=f"image, at most {settings.max_upload_bytes:,} bytes")],
        top_k: TopK = settings.default_top_k,
        top_k_form: Annotated[
            int | None, Form(alias="top_k", ge=1, le=settings.max_top_k, description=top_k_doc)
        ] = None,
    ) -> SearchResponse:
        data = await file.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise ImageTooLargeError(f"the upload is over the {settings.max_upload_bytes:,}-byte limit")
        if not data:
            raise InvalidImageError("the uploaded file is empty")
        k = top_k_form or top_k
        hits = await gate.run(searcher.search_image, data, k)
        return _response(request, file.filename or "uploaded image", k, hits)

    @router.get(
        "/images/{image_id}", name="get_image", response_class=FileResponse, responses=_IMAGE_RESPONSES
    )
    def get_image(image_id: int, searcher: SearcherDep) -> Response:
        """Serve an indexed image by its id (never an arbitrary path)."""
        try:
            path = searcher.local_path(image_id)
        except InvalidQueryError as exc:
            if 0 <= image_id < searcher.size:
                return RedirectResponse(searcher.bundle.urls[image_id])
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        if not path.is_file():
            raise HTTPException(status_code=404, detail=f"image {image_id} is no longer on disk")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    return router


def _response(request: Request, query: str, top_k: int, hits: list[Hit]) -> SearchResponse:
    return SearchResponse(
        query=query,
        top_k=top_k,
        results=[
            SearchResult(
                id=hit.id,
                image_url=hit.source if hit.is_remote else str(request.url_for("get_image", image_id=hit.id)),
                score=hit.score,
                source=hit.source,
            )
            for hit in hits
        ],
    )
