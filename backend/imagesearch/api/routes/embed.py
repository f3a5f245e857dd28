"""Embedding routes: the unit vectors the search itself uses for a text or an uploaded image.

For users who keep vectors elsewhere (another vector store, their own ranking) and need them
from the very model and code path that built this index; the same text cache and query runtime
(ONNX Runtime or torch) serve them as serve ``/search``.

No `from __future__ import annotations` here: the limits in the annotations come from
``settings`` inside ``build_router`` (see routes/search.py).
"""

from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, UploadFile
from pydantic import BaseModel, ConfigDict, Field, create_model

from imagesearch.api.deps import ERRORS, SearcherDep, SearchGate, read_upload
from imagesearch.config import Settings
from imagesearch.search.service import Searcher


class EmbedTextRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1, description="texts to embed, each cleaned as /search cleans it")


class EmbedResponse(BaseModel):
    encoder: str = Field(description="encoder id; equal to /health's: vectors of other ids do not mix")
    dim: int
    vectors: list[list[float]] = Field(description="one unit-length float32 vector per input, in order")


def _response(searcher: Searcher, vectors: np.ndarray) -> EmbedResponse:
    # float32 -> Python float is exact, and JSON keeps every digit of it.
    return EmbedResponse(encoder=searcher.encoder.id, dim=searcher.encoder.dim, vectors=vectors.tolist())


def build_router(settings: Settings, gate: SearchGate) -> APIRouter:
    router = APIRouter(route_class=gate.route_class)  # refuses first when busy (api/overload.py)
    text = Field(min_length=1, max_length=settings.max_query_chars)
    body_model = create_model(
        "EmbedTextRequest",
        __base__=EmbedTextRequest,
        texts=(list[Annotated[str, text]], Field(min_length=1, max_length=settings.max_batch_queries)),
    )

    @router.post("/embed/text", responses=ERRORS)
    async def embed_text(searcher: SearcherDep, body: body_model) -> EmbedResponse:  # type: ignore[valid-type]
        """Texts -> vectors, exactly as a text search computes its query (cached texts skip the model)."""
        return _response(searcher, await gate.run(searcher.queries.texts, body.texts, kind="embed_text"))  # type: ignore[attr-defined]

    @router.post("/embed/image", responses=ERRORS)
    async def embed_image(
        searcher: SearcherDep,
        file: Annotated[UploadFile, File(description=f"image, at most {settings.max_upload_bytes:,} bytes")],
    ) -> EmbedResponse:
        """Uploaded image -> vector, exactly as /search-by-image computes its query."""
        data = await read_upload(file, settings.max_upload_bytes)
        return _response(searcher, await gate.run(searcher.queries.images, [data], kind="embed_image"))

    return router
