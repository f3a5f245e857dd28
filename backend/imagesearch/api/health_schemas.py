"""What GET /health answers: the index, the encoder and the limits this API enforces."""

from __future__ import annotations

from pydantic import BaseModel, Field

from imagesearch.api.schemas import MAX_WEIGHT
from imagesearch.config import Settings


class Limits(BaseModel):
    """The request limits this API enforces, from its settings: what a client may offer and send."""

    max_top_k: int = Field(description="largest top_k (results per page) of a search (IMAGESEARCH_MAX_TOP_K)")
    max_offset: int = Field(description="deepest offset a search page may start at (IMAGESEARCH_MAX_OFFSET)")
    max_query_terms: int = Field(
        description="most terms in one POST /search query (IMAGESEARCH_MAX_QUERY_TERMS)"
    )
    max_term_weight: float = Field(description="largest absolute weight of one term of a combined query")
    max_query_chars: int = Field(
        description="longest text query, in characters (IMAGESEARCH_MAX_QUERY_CHARS)"
    )
    max_upload_bytes: int = Field(
        description="largest image file, uploaded or base64 in a term (IMAGESEARCH_MAX_UPLOAD_BYTES)"
    )
    max_batch_queries: int = Field(
        description="most queries in one POST /search/batch (IMAGESEARCH_MAX_BATCH_QUERIES)"
    )
    queue_budget_s: float = Field(
        description="longest a search may be expected to take before it is refused with 503 + "
        "Retry-After (IMAGESEARCH_QUEUE_BUDGET_S); 0: no load shedding",
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_top_k=settings.max_top_k,
            max_offset=settings.max_offset,
            max_query_terms=settings.max_query_terms,
            max_term_weight=MAX_WEIGHT,
            max_query_chars=settings.max_query_chars,
            max_upload_bytes=settings.max_upload_bytes,
            max_batch_queries=settings.max_batch_queries,
            queue_budget_s=settings.queue_budget_s,
        )


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
    activation: str = Field(
        default="", description="the CLIP model's activation, as its weights were trained: quick_gelu / gelu"
    )
    warning: str | None = Field(default=None, description="what the fallback cannot do; null for CLIP")
    index_factory: str = Field(default="", description="FAISS factory string the index was built from")
    search_params: dict[str, int] = Field(
        default_factory=dict,
        description="efSearch / nprobe in use; a two-stage index also k_factor_rf (R: re-ranks k*R)",
    )
    vectors_on_disk: bool = Field(
        default=False,
        description="two-stage index: the full vectors that re-rank exactly are memory-mapped from disk, "
        "only the compressed codes are held in RAM",
    )
    vectors_file_bytes: int = Field(default=0, description="size of that vectors file on disk; 0: none")
    recall_at_10: float | None = Field(default=None, description="recall@10 vs exact search, at build")
    trained_count: int = Field(
        default=0, description="vectors the index was trained on (the rest were appended since); 0: untrained"
    )
    appended_recall_at_10: float | None = Field(
        default=None,
        description="recall@10 of held-out queries from the vectors appended last; null: none appended",
    )
    captions: bool = Field(
        default=False, description="the index has captions or OCR text: hybrid search is available"
    )
    query_runtime: str = Field(
        default="", description="where queries are encoded: 'onnxruntime fp32', 'torch fp32', ..."
    )
    limits: Limits = Field(description="the request limits this API enforces (its settings)")
    ocr_engine: str = Field(
        default="", description="the OCR engine whose text the index holds (built with --ocr); empty: none"
    )
    metadata_fields: dict[str, str] = Field(
        default_factory=dict,
        description="metadata field -> type (string, number, boolean, datetime, list): what filter, sort "
        "and facets can use",
    )
