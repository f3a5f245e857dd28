"""Reference text vectors from open_clip's plain model, and the ranking checks the exact fast
paths must pass (tests/encoders/test_fast_paths.py, test_onnx_towers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np
import open_clip
import torch

from imagesearch.vectors import FloatArray, normalize_rows

QUERIES = [
    "",
    "dog",
    "a red car",
    "A person riding a bicycle in the rain",
    "  sunset   over the   mountains  ",
    "two cats sleeping on a blue sofa next to a window on a winter morning",
    " ".join(["tree"] * 80),
    " ".join(f"word{n}" for n in range(40)),
]


def reference_model(model_name: str, checkpoint: Path) -> Any:
    model, _, _ = open_clip.create_model_and_transforms(model_name, pretrained=str(checkpoint))
    return model.eval()


def reference_texts(model: Any, model_name: str, texts: list[str]) -> FloatArray:
    """The plain open_clip path, one query at a time, normalised like the encoder does."""
    tokenizer = open_clip.get_tokenizer(model_name)
    with torch.inference_mode():
        rows = [model.encode_text(tokenizer([text])).numpy() for text in texts]
    return normalize_rows(np.concatenate(rows))


def fixed_index(dim: int, count: int = 5000) -> Any:
    vectors = np.random.default_rng(7).standard_normal((count, dim)).astype(np.float32)
    index = faiss.IndexFlatIP(dim)
    index.add(normalize_rows(vectors))
    return index


def assert_same_rankings(index: Any, expected: FloatArray, actual: FloatArray) -> None:
    _, expected_ids = index.search(expected, 10)
    _, actual_ids = index.search(actual, 10)
    np.testing.assert_array_equal(actual_ids, expected_ids)
