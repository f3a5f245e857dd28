"""Expected search answers computed independently: numpy over the vectors FAISS stored.

Nothing here calls the code under test (imagesearch.search.service / ranking / query_terms): vectors
come straight from the index file through FAISS, or from the encoder.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import faiss
import httpx
import numpy as np
import pytest

from imagesearch.config import Settings
from imagesearch.encoders.protocol import Encoder
from imagesearch.images import decode_image


def stored_vectors(settings: Settings) -> np.ndarray:
    index = faiss.read_index(str(settings.index_path))
    return np.asarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def brute_force(vectors: np.ndarray, query: np.ndarray, exclude: tuple[int, ...] = ()) -> list[int]:
    """All ids, best first (score desc, id asc), without ``exclude``."""
    scores = vectors @ query
    return [int(i) for i in sorted(range(len(vectors)), key=lambda i: (-scores[i], i)) if i not in exclude]


def assert_ranking(results: list[dict[str, Any]], vectors: np.ndarray, query: np.ndarray, exclude=()) -> None:
    """Results equal the brute-force order and scores (ties within 1e-5 may swap)."""
    scores = vectors @ query
    expected = brute_force(vectors, query, exclude)[: len(results)]
    assert len(results) == len(expected)
    for result, want in zip(results, expected, strict=True):
        assert result["score"] == pytest.approx(float(scores[result["id"]]), abs=1e-5)
        assert result["id"] == want or abs(scores[result["id"]] - scores[want]) < 1e-5


def encode_file(encoder: Encoder, path: Path) -> np.ndarray:
    image = decode_image(path.read_bytes(), 10**8)
    return np.asarray(encoder.encode_images([image])[0], dtype=np.float64)


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [result["id"] for result in response.json()["results"]]
