"""The one factory every entry point uses to get its encoder."""

from __future__ import annotations

import logging

from imagesearch.config import Settings
from imagesearch.encoders.clip import ClipEncoder
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import EncoderUnavailableError, WeightsUnavailableError

logger = logging.getLogger(__name__)


def load_encoder(settings: Settings) -> Encoder:
    """The one factory every entry point uses.

    ``IMAGESEARCH_ENCODER=auto`` (default): CLIP whenever its weights can be had (hub cache,
    download, or a checkpoint file); only when they cannot, the offline fallback, with a warning.
    ``clip`` / ``fallback`` force one. Configuration errors (unknown model, missing checkpoint
    file) never fall back: they are mistakes to fix, not a machine without weights.
    """
    if settings.encoder == "fallback":
        return _load_fallback(settings)
    try:
        return ClipEncoder(settings)
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


def _load_fallback(settings: Settings) -> Encoder:
    from imagesearch.encoders.fallback import FallbackEncoder

    return FallbackEncoder(settings)
