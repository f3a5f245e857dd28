"""GET /health: the index, the encoder and the limits this API enforces."""

from fastapi import APIRouter

from imagesearch.api.deps import SearcherDep
from imagesearch.api.health_schemas import HealthResponse, Limits
from imagesearch.config import Settings
from imagesearch.encoders.fallback import FALLBACK_WARNING


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter()
    limits = Limits.from_settings(settings)

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
            vectors_on_disk=bool(manifest.vectors_file),
            vectors_file_bytes=manifest.vectors_bytes,
            recall_at_10=manifest.recall_at_10,
            trained_count=manifest.trained_count,
            appended_recall_at_10=manifest.appended_recall_at_10,
            captions=searcher.has_captions,
            created_at=manifest.created_at,
            fallback=searcher.encoder.fallback,
            encoder_label=searcher.encoder.label,
            activation=searcher.encoder.activation,
            warning=FALLBACK_WARNING if searcher.encoder.fallback else None,
            query_runtime=searcher.encoder.query_runtime,
            limits=limits,
            metadata_fields=dict(searcher.bundle.table.fields),
            ocr_engine=manifest.ocr_engine,
        )

    return router
