"""The one factory every entry point uses to get its encoder."""

from __future__ import annotations

import logging
from typing import Literal

from imagesearch.config import Settings
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import EncoderUnavailableError, WeightsUnavailableError

logger = logging.getLogger(__name__)

# "index": the encoder that embeds images for the index (torch fp32, ClipEncoder), also used by
# the notebook, evaluation and benchmarks. "query": what a search service needs, the torch-free
# query towers (onnx_serving.py) when they can be had, so the process holds no torch weights.
Purpose = Literal["index", "query"]


def load_encoder(settings: Settings, purpose: Purpose = "index") -> Encoder:
    """The one factory every entry point uses.

    ``IMAGESEARCH_ENCODER=auto`` (default): CLIP whenever its weights can be had (hub cache,
    download, or a checkpoint file); only when they cannot, the offline fallback, with a warning.
    ``clip`` / ``fallback`` force one. Configuration errors (unknown model, missing checkpoint
    file) never fall back: they are mistakes to fix, not a machine without weights.
    """
    if settings.encoder == "fallback":
        return _load_fallback(settings)
    try:
        return _load_clip(settings, purpose)
    except WeightsUnavailableError as exc:
        if settings.encoder == "clip":
            raise
        logger.warning(
            "CLIP weights unavailable, so the LOWER-QUALITY offline fallback encoder is used "
            "(set IMAGESEARCH_ENCODER=clip to fail instead): %s",
            str(exc).splitlines()[0],
        )
        try:
            return _load_fallback(settings)
        except EncoderUnavailableError as fallback_exc:
            raise EncoderUnavailableError(
                f"{exc}\nThe offline fallback is not usable either: {fallback_exc}"
            ) from fallback_exc


def _load_clip(settings: Settings, purpose: Purpose) -> Encoder:
    """CLIP for ``purpose``; torch (and so ClipEncoder) is imported only when it is needed."""
    if purpose == "query" and settings.query_runtime != "torch":
        from imagesearch.encoders.onnx_serving import (
            QueryTowersUnavailableError,
            load_query_encoder,
            warn_torch_queries,
        )

        required = settings.query_runtime == "onnxruntime" or settings.query_precision == "int8"
        try:
            return load_query_encoder(settings, None if required else lambda: _clip_encoder(settings))
        except QueryTowersUnavailableError as exc:
            if required:
                raise EncoderUnavailableError(
                    f"IMAGESEARCH_QUERY_RUNTIME={settings.query_runtime} with IMAGESEARCH_QUERY_PRECISION="
                    f"{settings.query_precision} cannot run: {exc}"
                ) from exc
            warn_torch_queries(exc)
    return _clip_encoder(settings)


def _clip_encoder(settings: Settings) -> Encoder:
    from imagesearch.encoders.clip import ClipEncoder

    return ClipEncoder(settings)


def _load_fallback(settings: Settings) -> Encoder:
    from imagesearch.encoders.fallback import FallbackEncoder

    return FallbackEncoder(settings)
