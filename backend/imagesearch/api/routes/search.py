"""The search routes: GET /search (one text), POST /search-by-image (one upload), POST /search
(weighted terms) and POST /search/batch (many single queries). Thin: validate, run the search
off the event loop (the gate), shape the response.

No `from __future__ import annotations` here: the limits in the annotations are read from
``settings`` inside the builder, which FastAPI can only resolve when they are evaluated.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, TypeAlias

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile

from imagesearch.api.deps import (
    ERRORS,
    SearcherDep,
    SearchGate,
    page_response,
    read_upload,
)
from imagesearch.api.ranking_params import RankingDependencies, ranking_dependencies
from imagesearch.api.schemas import (
    BatchRequest,
    BatchResponse,
    SearchRequest,
    SearchResponse,
    SearchTerm,
    request_models,
)
from imagesearch.config import Settings
from imagesearch.search.query_terms import QueryTerm, decode_b64_image, describe
from imagesearch.search.ranking import RankOptions

READ_TEXT_DOC = (
    "read the text in the uploaded image (OCR) and match it against the captions and OCR text, with "
    "this weight (as hybrid), 0..1; 0: not read. The text read comes back as query_text"
)
HYBRID_DOC = "weight of the caption text match (BM25, fused by rank), 0..1; 0: CLIP only"


def build_router(settings: Settings, gate: SearchGate) -> APIRouter:
    # When the server is busy these refuse before their parameters or body are read (api/overload.py).
    router = APIRouter(route_class=gate.route_class)
    ranking = ranking_dependencies(settings)
    _one_query_routes(router, settings, gate, ranking)
    _term_routes(router, settings, gate)
    return router


def _one_query_routes(
    router: APIRouter, settings: Settings, gate: SearchGate, ranking: RankingDependencies
) -> None:
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
        hybrid: Annotated[float, Query(ge=0, le=1, description=HYBRID_DOC)] = 0.0,
    ) -> SearchResponse:
        # A repeated search is answered from the result cache on the event loop: no thread hop.
        page = searcher.cached_text_page(query, options, hybrid)
        if page is None:
            page = await gate.run(searcher.text_page, query, options, hybrid, kind="text")
        return page_response(request, query, options, page)

    @router.post("/search-by-image", responses=ERRORS)
    async def search_by_image(
        request: Request,
        searcher: SearcherDep,
        file: Annotated[UploadFile, File(description=f"image, at most {settings.max_upload_bytes:,} bytes")],
        options: Annotated[RankOptions, Depends(ranking.form)],
        read_text: Annotated[float, Query(ge=0, le=1, description=READ_TEXT_DOC)] = 0.0,
    ) -> SearchResponse:
        data = await read_upload(file, settings.max_upload_bytes)
        page = await gate.run(searcher.image_page, data, options, read_text, kind="image")
        return page_response(request, file.filename or "uploaded image", options, page)


def _term_routes(router: APIRouter, settings: Settings, gate: SearchGate) -> None:
    models = request_models(settings)
    # FastAPI validates bodies against the per-settings subclasses; mypy sees their base classes.
    if TYPE_CHECKING:
        SearchBody: TypeAlias = SearchRequest
        BatchBody: TypeAlias = BatchRequest
    else:
        SearchBody = models.search  # noqa: N806
        BatchBody = models.batch  # noqa: N806

    @router.post("/search", responses=ERRORS)
    async def search_terms(request: Request, searcher: SearcherDep, body: SearchBody) -> SearchResponse:
        """Weighted text / indexed-image / uploaded-image terms, e.g. 2 x "dog" + image #17 - "grass"."""
        options = body.options()

        def run() -> SearchResponse:
            terms = _core_terms(body.terms, settings.max_upload_bytes)
            page = searcher.terms_page(terms, options, body.hybrid)
            return page_response(request, describe(terms), options, page)

        return await gate.run(run, kind="terms")

    @router.post("/search/batch", responses=ERRORS)
    async def search_batch(request: Request, searcher: SearcherDep, body: BatchBody) -> BatchResponse:
        """Many single-term queries at once: one encoder call per kind, one index search."""
        options = body.options()

        def run() -> BatchResponse:
            terms = _core_terms(body.queries, settings.max_upload_bytes)
            pages = searcher.batch_pages(terms, options)
            return BatchResponse(
                results=[
                    page_response(request, describe([term]), options, page)
                    for term, page in zip(terms, pages, strict=True)
                ]
            )

        return await gate.run(run, kind="batch")


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
