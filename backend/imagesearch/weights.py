"""Where CLIP's weights come from: an open_clip pretrained tag (hub, cached) or a checkpoint file.

A checkpoint file is identified by the hash of its content (so two machines with the same file
agree on the encoder id in the manifest); a tag by its name. When the model hub cannot be reached,
loading switches huggingface_hub to offline mode at once instead of retrying for a minute.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from imagesearch.config import Settings
from imagesearch.errors import EncoderUnavailableError
from imagesearch.files import file_sha256

logger = logging.getLogger(__name__)


def resolve_weights(settings: Settings) -> tuple[str, str]:
    """Return (value for open_clip's ``pretrained``, id recorded in the manifest)."""
    import open_clip

    value = settings.pretrained
    path = Path(value).expanduser()
    if path.is_file():
        # Identify a checkpoint by content, so two machines with the same file agree.
        return str(path), f"sha256-{file_sha256(path)[:16]}"
    if any(sep in value for sep in ("/", "\\")) or value.endswith((".pt", ".bin", ".safetensors")):
        raise EncoderUnavailableError(f"checkpoint file not found: {value} (IMAGESEARCH_PRETRAINED)")
    tags = open_clip.list_pretrained_tags_by_model(settings.model)
    if value not in tags:
        raise EncoderUnavailableError(
            f"unknown pretrained tag {value!r} for {settings.model}; "
            f"known tags: {', '.join(tags) or 'none'}; or give a checkpoint file path"
        )
    return value, value


@contextlib.contextmanager
def hub_access(timeout_s: float) -> Iterator[None]:
    """Fail fast when the model hub is unreachable instead of retrying for a minute.

    huggingface_hub retries every request with backoff (~45 s) before it falls back to its
    cache. When a quick TCP probe shows the hub cannot be reached, switch it to offline mode
    for the duration of the load: cached weights still load, missing ones fail at once.
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or _reachable(constants.ENDPOINT, timeout_s):
        yield
        return
    logger.info("model hub %s unreachable: using only locally cached weights", constants.ENDPOINT)
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = False


def _reachable(endpoint: str, timeout_s: float) -> bool:
    parsed = urlparse(endpoint)
    host = parsed.hostname or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def weights_help(settings: Settings, exc: Exception) -> str:
    return (
        f"could not load the weights {settings.pretrained!r} for {settings.model}: {exc}\n"
        "This machine cannot download them (no network, or the model hub is blocked). Either "
        "connect it to the internet once (open_clip caches the weights), or copy a checkpoint "
        "file here and set IMAGESEARCH_PRETRAINED=/path/to/open_clip_model.safetensors "
        "(a state dict saved from open_clip for the same IMAGESEARCH_MODEL)."
    )
