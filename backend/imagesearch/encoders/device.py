"""Which device the model runs on (``IMAGESEARCH_DEVICE``)."""

from __future__ import annotations

from imagesearch.errors import EncoderUnavailableError


def pick_device(requested: str, cuda_available: bool) -> str:
    """ "cuda" or "cpu" for ``requested`` (auto / cpu / cuda); cuda without a device is refused."""
    if requested == "cuda" and not cuda_available:
        raise EncoderUnavailableError("IMAGESEARCH_DEVICE=cuda but no CUDA device is available")
    if requested == "auto":
        return "cuda" if cuda_available else "cpu"
    return requested
