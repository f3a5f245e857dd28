"""Exact fast paths for CLIP on the CPU: shorter text sequences, torch-free image normalisation.

Text: CLIP's text tower is causal (each position attends only to earlier ones) and the output is
read at the end-of-text (EOT) token, so the padding after the last EOT of a batch cannot change
any output that is read. Running the transformer on ``tokens[:, :L]`` with ``L`` = last EOT
position + 1 computes the same numbers in ~L/77 of the work (tests/test_clip_fast.py proves it
against ``model.encode_text`` within 1e-5). Models this does not apply to (no causal mask, other
pooling) go through ``model.encode_text`` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from PIL import Image

from imagesearch.encoders.preprocess import NumpyTail, ResizeCrop

TEXT_PATH_TRUNCATED = "truncated"
TEXT_PATH_REFERENCE = "reference"


def text_path(model: Any) -> str:
    """Which text path ``encode_text_fast`` takes for ``model`` (truncated only when provably exact)."""
    needed = ("token_embedding", "positional_embedding", "transformer", "ln_final", "attn_mask")
    if not all(hasattr(model, name) for name in needed):
        return TEXT_PATH_REFERENCE
    mask = model.attn_mask
    if getattr(model, "text_pool_type", None) != "argmax" or not isinstance(mask, torch.Tensor):
        return TEXT_PATH_REFERENCE
    # The mask must be exactly causal: nothing may look at a later position.
    size = mask.shape[-1]
    future = torch.triu(torch.ones(size, size, dtype=torch.bool), diagonal=1)
    causal = bool(torch.isneginf(mask[future]).all()) and bool((mask[~future] == 0).all())
    return TEXT_PATH_TRUNCATED if causal else TEXT_PATH_REFERENCE


def encode_text_fast(model: Any, tokens: torch.Tensor, path: str) -> torch.Tensor:
    """open_clip ``CLIP.encode_text`` on (n, context) int64 tokens -> (n, embed_dim), unnormalised.

    With ``path == "truncated"`` the transformer runs only up to the last EOT position of the
    batch (argmax pooling: EOT is the highest token id); otherwise the reference path.
    """
    if path != TEXT_PATH_TRUNCATED:
        return model.encode_text(tokens)  # type: ignore[no-any-return]
    eot = tokens.argmax(dim=-1)
    length = int(eot.max()) + 1
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens[:, :length]).to(cast_dtype)
    x = x + model.positional_embedding[:length].to(cast_dtype)
    return text_features(model, x, eot)


def text_features(model: Any, embedded: torch.Tensor, eot: torch.Tensor) -> torch.Tensor:
    """The causal text tower from embedded tokens (n, length, width) to features (n, embed_dim)
    read at each row's end-of-text position ``eot`` (also what onnx_export exports)."""
    length = embedded.shape[1]
    x = model.transformer(embedded, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    pooled = x[torch.arange(x.shape[0], device=x.device), eot]
    projection = model.text_projection
    if projection is None:
        return pooled  # type: ignore[no-any-return]
    if isinstance(projection, torch.nn.Linear):
        return projection(pooled)  # type: ignore[no-any-return]
    return pooled @ projection  # type: ignore[no-any-return]


def split_preprocess(preprocess: Any) -> tuple[Callable[[Image.Image], Image.Image], NumpyTail] | None:
    """(PIL steps, numpy tail) when ``preprocess`` ends in ToTensor + Normalize; else None."""
    from torchvision.transforms import Compose, Normalize, ToTensor

    steps = list(getattr(preprocess, "transforms", []))
    if len(steps) < 2 or type(steps[-1]) is not Normalize or not isinstance(steps[-2], ToTensor):
        return None
    if any(isinstance(step, ToTensor) for step in steps[:-2]):
        return None
    return Compose(steps[:-2]), NumpyTail(steps[-1].mean, steps[-1].std)


def describe_preprocess(preprocess: Any) -> ResizeCrop | None:
    """The torch-free equivalent of open_clip's evaluation ``preprocess`` (preprocess.ResizeCrop),
    or None when it is not the shortest-side resize + centre crop that class does."""
    from torchvision.transforms import CenterCrop, Resize

    steps = list(getattr(preprocess, "transforms", []))
    split = split_preprocess(preprocess)
    if split is None or len(steps) != 5:
        return None
    resize, crop, convert = steps[:3]
    rgb = getattr(convert, "mode", None) == "RGB" or getattr(convert, "__name__", "") == "_convert_to_rgb"
    if type(resize) is not Resize or type(crop) is not CenterCrop or not rgb or resize.max_size is not None:
        return None
    sizes = [resize.size] if isinstance(resize.size, int) else list(resize.size)
    if len(sizes) != 1 or list(crop.size) != sizes * 2:
        return None  # squash / keep-ratio resizes and non-square inputs: not this class
    size = int(sizes[0])
    interpolation = resize.interpolation.value
    if interpolation not in ("bicubic", "bilinear"):
        return None
    normalize = steps[-1]
    return ResizeCrop(size, interpolation, tuple(normalize.mean), tuple(normalize.std))
