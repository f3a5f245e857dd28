"""IndexSearch through a two-stage index: exact scores, and the tuned candidate pool at small k."""

from __future__ import annotations

import faiss
import numpy as np

from imagesearch.index import two_stage
from imagesearch.search.index_search import IndexSearch


def test_a_top_1_search_re_ranks_as_many_candidates_as_the_tuning_measured() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 32))
    vectors = centres[rng.integers(0, 20, 4000)] + 0.6 * rng.normal(size=(4000, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    base = faiss.index_factory(32, "IVF16,PQ8x4fs", faiss.METRIC_INNER_PRODUCT)  # 4-byte codes
    base.train(vectors)
    base.add(vectors)
    index = two_stage.join(base, two_stage.vectors_index(vectors))
    faiss.ParameterSpace().set_index_parameters(index, "nprobe=16,k_factor_rf=8")
    searcher = IndexSearch(index, faiss_threads=1)
    results = searcher.search(vectors[:200], 1)
    found = np.array([ids[0] for _, ids in results])
    scores = np.array([s[0] for s, _ in results])
    np.testing.assert_allclose(scores, np.einsum("qd,qd->q", vectors[found], vectors[:200]), atol=1e-6)
    # Vectors find themselves: 80 candidates (10 * R) hold them where a bare top-1 search's 8 miss.
    _, bare = index.search(vectors[:200], 1)
    pooled, alone = (found == np.arange(200)).mean(), (bare[:, 0] == np.arange(200)).mean()
    assert pooled >= 0.95 > alone
