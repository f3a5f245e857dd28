"""Appending to a trained index (index/append.py): the training is kept, the result searches as
exactly as a two-stage index should (checked against FAISS's exact IndexFlatIP over all the
vectors), the vectors file is the one FAISS itself writes for them, and vectors from elsewhere
are caught by the drift check instead of being appended."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from imagesearch.config import Settings
from imagesearch.index import two_stage
from imagesearch.index.append import append, can_append
from imagesearch.index.factory import build_index

DIM = 32


def clustered(n: int, seed: int, centres: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    block = centres[rng.integers(0, len(centres), n)] + 0.35 * rng.normal(size=(n, DIM))
    return (block / np.linalg.norm(block, axis=1, keepdims=True)).astype(np.float32)


CENTRES = np.random.default_rng(7).normal(size=(40, DIM))


def built(factory: str, vectors: np.ndarray) -> tuple[object, dict[str, int]]:
    index, tuning = build_index(vectors, Settings(index_factory=factory))
    return index, tuning.search_params


@pytest.mark.parametrize("factory", ["IVF32,PQ16x4fs,RFlat", "IVF32,Flat"])
def test_append_keeps_the_training_and_searches_exactly(tmp_path: Path, factory: str) -> None:
    old, new = clustered(6000, 1, CENTRES), clustered(1500, 2, CENTRES)
    index, params = built(factory, old)
    target = tmp_path / "appended.faiss"
    result = append(index, new, params, 0.95, target)

    assert result.index is not None and result.recall_at_10 >= 0.95 and result.queries == 1000
    grown = result.index
    assert (index.ntotal, grown.ntotal) == (6000, 7500)  # the old index is left as it was
    ivf_old, ivf_new = faiss.extract_index_ivf(index), faiss.extract_index_ivf(grown)
    np.testing.assert_array_equal(  # the same centroids: no training
        ivf_old.quantizer.reconstruct_n(0, 32), ivf_new.quantizer.reconstruct_n(0, 32)
    )
    every = np.vstack([old, new])
    if two_stage.is_two_stage(factory):
        flat = faiss.IndexFlatIP(DIM)
        flat.add(every)
        faiss.write_index(flat, str(tmp_path / "faiss.faiss"))
        assert target.read_bytes() == (tmp_path / "faiss.faiss").read_bytes()
    # Scores are exact inner products, and the top 10 is the exact top 10 for nearly every query.
    queries = clustered(200, 3, CENTRES)
    scores, ids = grown.search(queries, 10)
    np.testing.assert_allclose(scores, np.einsum("qkd,qd->qk", every[ids], queries), atol=1e-5)
    exact = faiss.knn(queries, every, 10, metric=faiss.METRIC_INNER_PRODUCT)[1]
    found = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact, strict=True)])
    assert found >= 0.93


def test_vectors_from_elsewhere_are_not_appended(tmp_path: Path) -> None:
    """New images from another distribution (other clusters) land in lists whose centroids were
    not fitted to them: the tuned nprobe misses their neighbours, so the append is refused."""
    old = clustered(6000, 1, CENTRES)
    elsewhere = clustered(3000, 2, np.random.default_rng(99).normal(size=(300, DIM)))
    index, params = built("IVF64,PQ16x4fs,RFlat", old)
    target = tmp_path / "appended.faiss"
    result = append(index, elsewhere, params, 0.95, target)
    assert result.index is None and result.recall_at_10 < 0.95
    assert not target.exists()


def test_only_trained_indexes_are_appended_to() -> None:
    vectors = clustered(3000, 1, CENTRES)
    assert can_append(built("IVF16,Flat", vectors)[0])
    assert can_append(built("IVF16,PQ8x4fs,RFlat", vectors)[0])
    assert not can_append(built("Flat", vectors)[0])
    assert not can_append(built("HNSW16,Flat", vectors)[0])
