"""GET /similar/{id}: images nearest to an indexed image, from its stored vector.

No `from __future__ import annotations` here: the limits in the annotations are read from
``settings`` inside the builder, which FastAPI can only resolve when they are evaluated.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request

from imagesearch.api.deps import ERRORS, SearcherDep, SearchGate, page_response
from imagesearch.api.ranking_params import ranking_dependencies
from imagesearch.api.schemas import ErrorResponse, SearchResponse
from imagesearch.config import Settings
from imagesearch.errors import InvalidQueryError
from imagesearch.search.ranking import RankOptions

_SIMILAR_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorResponse, "description": "no image with this id in the index"},
    **ERRORS,
}


def build_router(settings: Settings, gate: SearchGate) -> APIRouter:
    router = APIRouter(route_class=gate.route_class)  # refuses first when busy (api/overload.py)
    ranking = ranking_dependencies(settings)

    @router.get("/similar/{image_id}", responses=_SIMILAR_ERRORS)
    async def similar(
        request: Request,
        searcher: SearcherDep,
        image_id: Annotated[int, Path(description="id of an indexed image")],
        options: Annotated[RankOptions, Depends(ranking.query)],
    ) -> SearchResponse:
        """Images nearest to an indexed image (its stored vector; the image itself excluded)."""
        try:
            searcher.bundle.check_id(image_id)
        except InvalidQueryError as exc:
            raise HTTPException(404, str(exc)) from exc
        page = await gate.run(searcher.similar, image_id, options, kind="similar")
        return page_response(request, f"similar to #{image_id}", options, page)

    return router
