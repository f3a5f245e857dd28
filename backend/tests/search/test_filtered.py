"""FilteredSearch on real FAISS indexes against a brute-force numpy oracle over the allowed ids."""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np
import pytest

from imagesearch.index import two_stage
from imagesearch.search import filtered
from imagesearch.search.filtered import FilteredSearch
from imagesearch.search.ranking import Ranker, RankOptions

N, DIM, K = 4000, 64, 10
FACTORIES = ("Flat", "HNSW32,Flat", "IVF32,Flat", "OPQ16,IVF32,PQ16x4")
TWO_STAGE = "IVF32,PQ16x4fs,RFlat"  # fast-scan codes, re-ranked from the exact vectors
EXACT_SCORES = (*FACTORIES[:3], TWO_STAGE)  # indexes whose scores are exact inner products
SHARES = (0.001, 0.01, 0.1, 0.5, 1.0)


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    rng = np.random.default_rng(0)
    means = rng.normal(size=(40, DIM))
    rows = _unit(means[rng.integers(0, 40, N)] + 0.8 * rng.normal(size=(N, DIM)))
    rows[100:105] = rows[7]  # exact duplicates: ties the oracle breaks by id
    return rows


@pytest.fixture(scope="module")
def queries(vectors: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(1)
    return _unit(vectors[rng.integers(0, N, 20)] + 0.3 * rng.normal(size=(20, DIM)) / np.sqrt(DIM))


@pytest.fixture(scope="module")
def indexes(vectors: np.ndarray) -> dict[str, Any]:
    built = {}
    for factory in FACTORIES:
        index = faiss.index_factory(DIM, factory, faiss.METRIC_INNER_PRODUCT)
        if not index.is_trained:
            index.train(vectors)
        index.add(vectors)
        built[factory] = index
    faiss.extract_index_ivf(built["OPQ16,IVF32,PQ16x4"]).nprobe = 4
    base = faiss.index_factory(DIM, two_stage.first_stage(TWO_STAGE), faiss.METRIC_INNER_PRODUCT)
    base.train(vectors)
    base.add(vectors)
    built[TWO_STAGE] = two_stage.join(base, two_stage.vectors_index(vectors))
    faiss.ParameterSpace().set_index_parameters(built[TWO_STAGE], "nprobe=4,k_factor_rf=8")
    return built


def _mask(count: int, seed: int = 0) -> np.ndarray:
    mask = np.zeros(N, dtype=bool)
    mask[np.random.default_rng(seed).choice(N, count, replace=False)] = True
    mask.flags.writeable = False
    return mask


def _oracle(rows: np.ndarray, mask: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of the allowed rows by (score desc, id asc), numpy only."""
    ids = np.flatnonzero(mask)
    scores = rows[ids] @ query
    order = np.lexsort((ids, -scores))[:k]
    return scores[order], ids[order]


def _stored(index: Any) -> np.ndarray:
    """The vectors the index scores with (the decoded codes for PQ)."""
    copy = faiss.clone_index(index)
    faiss.extract_index_ivf(copy).make_direct_map()
    return np.asarray(copy.reconstruct_n(0, N), dtype=np.float32)


def _assert_exact(
    scores: np.ndarray, ids: np.ndarray, expected: tuple[np.ndarray, np.ndarray], k: int
) -> None:
    want_scores, want_ids = expected
    real = len(want_ids)
    np.testing.assert_array_equal(ids[:real], want_ids)
    np.testing.assert_allclose(scores[:real], want_scores, rtol=0, atol=1e-5)
    assert (ids[real:] == -1).all() and np.isneginf(scores[real:]).all()
    assert len(ids) == len(scores) == k


@pytest.mark.parametrize("factory", EXACT_SCORES)
@pytest.mark.parametrize("count", [0, 1, 5, 4, 40, 400, 2000, N])
def test_exact_path_matches_the_oracle(indexes, vectors, queries, factory, count) -> None:
    searcher = FilteredSearch(indexes[factory], faiss_threads=1, exact_scan_max=N)
    mask = _mask(count)
    for query in queries[:5]:
        assert searcher.choose_path(query[None], mask, K) == "exact"
        scores, ids = searcher.search(query[None], mask, K)
        _assert_exact(scores, ids, _oracle(vectors, mask, query, K), K)


def test_pq_exact_path_is_exact_over_the_stored_codes(indexes, queries) -> None:
    index = indexes["OPQ16,IVF32,PQ16x4"]
    stored = _stored(index)
    searcher = FilteredSearch(index, faiss_threads=1)
    mask = _mask(400)
    for query in queries[:5]:
        scores, ids = searcher.search(query[None], mask, K)
        want_scores, _ = _oracle(stored, mask, query, K)
        assert mask[ids].all()
        np.testing.assert_allclose(scores, want_scores, atol=1e-4)


@pytest.mark.parametrize("factory", EXACT_SCORES[1:])
@pytest.mark.parametrize("share", SHARES)
def test_ann_path_keeps_recall(indexes, vectors, queries, factory, share, monkeypatch) -> None:
    # Force the ANN path wherever it is possible, so the raised efSearch / nprobe are what is tested.
    monkeypatch.setattr(filtered, "HNSW_STEP_COST", 0.0)
    monkeypatch.setattr(filtered, "IVF_EXACT_SHARE", float("inf"))
    searcher = FilteredSearch(indexes[factory], faiss_threads=1, exact_scan_max=0)
    mask = _mask(max(int(share * N), 2 * K))
    hits = 0
    for query in queries:
        assert searcher.choose_path(query[None], mask, K) == "ann"
        scores, ids = searcher.search(query[None], mask, K)
        assert mask[ids].all() and len(set(ids.tolist())) == K
        np.testing.assert_allclose(scores, vectors[ids] @ query, rtol=0, atol=1e-5)
        hits += len(set(ids.tolist()) & set(_oracle(vectors, mask, query, K)[1].tolist()))
    assert hits / (K * len(queries)) >= 0.95


@pytest.mark.parametrize("factory", [*FACTORIES, TWO_STAGE])
@pytest.mark.parametrize("share", SHARES)
def test_default_choice_is_exact_or_keeps_recall(indexes, vectors, queries, factory, share) -> None:
    searcher = FilteredSearch(indexes[factory], faiss_threads=1, exact_scan_max=256)
    mask = _mask(int(share * N))
    exact_scores = factory in EXACT_SCORES
    rows = vectors if exact_scores else _stored(indexes[factory])
    want, hits = min(K, int(mask.sum())), 0
    for query in queries:
        scores, ids = searcher.search(query[None], mask, K)
        expected = _oracle(rows, mask, query, K)
        assert (ids[:want] >= 0).all() and mask[ids[:want]].all() and (ids[want:] == -1).all()
        if exact_scores and searcher.choose_path(query[None], mask, K) == "exact":
            _assert_exact(scores, ids, expected, K)
        hits += len(set(ids[:want].tolist()) & set(expected[1].tolist()))
    assert hits / (want * len(queries)) >= 0.95


@pytest.mark.parametrize("factory", EXACT_SCORES)
def test_ties_are_broken_by_id_at_the_cut(indexes, vectors, factory) -> None:
    searcher = FilteredSearch(indexes[factory], faiss_threads=1, exact_scan_max=N)
    mask = np.ones(N, dtype=bool)
    mask[[7, 101]] = False  # of the six copies, 100, 102, 103, 104 remain
    mask.flags.writeable = False
    scores, ids = searcher.search(vectors[7][None], mask, 3)
    np.testing.assert_array_equal(ids, [100, 102, 103])
    assert scores[0] == scores[1] == scores[2]


def test_k_larger_than_the_allowed_count_pads(indexes, vectors, queries) -> None:
    searcher = FilteredSearch(indexes["HNSW32,Flat"], faiss_threads=1)
    mask = _mask(7)
    scores, ids = searcher.search(queries[0][None], mask, 50)
    _assert_exact(scores, ids, _oracle(vectors, mask, queries[0], 50), 50)
    scores, ids = searcher.search(queries[0][None], _mask(0), 5)
    assert (ids == -1).all() and np.isneginf(scores).all()


def test_repeated_calls_with_one_mask_prepare_it_once(indexes, queries, monkeypatch) -> None:
    prepared = []
    original = filtered._prepare
    monkeypatch.setattr(filtered, "_prepare", lambda allowed: prepared.append(1) or original(allowed))
    searcher = FilteredSearch(indexes["IVF32,Flat"], faiss_threads=1)
    mask = _mask(2000)
    first = [searcher.search(queries[0][None], mask, k) for k in (10, 20, 40)]
    again = [searcher.search(queries[0][None], mask, k) for k in (10, 20, 40)]
    assert len(prepared) == 1
    for (s1, i1), (s2, i2) in zip(first, again, strict=True):
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_array_equal(s1, s2)
    writeable = np.asarray(mask).copy()  # may change between calls: never cached
    searcher.search(queries[0][None], writeable, 10)
    searcher.search(queries[0][None], writeable, 10)
    assert len(prepared) == 3


def test_cache_is_bounded(indexes, queries) -> None:
    searcher = FilteredSearch(indexes["Flat"], faiss_threads=1)
    for seed in range(filtered.CACHE_SIZE + 3):
        searcher.search(queries[0][None], _mask(30, seed), K)
    assert len(searcher._masks) == filtered.CACHE_SIZE


@pytest.mark.parametrize(
    "bad", [np.ones(N - 1, dtype=bool), np.ones(N + 1, dtype=bool), np.ones(N, dtype=np.uint8)]
)
def test_a_mask_of_the_wrong_shape_or_type_raises(indexes, queries, bad) -> None:
    searcher = FilteredSearch(indexes["Flat"], faiss_threads=1)
    with pytest.raises(ValueError, match="allowed"):
        searcher.search(queries[0][None], bad, K)


def test_the_ranker_pages_a_filter_in_the_oracle_order(indexes, vectors, queries) -> None:
    searcher = FilteredSearch(indexes["HNSW32,Flat"], faiss_threads=1)
    mask = _mask(300)
    ranker = Ranker(ntotal=int(mask.sum()), vectors=lambda ids: vectors[ids], threshold=0.99)
    page = ranker.rank(lambda k: searcher.search(queries[0][None], mask, k), RankOptions(top_k=20, offset=20))
    _, want = _oracle(vectors, mask, queries[0], 40)
    assert [item.id for item in page.items] == want[20:40].tolist()
    assert page.has_more


def test_two_stage_filtered_top_k_equals_the_exact_filtered_top_k(indexes, vectors, queries) -> None:
    # The exact path scans the full vectors: the oracle's answer, ids and scores.
    searcher = FilteredSearch(indexes[TWO_STAGE], faiss_threads=1, exact_scan_max=N)
    for count in (50, 400, 2000, N):
        mask = _mask(count, seed=count)
        for query in queries:
            scores, ids = searcher.search(query[None], mask, K)
            want_scores, want_ids = _oracle(vectors, mask, query, K)
            np.testing.assert_array_equal(ids, want_ids)
            np.testing.assert_allclose(scores, want_scores, rtol=0, atol=1e-6)


def test_two_stage_ann_path_scores_are_exact_and_mostly_the_exact_top_k(
    indexes, vectors, queries, monkeypatch
) -> None:
    # The ANN path re-ranks the filtered candidates exactly: its scores always are the true inner
    # products, and its top-k is the oracle's whenever the candidates hold it (most queries here).
    monkeypatch.setattr(filtered, "IVF_EXACT_SHARE", float("inf"))
    searcher = FilteredSearch(indexes[TWO_STAGE], faiss_threads=1, exact_scan_max=0)
    same = total = 0
    for count in (400, 2000, N):
        mask = _mask(count, seed=count)
        for query in queries:
            assert searcher.choose_path(query[None], mask, K) == "ann"
            scores, ids = searcher.search(query[None], mask, K)
            np.testing.assert_allclose(scores, vectors[ids] @ query, rtol=0, atol=1e-6)
            same += int(np.array_equal(ids, _oracle(vectors, mask, query, K)[1]))
            total += 1
    assert same / total >= 0.9
