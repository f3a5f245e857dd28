"""Request/response models of the HTTP API (mirrored by frontend/lib/types.ts)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SearchResult(BaseModel):
    id: int = Field(description="position of the image in the index (vector id)")
    image_url: str = Field(description="URL a browser can load: the original http(s) URL, or /images/{id}")
    score: float = Field(description="cosine similarity between query and image, -1..1")
    source: str = Field(description="the source string stored at indexing time (URL or path)")


class SearchResponse(BaseModel):
    query: str
    top_k: int
    results: list[SearchResult]


class HealthResponse(BaseModel):
    status: str
    images: int
    dimension: int
    model: str
    pretrained: str
    encoder: str
    index_type: str
    created_at: str
    fallback: bool = Field(description="true when the lower-quality offline fallback encoder serves")
    encoder_label: str = Field(description="which encoder serves, in words")
    warning: str | None = Field(default=None, description="what the fallback cannot do; null for CLIP")
    index_factory: str = Field(default="", description="FAISS factory string the index was built from")
    search_params: dict[str, int] = Field(default_factory=dict, description="efSearch / nprobe in use")
    recall_at_10: float | None = Field(default=None, description="recall@10 vs exact search, at build")


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
