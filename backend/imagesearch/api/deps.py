"""What the route modules share: the searcher dependency, the search gate, ranking parameters.

No `from __future__ import annotations` here: FastAPI reads the annotations of the dependency
functions built in ``ranking_dependencies``, whose limits come from ``settings``.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Form, HTTPException, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from imagesearch.api.schemas import ErrorResponse, FacetModel, SearchResponse, SearchResult
from imagesearch.config import Settings
from imagesearch.errors import ImageTooLargeError, InvalidImageError
from imagesearch.search.ranking import RankOptions
from imagesearch.search.service import Page, Searcher


def get_searcher(request: Request) -> Searcher:
    searcher: Searcher = request.app.state.searcher
    return searcher


SearcherDep = Annotated[Searcher, Depends(get_searcher)]

ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "upload or image over the size limits"},
    422: {"model": ErrorResponse, "description": "invalid query, parameter or image"},
    503: {"model": ErrorResponse, "description": "the search took longer than the request timeout"},
}
T = TypeVar("T")


async def read_upload(file: UploadFile, limit: int) -> bytes:
    """The uploaded file's bytes: at most ``limit`` of them, and not none."""
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLargeError(f"the upload is over the {limit:,}-byte limit")
    if not data:
        raise InvalidImageError("the uploaded file is empty")
    return data


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


@dataclass(frozen=True)
class RankingDependencies:
    """``Depends`` targets reading top_k / offset / min_score / dedupe from the query string
    (``query``) or from the query string or form fields of a multipart upload (``form``)."""

    query: Callable[..., RankOptions]
    form: Callable[..., RankOptions]


FILTER_DOC = (
    'metadata filter, e.g. year >= 2020 AND photographer = "Jane Doe" (docs/filters.md); '
    "fields and types: GET /health metadata_fields"
)
SORT_DOC = "order the relevant results by metadata: field:asc or field:desc, comma-separated keys"
FACETS_DOC = "comma-separated metadata fields to count values of, over all relevant results"
CUTOFF_DOC = "auto: keep the results before the largest drop in this query's score curve"
MAX_FILTER_CHARS = 2000


def ranking_dependencies(settings: Settings) -> RankingDependencies:
    top_k_doc = f"number of results, 1..{settings.max_top_k}"
    offset_doc = f"rank of the first result (pagination), 0..{settings.max_offset}"
    min_doc = "drop results whose score is below this, -1..1"
    dedupe_doc = "collapse near-duplicate images into the best-scored one"
    TopK = Annotated[int, Query(ge=1, le=settings.max_top_k, description=top_k_doc)]  # noqa: N806
    Offset = Annotated[int, Query(ge=0, le=settings.max_offset, description=offset_doc)]  # noqa: N806
    MinScore = Annotated[float | None, Query(ge=-1, le=1, description=min_doc)]  # noqa: N806
    Dedupe = Annotated[bool, Query(description=dedupe_doc)]  # noqa: N806
    Filter = Annotated[str | None, Query(max_length=MAX_FILTER_CHARS, description=FILTER_DOC)]  # noqa: N806
    Sort = Annotated[str | None, Query(max_length=200, description=SORT_DOC)]  # noqa: N806
    FacetList = Annotated[str | None, Query(max_length=500, description=FACETS_DOC)]  # noqa: N806
    Cutoff = Annotated[Literal["auto", "none"] | None, Query(description=CUTOFF_DOC)]  # noqa: N806

    def from_query(
        top_k: TopK = settings.default_top_k,
        offset: Offset = 0,
        min_score: MinScore = None,
        dedupe: Dedupe = False,
        filter: Filter = None,
        sort: Sort = None,
        facets: FacetList = None,
        cutoff: Cutoff = None,
    ) -> RankOptions:
        return RankOptions(
            top_k=top_k,
            offset=offset,
            min_score=min_score,
            dedupe=dedupe,
            filter=filter or None,
            sort=sort or None,
            facets=split_fields(facets),
            cutoff="auto" if cutoff == "auto" else None,
        )

    def from_form(
        query_options: Annotated[RankOptions, Depends(from_query)],
        top_k: Annotated[int | None, Form(ge=1, le=settings.max_top_k, description=top_k_doc)] = None,
        offset: Annotated[int | None, Form(ge=0, le=settings.max_offset, description=offset_doc)] = None,
        min_score: Annotated[float | None, Form(ge=-1, le=1, description=min_doc)] = None,
        dedupe: Annotated[bool | None, Form(description=dedupe_doc)] = None,
        filter: Annotated[str | None, Form(max_length=MAX_FILTER_CHARS, description=FILTER_DOC)] = None,
        sort: Annotated[str | None, Form(max_length=200, description=SORT_DOC)] = None,
        facets: Annotated[str | None, Form(max_length=500, description=FACETS_DOC)] = None,
        cutoff: Annotated[Literal["auto", "none"] | None, Form(description=CUTOFF_DOC)] = None,
    ) -> RankOptions:
        """Form fields win over the same names in the query string."""
        form: dict[str, Any] = {
            "top_k": top_k,
            "offset": offset,
            "min_score": min_score,
            "dedupe": dedupe,
            "filter": filter or None,
            "sort": sort or None,
            "facets": split_fields(facets) or None,
        }
        merged = {name: value for name, value in form.items() if value is not None}
        if cutoff is not None:
            merged["cutoff"] = "auto" if cutoff == "auto" else None
        return replace(query_options, **merged)

    return RankingDependencies(query=from_query, form=from_form)


def split_fields(text: str | None) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``: the facets parameter's list of fields."""
    return tuple(dict.fromkeys(part.strip() for part in (text or "").split(",") if part.strip()))


def page_response(request: Request, query: str, options: RankOptions, page: Page) -> SearchResponse:
    return SearchResponse(
        query=query,
        top_k=options.top_k,
        offset=options.offset,
        has_more=page.has_more,
        min_score=options.min_score,
        dedupe=options.dedupe,
        filter=options.filter,
        sort=options.sort,
        cutoff=options.cutoff,
        total=page.total,
        facets=None
        if page.facets is None
        else {k: FacetModel.model_validate(v) for k, v in page.facets.items()},
        results=[
            SearchResult(
                id=hit.id,
                image_url=hit.source if hit.is_remote else str(request.url_for("get_image", image_id=hit.id)),
                score=hit.score,
                source=hit.source,
                caption=hit.caption,
                duplicates=list(hit.duplicates),
                metadata=hit.metadata,
            )
            for hit in page.hits
        ],
    )
