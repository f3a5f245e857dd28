"""Test weights: deterministic random checkpoints, and a pre-filled Hugging Face cache so that
open_clip's default pretrained-tag path runs offline.

No CLIP weights can be downloaded here (shared/MODELS.md). ``plant_tag_weights`` writes a state
dict where ``open_clip.create_model_and_transforms(model, pretrained=tag)`` looks for that tag
(``hub/models--ORG--NAME/{blobs,refs,snapshots}``, the layout huggingface_hub itself writes), so
with ``HF_HOME`` pointing there and ``HF_HUB_OFFLINE=1`` the real default code path loads it
exactly as it loads downloaded weights: tag config, preprocessing and activation included.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from imagesearch.config import Settings

COMMIT = "0" * 40  # any 40-hex revision: refs/main points at it
SAFETENSORS_NAME = "open_clip_model.safetensors"  # what open_clip tries first for an HF tag


def random_state_dict(model: str, seed: int = 0) -> dict[str, Any]:
    """Deterministic random weights for ``model`` (the activation does not change them)."""
    import open_clip
    import torch

    torch.manual_seed(seed)
    built = open_clip.create_model(model, pretrained=None)
    return {name: tensor.detach().contiguous().clone() for name, tensor in built.state_dict().items()}


def save_random_checkpoint(settings: Settings, path: Path, seed: int = 0) -> Path:
    """Write deterministic random weights for ``settings.model`` (tests, offline benchmarks).

    Same architecture and cost as the real weights; the vectors carry no meaning, so only
    image -> image behaviour (an image finds itself) can be checked with them.
    """
    import open_clip
    import torch

    if settings.model_config_file is not None:
        open_clip.add_model_config(settings.model_config_file)
    torch.manual_seed(seed)
    model = open_clip.create_model(settings.model, pretrained=None)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def plant_tag_weights(hf_home: Path, model: str, tag: str, state_dict: dict[str, Any]) -> Path:
    """Store ``state_dict`` as the weights of open_clip's ``model``/``tag``; returns the file."""
    import open_clip
    from safetensors.torch import save_file

    hub = open_clip.get_pretrained_cfg(model, tag).get("hf_hub", "")
    repo_id = hub.rstrip("/")
    if not repo_id or repo_id.count("/") != 1:
        raise ValueError(f"{model}/{tag} is not stored on the Hugging Face hub as a repo: {hub!r}")
    repo = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}"
    staged = repo / "staged.safetensors"
    staged.parent.mkdir(parents=True, exist_ok=True)
    save_file(state_dict, str(staged))
    digest = hashlib.sha256(staged.read_bytes()).hexdigest()
    blob = repo / "blobs" / digest
    blob.parent.mkdir(exist_ok=True)
    staged.replace(blob)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True, exist_ok=True)
    link = snapshot / SAFETENSORS_NAME
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(blob, snapshot))
    return link


def offline_env(hf_home: Path) -> dict[str, str]:
    """Environment variables that make huggingface_hub read only ``hf_home``'s cache."""
    return {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"}
