"""The ranking options of the search routes, as query parameters (and, for an upload, form fields).

Both are parameter models (FastAPI reads a model's fields as the query string's or the form's
parameters), built per configuration so that the limits in /docs are the ones enforced. No
`from __future__ import annotations` here: FastAPI reads the dependency functions' annotations.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from fastapi import Depends, Form, Query
from pydantic import BaseModel, Field, create_model

from imagesearch.api.schemas import limited_field
from imagesearch.config import Settings
from imagesearch.search.ranking import RankOptions

MAX_FILTER_CHARS = 2000
FILTER_DOC = (
    'metadata filter, e.g. year >= 2020 AND photographer = "Jane Doe" (docs/filters.md); '
    "fields and types: GET /health metadata_fields"
)
SORT_DOC = "order the relevant results by metadata: field:asc or field:desc, comma-separated keys"
FACETS_DOC = "comma-separated metadata fields to count values of, over all relevant results"
CUTOFF_DOC = "auto: keep the results before the largest drop in this query's score curve"


class RankParams(BaseModel):
    """What cuts one query's results into a page, as the query string gives it."""

    top_k: int = Field(default=10, ge=1, description="number of results")
    offset: int = Field(default=0, ge=0, description="rank of the first result (pagination)")
    min_score: float | None = Field(default=None, ge=-1, le=1, description="drop results scoring below this")
    dedupe: bool = Field(default=False, description="collapse near-duplicate images into the best-scored one")
    filter: str | None = Field(default=None, max_length=MAX_FILTER_CHARS, description=FILTER_DOC)
    sort: str | None = Field(default=None, max_length=200, description=SORT_DOC)
    facets: str | None = Field(default=None, max_length=500, description=FACETS_DOC)
    cutoff: Literal["auto", "none"] | None = Field(default=None, description=CUTOFF_DOC)

    def options(self) -> RankOptions:
        return RankOptions(
            top_k=self.top_k,
            offset=self.offset,
            min_score=self.min_score,
            dedupe=self.dedupe,
            filter=self.filter or None,
            sort=self.sort or None,
            facets=split_fields(self.facets),
            cutoff="auto" if self.cutoff == "auto" else None,
        )


class RankForm(BaseModel):
    """The same options as form fields of a multipart upload; each one given wins over the query's."""

    top_k: int | None = Field(default=None, ge=1, description="number of results")
    offset: int | None = Field(default=None, ge=0, description="rank of the first result (pagination)")
    min_score: float | None = Field(default=None, ge=-1, le=1, description="drop results scoring below this")
    dedupe: bool | None = Field(
        default=None, description="collapse near-duplicate images into the best-scored one"
    )
    filter: str | None = Field(default=None, max_length=MAX_FILTER_CHARS, description=FILTER_DOC)
    sort: str | None = Field(default=None, max_length=200, description=SORT_DOC)
    facets: str | None = Field(default=None, max_length=500, description=FACETS_DOC)
    cutoff: Literal["auto", "none"] | None = Field(default=None, description=CUTOFF_DOC)

    def over(self, options: RankOptions) -> RankOptions:
        given = {
            name: getattr(self, name) for name in self.model_fields_set if getattr(self, name) is not None
        }
        if "facets" in given:
            given["facets"] = split_fields(given["facets"])
        if "cutoff" in given:
            given["cutoff"] = "auto" if given["cutoff"] == "auto" else None
        for name in ("filter", "sort"):
            if name in given:
                given[name] = given[name] or None
        return replace(options, **given)


@dataclass(frozen=True)
class RankingDependencies:
    """``Depends`` targets: options from the query string (``query``), or from the query string
    and the form fields of a multipart upload (``form``)."""

    query: Callable[..., RankOptions]
    form: Callable[..., RankOptions]


def ranking_dependencies(settings: Settings) -> RankingDependencies:
    top_k = {"default": settings.default_top_k, "le": settings.max_top_k}
    query_model: Any = create_model(
        "RankParams",
        __base__=RankParams,
        top_k=limited_field(RankParams, "top_k", int, **top_k),
        offset=limited_field(RankParams, "offset", int, le=settings.max_offset),
    )
    form_model: Any = create_model(
        "RankForm",
        __base__=RankForm,
        top_k=limited_field(RankForm, "top_k", int | None, le=settings.max_top_k),
        offset=limited_field(RankForm, "offset", int | None, le=settings.max_offset),
    )

    def from_query(params: Annotated[query_model, Query()]) -> RankOptions:
        return params.options()  # type: ignore[no-any-return]

    def from_form(
        options: Annotated[RankOptions, Depends(from_query)], form: Annotated[form_model, Form()]
    ) -> RankOptions:
        return form.over(options)  # type: ignore[no-any-return]

    return RankingDependencies(query=from_query, form=from_form)


def split_fields(text: str | None) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``: the facets parameter's list of fields."""
    return tuple(dict.fromkeys(part.strip() for part in (text or "").split(",") if part.strip()))
