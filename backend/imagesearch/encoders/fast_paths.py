"""Exact fast paths for CLIP on the CPU: shorter text sequences, torch-free image normalisation.

Text: CLIP's text tower is causal (each position attends only to earlier ones) and the output is
read at the end-of-text (EOT) token, so the padding after the last EOT of a batch cannot change
any output that is read. Running the transformer on ``tokens[:, :L]`` with ``L`` = last EOT
position + 1 computes the same numbers in ~L/77 of the work (tests/test_clip_fast.py proves it
against ``model.encode_text`` within 1e-5). Models this does not apply to (no causal mask, other
pooling) go through ``model.encode_text`` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

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


class NumpyTail:
    """The ``ToTensor`` + ``Normalize`` end of a torchvision preprocessing chain, in numpy.

    Bit-for-bit the same float32 operations ((pixel / 255 - mean) / std, channels first), but no
    torch call, so the fetch/decode threads never start OpenMP teams of their own (see
    compute.py); the geometric steps before it (resize, crop, RGB conversion) are PIL
    operations and run unchanged.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self._mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self._std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)

    def __call__(self, image: Image.Image) -> npt.NDArray[np.float32]:
        pixels = np.asarray(image, dtype=np.uint8)
        if pixels.ndim != 3 or pixels.shape[2] != len(self._mean):
            raise ValueError(f"expected an {len(self._mean)}-channel 8-bit image, got shape {pixels.shape}")
        chw = pixels.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
        return np.ascontiguousarray((chw - self._mean) / self._std, dtype=np.float32)


def split_preprocess(preprocess: Any) -> tuple[Callable[[Image.Image], Image.Image], NumpyTail] | None:
    """(PIL steps, numpy tail) when ``preprocess`` ends in ToTensor + Normalize; else None."""
    from torchvision.transforms import Compose, Normalize, ToTensor

    steps = list(getattr(preprocess, "transforms", []))
    if len(steps) < 2 or type(steps[-1]) is not Normalize or not isinstance(steps[-2], ToTensor):
        return None
    if any(isinstance(step, ToTensor) for step in steps[:-2]):
        return None
    return Compose(steps[:-2]), NumpyTail(steps[-1].mean, steps[-1].std)
