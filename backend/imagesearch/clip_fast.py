"""Exact fast paths for CLIP queries on the CPU: shorter text sequences, reduced-scale JPEG decode.

Text: CLIP's text tower is causal (each position attends only to earlier ones) and the output is
read at the end-of-text (EOT) token, so the padding after the last EOT of a batch cannot change
any output that is read. Running the transformer on ``tokens[:, :L]`` with ``L`` = last EOT
position + 1 computes the same numbers in ~L/77 of the work (tests/test_clip_fast.py proves it
against ``model.encode_text`` within 1e-5). Models this does not apply to (no causal mask, other
pooling) go through ``model.encode_text`` unchanged.
"""

from __future__ import annotations

from typing import Any

import torch

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
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    pooled = x[torch.arange(x.shape[0], device=x.device), eot]
    projection = model.text_projection
    if projection is None:
        return pooled  # type: ignore[no-any-return]
    if isinstance(projection, torch.nn.Linear):
        return projection(pooled)  # type: ignore[no-any-return]
    return pooled @ projection  # type: ignore[no-any-return]
