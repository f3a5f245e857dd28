"""HTTP routes: health, text search, upload search and image files. Thin: validate, run the
search off the event loop, shape the response. Combined, similar and batch queries live in
``routes_query``.

No `from __future__ import annotations` here: the limits in the annotations are read from
`settings` inside `build_router`, which FastAPI can only resolve when they are evaluated.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response

from imagesearch.api.deps import (
    ERRORS,
    SearcherDep,
    SearchGate,
    page_response,
    ranking_dependencies,
    read_upload,
)
from imagesearch.api.schemas import ErrorResponse, HealthResponse, Limits, SearchResponse
from imagesearch.config import Settings
from imagesearch.encoders.fallback import FALLBACK_WARNING
from imagesearch.errors import InvalidQueryError
from imagesearch.search.ranking import RankOptions

_IMAGE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"image/*": {}}, "description": "the indexed image file"},
    307: {"description": "redirect to the original URL of a remote image"},
    404: {"model": ErrorResponse, "description": "no indexed local image with this id"},
    422: {"model": ErrorResponse, "description": "the id is not an integer"},
}


def build_router(settings: Settings, gate: SearchGate) -> APIRouter:
    """Routes whose documented limits come from ``settings`` (shown in /docs)."""
    router = APIRouter()
    ranking = ranking_dependencies(settings)
    limits = Limits.from_settings(settings)
    hybrid_doc = "weight of the caption text match (BM25, fused by rank), 0..1; 0: CLIP only"

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
            captions=searcher.has_captions,
            created_at=manifest.created_at,
            fallback=searcher.encoder.fallback,
            encoder_label=searcher.encoder.label,
            activation=searcher.encoder.activation,
            warning=FALLBACK_WARNING if searcher.encoder.fallback else None,
            query_runtime=searcher.encoder.query_runtime,
            limits=limits,
        )

    @router.get("/search", responses=ERRORS)
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
        options: Annotated[RankOptions, Depends(ranking.query)],
        hybrid: Annotated[float, Query(ge=0, le=1, description=hybrid_doc)] = 0.0,
    ) -> SearchResponse:
        # A repeated search is answered from the result cache on the event loop: no thread hop.
        page = searcher.cached_text_page(query, options, hybrid)
        if page is None:
            page = await gate.run(searcher.text_page, query, options, hybrid)
        return page_response(request, query, options, page)

    @router.post("/search-by-image", responses=ERRORS)
    async def search_by_image(
        request: Request,
        searcher: SearcherDep,
        file: Annotated[UploadFile, File(description=f"image, at most {settings.max_upload_bytes:,} bytes")],
        options: Annotated[RankOptions, Depends(ranking.form)],
    ) -> SearchResponse:
        data = await read_upload(file, settings.max_upload_bytes)
        page = await gate.run(searcher.image_page, data, options)
        return page_response(request, file.filename or "uploaded image", options, page)

    @router.get(
        "/images/{image_id}", name="get_image", response_class=FileResponse, responses=_IMAGE_RESPONSES
    )
    def get_image(image_id: int, searcher: SearcherDep) -> Response:
        """Serve an indexed image by its id (never an arbitrary path)."""
        try:
            path = searcher.bundle.local_path(image_id)
        except InvalidQueryError as exc:
            if 0 <= image_id < searcher.size:
                return RedirectResponse(searcher.bundle.urls[image_id])
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        if not path.is_file():
            raise HTTPException(status_code=404, detail=f"image {image_id} is no longer on disk")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    return router
