"""What the route modules share: the searcher dependency, the search gate, uploads, the response.

The ranking parameters are in ``ranking_params.py``.
"""

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from imagesearch.api.access import image_url
from imagesearch.api.admission import AdmissionQueue, Refusal, RetryBook
from imagesearch.api.overload import BusyError, BusyResponse, refusing_route, report_queue
from imagesearch.api.schemas import ErrorResponse, FacetModel, SearchResponse, SearchResult
from imagesearch.config import Settings
from imagesearch.errors import ImageTooLargeError, InvalidImageError
from imagesearch.index.source_paths import relative_source
from imagesearch.search.ranking import RankOptions
from imagesearch.search.service import Page, Searcher


def get_searcher(request: Request) -> Searcher:
    searcher: Searcher = request.app.state.searcher
    return searcher


SearcherDep = Annotated[Searcher, Depends(get_searcher)]

ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "upload or image over the size limits"},
    422: {"model": ErrorResponse, "description": "invalid query, parameter or image"},
    503: {
        "model": BusyResponse,
        "description": "the server is busy (the search would take longer than the queue budget; "
        "retry after Retry-After seconds), or the search took longer than the request timeout",
        "headers": {"Retry-After": {"description": "seconds to wait before retrying (busy only)"}},
    },
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
    """Admits searches (or refuses them: the queue budget) and runs them in the thread pool.

    At most ``limit`` run at once; the rest wait in FIFO order, so under load every request
    waits its turn instead of a few starving while many threads fight over the cores. Past the
    budget a search is refused at once (api/admission.py, api/overload.py) instead of waiting.
    The deadline covers the wait: a thread cannot be cancelled, so on timeout the client gets a
    503 at once while any started work finishes in the background (the hard backstop).
    """

    def __init__(self, limit: int, timeout_s: float, admission: AdmissionQueue) -> None:
        self._semaphore = asyncio.Semaphore(limit)
        self._timeout_s = timeout_s
        self.admission = admission
        self.retries = RetryBook()  # connections told to come back later (api/admission.py)
        # The search routers' route class: refuses before a request's parameters and body are read.
        self.route_class = refusing_route(admission, self.retries)

    @classmethod
    def from_settings(cls, settings: Settings) -> "SearchGate":
        admission = AdmissionQueue(settings.queue_budget_s)
        return cls(settings.max_concurrent_searches, settings.request_timeout_s, admission)

    async def run(self, function: Callable[..., T], *args: object, kind: str) -> T:
        """``function(*args)`` off the event loop; ``kind`` (text, image, ...) is what its cost is
        measured as. Raises BusyError past the budget, HTTPException 503 past the timeout."""
        ticket = self.admission.admit(kind, self.retries.waiting)
        if isinstance(ticket, Refusal):
            raise BusyError(ticket, self.retries)
        report_queue(self.admission)
        try:
            return await asyncio.wait_for(self._run(function, *args), timeout=self._timeout_s)
        except TimeoutError as exc:
            raise HTTPException(503, f"the search took longer than {self._timeout_s:g} s; try again") from exc
        finally:
            self.admission.done(ticket)
            report_queue(self.admission)

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        async with self._semaphore:
            return await run_in_threadpool(function, *args)


def source_display(request: Request) -> Callable[[str], str]:
    """How result sources are shown (IMAGESEARCH_SOURCE_PATHS): relative to the indexed folder,
    never the server's absolute path (index/source_paths.py), or as stored."""
    searcher = get_searcher(request)
    if searcher.settings.source_paths == "absolute":
        return str
    return partial(relative_source, root=searcher.source_root)


def page_response(request: Request, query: str, options: RankOptions, page: Page) -> SearchResponse:
    shown = source_display(request)
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
        query_text=page.query_text,
        facets=None
        if page.facets is None
        else {k: FacetModel.model_validate(v) for k, v in page.facets.items()},
        results=[
            SearchResult(
                id=hit.id,
                image_url=hit.source if hit.is_remote else image_url(request, hit.id),
                score=hit.score,
                source=shown(hit.source),
                caption=hit.caption,
                duplicates=list(hit.duplicates),
                metadata=hit.metadata,
                ocr_text=hit.ocr_text,
                matched_words=list(hit.matched_words),
            )
            for hit in page.hits
        ],
    )
