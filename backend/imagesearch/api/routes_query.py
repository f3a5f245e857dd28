"""Routes for queries beyond one text or one upload: similar images, combined terms, batches.

No `from __future__ import annotations` here: the request models carry limits read from
`settings` inside `build_query_router`, which FastAPI resolves from the evaluated annotations.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, TypeAlias

from fastapi import APIRouter, Depends, HTTPException, Path, Request

from imagesearch.api.deps import ERRORS, SearcherDep, SearchGate, page_response, ranking_dependencies
from imagesearch.api.schemas import (
    BatchRequest,
    BatchResponse,
    ErrorResponse,
    SearchRequest,
    SearchResponse,
    SearchTerm,
    request_models,
)
from imagesearch.config import Settings
from imagesearch.search.query_terms import QueryTerm, decode_b64_image, describe
from imagesearch.search.ranking import RankOptions

_SIMILAR_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorResponse, "description": "no image with this id in the index"},
    **ERRORS,
}


def build_query_router(settings: Settings, gate: SearchGate) -> APIRouter:
    router = APIRouter()
    ranking = ranking_dependencies(settings)
    models = request_models(settings)
    # FastAPI validates bodies against the per-settings subclasses; mypy sees their base classes.
    if TYPE_CHECKING:
        SearchBody: TypeAlias = SearchRequest
        BatchBody: TypeAlias = BatchRequest
    else:
        SearchBody = models.search  # noqa: N806
        BatchBody = models.batch  # noqa: N806

    @router.get("/similar/{image_id}", responses=_SIMILAR_ERRORS)
    async def similar(
        request: Request,
        searcher: SearcherDep,
        image_id: Annotated[int, Path(description="id of an indexed image")],
        options: Annotated[RankOptions, Depends(ranking.query)],
    ) -> SearchResponse:
        """Images nearest to an indexed image (its stored vector; the image itself excluded)."""
        if not 0 <= image_id < searcher.size:
            raise HTTPException(
                404, f"no image with id {image_id} (the index has ids 0..{searcher.size - 1})"
            )
        page = await gate.run(searcher.similar, image_id, options)
        return page_response(request, f"similar to #{image_id}", options, page)

    @router.post("/search", responses=ERRORS)
    async def search_terms(request: Request, searcher: SearcherDep, body: SearchBody) -> SearchResponse:
        """Weighted text / indexed-image / uploaded-image terms, e.g. 2 x "dog" + image #17 - "grass"."""
        options = RankOptions(body.top_k, body.offset, body.min_score, body.dedupe)

        def run() -> SearchResponse:
            terms = _core_terms(body.terms, settings.max_upload_bytes)
            page = searcher.terms_page(terms, options, body.hybrid)
            return page_response(request, describe(terms), options, page)

        return await gate.run(run)

    @router.post("/search/batch", responses=ERRORS)
    async def search_batch(request: Request, searcher: SearcherDep, body: BatchBody) -> BatchResponse:
        """Many single-term queries at once: one encoder call per kind, one index search."""
        options = RankOptions(body.top_k, min_score=body.min_score)

        def run() -> BatchResponse:
            terms = _core_terms(body.queries, settings.max_upload_bytes)
            pages = searcher.batch_pages(terms, options)
            return BatchResponse(
                results=[
                    page_response(request, describe([term]), options, page)
                    for term, page in zip(terms, pages, strict=True)
                ]
            )

        return await gate.run(run)

    return router


def _core_terms(terms: Sequence[SearchTerm], max_upload_bytes: int) -> list[QueryTerm]:
    """Request terms -> core terms, decoding base64 images (413 / 422 on bad ones)."""
    return [
        QueryTerm(
            text=term.text,
            image_id=term.image_id,
            image=decode_b64_image(term.image_b64, max_upload_bytes) if term.image_b64 is not None else None,
            weight=term.weight,
        )
        for term in terms
    ]
