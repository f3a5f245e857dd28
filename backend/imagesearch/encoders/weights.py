"""Where CLIP's weights come from (an open_clip pretrained tag, hub-cached, or a checkpoint file),
and the architecture options those weights need.

A checkpoint file is identified by the hash of its content (so two machines with the same file
agree on the encoder id in the manifest); a tag by its name. When the model hub cannot be reached,
loading switches huggingface_hub to offline mode at once instead of retrying for a minute.

The activation follows the weights: OpenAI's CLIP weights (and every tag whose open_clip
pretrained config says ``quick_gelu``) were trained with QuickGELU, while open_clip 3.x builds
``ViT-B-32`` with plain GELU and only warns when the tag disagrees. The weights load either way
(neither activation has parameters), so only the outputs are wrong: ``resolve_activation`` takes
the tag's word for it, and a checkpoint file (which records no activation) gets the model
config's unless ``IMAGESEARCH_ACTIVATION`` says otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
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


QUICK_GELU = "quick_gelu"
GELU = "gelu"
ACTIVATION_NAMES = {QUICK_GELU: "QuickGELU", GELU: "GELU"}
# open_clip's warning when a model config and a pretrained tag disagree (raised as an error here).
MISMATCH_WARNING = r".*QuickGELU mismatch"


@dataclass(frozen=True)
class Activation:
    """The activation a model is built with, and the one its open_clip config builds by itself."""

    name: str  # QUICK_GELU or GELU
    config_default: str

    @property
    def create_kwargs(self) -> dict[str, Any]:
        """Extra arguments for ``open_clip.create_model_and_transforms``."""
        if self.name == self.config_default:
            return {}
        return {"force_quick_gelu": True} if self.name == QUICK_GELU else {"quick_gelu": False}

    @property
    def id_suffix(self) -> str:
        """Appended to the encoder id when the model name alone does not say the activation."""
        return "" if self.name == self.config_default else ":" + self.name.replace("_", "")

    @property
    def label(self) -> str:
        return ACTIVATION_NAMES[self.name]


def resolve_activation(settings: Settings, tag: str | None) -> Activation:
    """The activation for ``settings.model`` with the pretrained ``tag`` (None: a checkpoint file).

    A tag decides by itself (its open_clip pretrained config); an ``IMAGESEARCH_ACTIVATION`` that
    contradicts it is refused, since those weights were trained with the other one.
    """
    import open_clip

    config = open_clip.get_model_config(settings.model) or {}
    config_default = QUICK_GELU if config.get("quick_gelu", False) else GELU
    if tag is not None:
        trained = QUICK_GELU if open_clip.get_pretrained_cfg(settings.model, tag).get("quick_gelu") else GELU
        if settings.activation not in ("auto", trained):
            raise EncoderUnavailableError(
                f"IMAGESEARCH_ACTIVATION={settings.activation} contradicts the pretrained tag {tag!r} of "
                f"{settings.model}, whose weights were trained with {ACTIVATION_NAMES[trained]}; "
                "unset IMAGESEARCH_ACTIVATION (auto follows the tag)"
            )
        return Activation(trained, config_default)
    if settings.activation != "auto":
        return Activation(settings.activation, config_default)
    if config_default == GELU:
        variant = f"{settings.model}-quickgelu"
        logger.warning(
            "a checkpoint file does not record its activation: %s is built with GELU (its model "
            "config). For weights trained with QuickGELU (OpenAI's, and open_clip's QuickGELU tags) set "
            "IMAGESEARCH_ACTIVATION=quick_gelu%s",
            settings.model,
            f" or use the model name {variant}" if variant in open_clip.list_models() else "",
        )
    return Activation(config_default, config_default)


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
