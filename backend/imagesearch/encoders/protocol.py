"""What the pipeline and the search service need from a model: the ``Encoder`` protocol.

An encoder turns texts and images into unit-length float32 vectors of shape (n, dim) in one
shared space. The pipeline, the API and the notebook all get theirs from
``encoders.factory.load_encoder``, so the index and the queries are always embedded by the same
code (the seed's "single CLIP implementation end to end" rule). A second implementation only has
to satisfy ``Encoder``. This module imports no torch: the search layer depends on it alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from PIL import Image

from imagesearch.vectors import FloatArray


class Encoder(Protocol):
    """What the pipeline and the search service need from a model."""

    @property
    def id(self) -> str:
        """Stable identity of model + weights, recorded in the manifest."""

    @property
    def dim(self) -> int:
        """Dimension of the vectors."""

    @property
    def fallback(self) -> bool:
        """True for the lower-quality offline fallback, False for CLIP."""

    @property
    def label(self) -> str:
        """Short human description of the encoder, shown in /health and the UI."""

    @property
    def activation(self) -> str:
        """The model's activation ("quick_gelu" / "gelu"; "" when that does not apply), in the manifest."""

    @property
    def image_size(self) -> int:
        """Side of the model's square input in pixels (lets decoders skip detail it cannot use)."""

    @property
    def query_runtime(self) -> str:
        """Where query vectors are computed, e.g. "onnxruntime fp32"; shown in /health."""

    def prepare(self, image: Image.Image) -> FloatArray:
        """Model's own preprocessing of one RGB image (thread-safe; runs in fetch workers)."""

    def encode_prepared(self, batch: Sequence[FloatArray]) -> FloatArray:
        """Encode prepared images -> (n, dim) float32, unit length."""

    def encode_images(self, images: Sequence[Image.Image]) -> FloatArray:
        """Prepare and encode RGB images -> (n, dim) float32, unit length."""

    def encode_texts(self, texts: Sequence[str]) -> FloatArray:
        """Encode texts -> (n, dim) float32, unit length."""
