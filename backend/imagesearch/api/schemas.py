"""Request/response models of the HTTP API.

The UI's TypeScript types are generated from the OpenAPI schema these produce (``make api-types``
writes frontend/lib/openapi.json and frontend/lib/api-schema.ts; ``make lint`` fails when they drift).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from pydantic.fields import FieldInfo

from imagesearch.config import Settings
from imagesearch.search.query_terms import BATCH_POSITIVE, NONZERO_WEIGHT, ONE_KIND, ONE_POSITIVE
from imagesearch.search.ranking import RankOptions

FILTER_FIELD_DOC = 'metadata filter, e.g. year >= 2020 AND photographer = "Jane Doe" (docs/filters.md)'
SORT_FIELD_DOC = "order the relevant results by metadata: field:asc or field:desc, comma-separated keys"
FACETS_FIELD_DOC = "metadata fields to count values of, over all relevant results"
CUTOFF_FIELD_DOC = "auto: keep the results before the largest drop in this query's score curve"


def _absent(value: Any) -> bool:
    return value is None


MAX_WEIGHT = 10.0
"""Largest absolute weight of one term of a combined query (a constant, not a setting)."""


class SearchResult(BaseModel):
    id: int = Field(description="position of the image in the index (vector id)")
    image_url: str = Field(description="URL a browser can load: the original http(s) URL, or /images/{id}")
    score: float = Field(description="cosine similarity between query and image, -1..1")
    source: str = Field(description="the source string stored at indexing time (URL or path)")
    caption: str | None = Field(default=None, description="the image's caption, when the index has them")
    duplicates: list[int] = Field(
        default_factory=list, description="ids of near-duplicates collapsed into this result (dedupe)"
    )
    ocr_text: str | None = Field(
        default=None, description="the text read in the image (an index built with --ocr); null: none"
    )
    matched_words: list[str] = Field(
        default_factory=list, description="words of ocr_text the query's text matched, as written there"
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="the image's metadata, field -> value (datetimes in ISO 8601, UTC); absent: left out",
    )


class FacetBucketModel(BaseModel):
    """A value with its count, or a range with its count, or (``missing``) the count without a value."""

    value: Any = Field(
        default=None, exclude_if=_absent, description="the value counted (strings, booleans, list items)"
    )
    from_: Any = Field(
        default=None, alias="from", exclude_if=_absent, description="start of a number/date range (inclusive)"
    )
    to: Any = Field(
        default=None,
        exclude_if=_absent,
        description="end of a number/date range (exclusive; the last is inclusive)",
    )
    count: int = Field(description="relevant results with this value (or in this range)")
    missing: bool = Field(
        default=False, exclude_if=lambda v: not v, description="true: the count of results without a value"
    )

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    @model_validator(mode="before")
    @classmethod
    def _mark_missing(cls, data: Any) -> Any:
        if isinstance(data, dict) and "from" not in data and data.get("value") is None:
            return {**data, "missing": True}
        return data


class FacetModel(BaseModel):
    type: str = Field(description="the field's type (string, number, boolean, datetime, list)")
    buckets: list[FacetBucketModel] = Field(
        description="values by count (strings, booleans, lists) or consecutive ranges (numbers, dates); "
        "a last bucket with missing=true counts the results without a value"
    )
    distinct: int | None = Field(
        default=None, exclude_if=_absent, description="how many distinct values (value facets)"
    )
    min: Any = Field(default=None, exclude_if=_absent, description="smallest value (range facets)")
    max: Any = Field(default=None, exclude_if=_absent, description="largest value (range facets)")


class SearchResponse(BaseModel):
    query: str = Field(description="the query, or a readable description of a combined query")
    top_k: int
    offset: int = Field(default=0, description="rank of the first result in the full order")
    has_more: bool = Field(default=False, description="at least one more result follows this page")
    min_score: float | None = None
    dedupe: bool = False
    filter: str | None = Field(default=None, description="the metadata filter applied")
    sort: str | None = Field(default=None, description="the metadata sort applied to the relevant results")
    cutoff: str | None = Field(default=None, description="'auto' when the adaptive cutoff applied")
    total: int | None = Field(
        default=None, description="number of relevant results, when a cutoff (min_score or auto) bounds them"
    )
    query_text: str | None = Field(
        default=None, description="the text read in the uploaded query image (read_text > 0)"
    )
    facets: dict[str, FacetModel] | None = Field(
        default=None, description="field -> value counts (or ranges) over all relevant results"
    )
    results: list[SearchResult]


class BatchResponse(BaseModel):
    results: list[SearchResponse] = Field(description="one response per query, in request order")


class ReloadResponse(BaseModel):
    status: str = Field(description="'reloaded'")
    images: int = Field(description="images in the index now serving")
    previous_images: int = Field(description="images in the index it replaced")
    index_type: str
    created_at: str


class ErrorResponse(BaseModel):
    detail: str = Field(description="what went wrong, in words")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="for invalid parameters: the structured list of problems"
    )


# Requests. The limits that come from settings (top_k, offset, term and query counts, text length)
# are applied by ``request_models``, which derives per-settings subclasses of these.
class SearchTerm(BaseModel):
    """One weighted term of a combined query: exactly one of text / image_id / image_b64."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    text: str | None = Field(default=None, min_length=1, description="text to match")
    image_id: int | None = Field(default=None, ge=0, description="an indexed image (excluded from results)")
    image_b64: str | None = Field(
        default=None, min_length=1, description="base64 of an image file's bytes (a data: URL is accepted)"
    )
    weight: float = Field(
        default=1.0, ge=-MAX_WEIGHT, le=MAX_WEIGHT, description="not 0; negative: less like"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> SearchTerm:
        given = [name for name in ("text", "image_id", "image_b64") if getattr(self, name) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"{ONE_KIND} (got {found})")
        if self.weight == 0:
            raise ValueError(NONZERO_WEIGHT)
        return self


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    terms: list[SearchTerm] = Field(min_length=1, description="weighted terms; at least one positive")
    top_k: int = Field(default=10, ge=1, description="number of results")
    offset: int = Field(default=0, ge=0, description="rank of the first result (pagination)")
    min_score: float | None = Field(default=None, ge=-1, le=1, description="drop results scoring below")
    dedupe: bool = Field(default=False, description="collapse near-duplicate images into one result")
    hybrid: float = Field(
        default=0, ge=0, le=1, description="weight of the caption text match (0: CLIP only)"
    )
    filter: str | None = Field(default=None, max_length=2000, description=FILTER_FIELD_DOC)
    sort: str | None = Field(default=None, max_length=200, description=SORT_FIELD_DOC)
    facets: list[str] = Field(default_factory=list, max_length=20, description=FACETS_FIELD_DOC)
    cutoff: Literal["auto", "none"] | None = Field(default=None, description=CUTOFF_FIELD_DOC)

    def options(self) -> RankOptions:
        return RankOptions(
            self.top_k,
            self.offset,
            self.min_score,
            self.dedupe,
            filter=self.filter or None,
            sort=self.sort or None,
            facets=tuple(dict.fromkeys(self.facets)),
            cutoff="auto" if self.cutoff == "auto" else None,
        )

    @model_validator(mode="after")
    def _one_positive(self) -> SearchRequest:
        if not any(term.weight > 0 for term in self.terms):
            raise ValueError(ONE_POSITIVE)
        return self


class BatchQuery(SearchTerm):
    """One query of a batch: a single text, image_id or image_b64 (weight must be positive)."""

    @model_validator(mode="after")
    def _positive(self) -> BatchQuery:
        if self.weight <= 0:
            raise ValueError(BATCH_POSITIVE)
        return self


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    queries: list[BatchQuery] = Field(min_length=1, description="queries, answered in this order")
    top_k: int = Field(default=10, ge=1, description="number of results per query")
    min_score: float | None = Field(default=None, ge=-1, le=1, description="drop results scoring below")
    filter: str | None = Field(
        default=None, max_length=2000, description=FILTER_FIELD_DOC + ", for every query"
    )
    cutoff: Literal["auto", "none"] | None = Field(default=None, description=CUTOFF_FIELD_DOC)

    def options(self) -> RankOptions:
        cutoff: Literal["auto"] | None = "auto" if self.cutoff == "auto" else None
        return RankOptions(self.top_k, min_score=self.min_score, filter=self.filter or None, cutoff=cutoff)


@dataclass(frozen=True)
class RequestModels:
    search: type[SearchRequest]
    batch: type[BatchRequest]


def request_models(settings: Settings) -> RequestModels:
    """Subclasses of the request models carrying this configuration's limits (shown in /docs)."""
    text = limited_field(SearchTerm, "text", str | None, max_length=settings.max_query_chars)
    term = create_model("SearchTerm", __base__=SearchTerm, text=text)
    query = create_model("BatchQuery", __base__=BatchQuery, text=text)
    search = create_model(
        "SearchRequest",
        __base__=SearchRequest,
        terms=limited_field(SearchRequest, "terms", list[term], max_length=settings.max_query_terms),  # type: ignore[valid-type]
        top_k=limited_field(
            SearchRequest, "top_k", int, default=settings.default_top_k, le=settings.max_top_k
        ),
        offset=limited_field(SearchRequest, "offset", int, le=settings.max_offset),
    )
    batch = create_model(
        "BatchRequest",
        __base__=BatchRequest,
        queries=limited_field(BatchRequest, "queries", list[query], max_length=settings.max_batch_queries),  # type: ignore[valid-type]
        top_k=limited_field(
            BatchRequest, "top_k", int, default=settings.default_top_k, le=settings.max_top_k
        ),
    )
    return RequestModels(search=search, batch=batch)


def limited_field(model: type[BaseModel], name: str, annotation: Any, **limits: Any) -> Any:
    """``model``'s field ``name`` (its default, constraints and description) with ``limits`` added."""
    base = model.model_fields[name]
    return (annotation, FieldInfo.merge_field_infos(base, Field(**limits)))
