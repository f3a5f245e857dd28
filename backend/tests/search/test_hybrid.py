"""Hybrid ranking: BM25 over captions and weighted reciprocal-rank fusion, against hand-computed values."""

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

from imagesearch.search.lexical import CaptionIndex, fold_plural, rrf_fuse

# BM25 (Lucene variant, k1 = 1.5, b = 0.75) worked by hand for the corpus below. After stop
# words the documents are [red, apple], [green, apple, tree], [], [dog]: N = 4, average length
# 6 / 4 = 1.5, and "apple" occurs in 2 of them, so idf = ln(1 + (4 - 2 + 0.5) / (2 + 0.5)) = ln 2.
# Document 0 (length 2): tf part = 1 / (1 + 1.5 * (0.25 + 0.75 * 2 / 1.5)) = 1 / 2.875.
# Document 1 (length 3): tf part = 1 / (1 + 1.5 * (0.25 + 0.75 * 3 / 1.5)) = 1 / 3.625.
CAPTIONS = ["Red apple.", "Green apple tree", "", "A dog"]
APPLE_0 = math.log(2) / 2.875  # 0.24110
APPLE_1 = math.log(2) / 3.625  # 0.19121


def test_bm25_scores_match_the_formula_best_first() -> None:
    hits = CaptionIndex(CAPTIONS).search("apple", 10)
    assert [i for i, _ in hits] == [0, 1]
    assert [score for _, score in hits] == pytest.approx([APPLE_0, APPLE_1], rel=1e-5)


def test_case_punctuation_and_plurals_do_not_matter() -> None:
    index = CaptionIndex(CAPTIONS)
    assert index.search("APPLES!", 10) == index.search("apple", 10)
    assert [i for i, _ in index.search("dogs", 10)] == [3]


def test_empty_captions_and_unknown_words_never_match() -> None:
    index = CaptionIndex(CAPTIONS)
    assert index.search("zebra", 10) == []
    assert index.search("", 10) == []
    assert index.search("the a of", 10) == []  # stop words only
    assert all(i != 2 for i, _ in index.search("red green apple tree dog", 10))
    assert CaptionIndex(["", "  "]).search("apple", 5) == []
    assert CaptionIndex([]).search("apple", 5) == []


def test_k_limits_and_equal_scores_keep_id_order() -> None:
    index = CaptionIndex(["a cat", "a dog", "a cat", "a cat", "a bird"])
    hits = index.search("cat", 2)
    assert [i for i, _ in hits] == [0, 2]
    assert hits[0][1] == hits[1][1] > 0
    assert index.search("cat", 0) == []


def test_fold_plural() -> None:
    words = ["apples", "berries", "glasses", "cities", "dress", "bus", "his", "cat"]
    assert [fold_plural(w) for w in words] == [
        "apple",
        "berry",
        "glass",
        "city",
        "dress",
        "bus",
        "his",
        "cat",
    ]


def test_rrf_equal_weights() -> None:
    # dense ranks: 3 -> 1, 1 -> 2, 2 -> 3; sparse ranks: 2 -> 1, 5 -> 2; k0 = 60, weight 0.5.
    fused = rrf_fuse([3, 1, 2], [2, 5], weight=0.5)
    expected = [
        (2, 0.5 / 63 + 0.5 / 61),  # 0.016133: in both lists
        (3, 0.5 / 61),  # 0.008197
        (1, 0.5 / 62),  # 0.008065, tied with 5: 1 has a dense rank, 5 has none
        (5, 0.5 / 62),
    ]
    assert [i for i, _ in fused] == [i for i, _ in expected]
    assert [s for _, s in fused] == pytest.approx([s for _, s in expected], abs=1e-12)


def test_rrf_weighted_tie_is_broken_by_dense_rank() -> None:
    # k0 = 1, weight 0.25: id 10 gets 0.75 / 2 = 0.375; id 20 gets 0.75 / 3 + 0.25 / 2 = 0.375 too;
    # id 30 gets 0.25 / 3. The tie between 10 and 20 goes to the better dense rank (10).
    fused = rrf_fuse([10, 20], [20, 30], weight=0.25, k0=1)
    assert fused == [(10, 0.375), (20, 0.375), (30, pytest.approx(0.25 / 3))]
    # Swapping the weight flips the winner: 20 = 0.25 / 3 + 0.75 / 2, 10 = 0.25 / 2.
    assert [i for i, _ in rrf_fuse([10, 20], [20, 30], weight=0.75, k0=1)] == [20, 30, 10]


def test_rrf_extreme_weights_keep_one_ranking_first() -> None:
    assert rrf_fuse([4, 2, 9], [9, 7], weight=0.0) == [
        (4, 1 / 61),
        (2, 1 / 62),
        (9, 1 / 63),
        (7, 0.0),
    ]
    assert [i for i, _ in rrf_fuse([4, 2, 9], [9, 7], weight=1.0)] == [9, 7, 4, 2]


def test_rrf_edge_cases() -> None:
    assert rrf_fuse([], [], weight=0.5) == []
    # A repeated id keeps its first position; ranks are positions in the list given.
    assert rrf_fuse([1, 1, 2], [], weight=0.0) == [(1, 1 / 61), (2, 1 / 63)]
    with pytest.raises(ValueError, match="weight"):
        rrf_fuse([1], [1], weight=1.5)


def load_hybrid_eval() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "bench" / "hybrid_eval.py"
    spec = importlib.util.spec_from_file_location("hybrid_eval", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_evaluation_never_queries_with_a_relevant_images_own_caption() -> None:
    bench = load_hybrid_eval()
    captions = ["A frog.", "A frog.", "A toad.", "A red apple.", "", "A pear."]
    labels = ["amphibians", "amphibians", "amphibians", "fruit", "fruit", "fruit"]
    queries = {q.text: q for q in bench.caption_queries(captions, labels)}
    frog = queries["A frog."]  # image 0 and its variant 1 share the caption: both are excluded
    assert frog.relevant == {2} and frog.excluded == {0, 1}
    assert queries["A red apple."].relevant == {4, 5} and queries["A red apple."].excluded == {3}
    for query in queries.values():
        assert all(captions[i] != query.text for i in query.relevant)
    label_queries = bench.label_queries(labels)
    assert [(q.text, set(q.relevant)) for q in label_queries] == [
        ("a photo of amphibians", {0, 1, 2}),
        ("a photo of fruit", {3, 4, 5}),
    ]
    # Hand-checked metrics: first relevant at ranks 1 and 3 -> MRR (1 + 1/3) / 2.
    metrics = bench.score([[2, 9], [7, 8, 5]], [frog, queries["A red apple."]])
    assert metrics["R@1"] == 0.5 and metrics["R@5"] == 1.0
    assert metrics["MRR"] == pytest.approx((1 + 1 / 3) / 2)
