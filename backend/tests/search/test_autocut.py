"""autocut: constructed score curves on both CLIP scales (text -> image ~0.2-0.35, image -> image ~0.5-1)."""

from __future__ import annotations

import numpy as np
import pytest

from imagesearch.search.autocut import auto_cutoff


def curve(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def on_scale(unit: np.ndarray, low: float, high: float) -> np.ndarray:
    """A unit curve (1 best .. 0) mapped onto [low, high]."""
    return (low + unit * (high - low)).astype(np.float32)


def plateau_cliff(sizes: list[int], levels: list[float], noise: float = 0.005, seed: int = 0) -> np.ndarray:
    """Plateaus of ``sizes`` results at ``levels`` (unit scale), each gently falling, best first."""
    rng = np.random.default_rng(seed)
    parts = [level - np.sort(rng.uniform(0, noise, size)) for size, level in zip(sizes, levels, strict=True)]
    return np.concatenate(parts)


SCALES = [(0.18, 0.34), (0.55, 0.98)]  # text -> image, image -> image


@pytest.mark.parametrize(("low", "high"), SCALES)
def test_a_clear_cliff_keeps_the_results_above_it(low: float, high: float) -> None:
    unit = plateau_cliff([7, 40], [1.0, 0.4], noise=0.1)
    assert auto_cutoff(on_scale(unit, low, high)) == 7


@pytest.mark.parametrize(("low", "high"), SCALES)
def test_the_cut_is_the_same_on_both_scales_and_under_shifts(low: float, high: float) -> None:
    unit = plateau_cliff([5, 10, 30], [1.0, 0.7, 0.2], noise=0.08, seed=3)
    expected = auto_cutoff(unit.astype(np.float32))
    assert auto_cutoff(on_scale(unit, low, high)) == expected
    assert auto_cutoff(on_scale(unit, low - 0.1, high - 0.1)) == expected


def test_of_two_cliffs_the_larger_one_cuts() -> None:
    first_larger = plateau_cliff([4, 6, 30], [1.0, 0.5, 0.3])
    second_larger = plateau_cliff([4, 6, 30], [1.0, 0.8, 0.3])
    assert auto_cutoff(first_larger) == 4
    assert auto_cutoff(second_larger) == 10


def test_of_two_equal_cliffs_the_first_cuts() -> None:
    assert auto_cutoff(curve(0.9, 0.9, 0.6, 0.6, 0.3, 0.3)) == 2


@pytest.mark.parametrize(("low", "high"), SCALES)
def test_a_straight_curve_is_kept_whole(low: float, high: float) -> None:
    unit = np.linspace(1.0, 0.0, 50)
    assert auto_cutoff(on_scale(unit, low, high)) == 50


def test_an_evenly_noisy_curve_is_kept_whole() -> None:
    # 200 uniform scores: the largest gap is several times the median, but a tiny share of the span.
    rng = np.random.default_rng(7)
    scores = np.sort(rng.uniform(0.2, 0.3, 200))[::-1].astype(np.float32)
    assert auto_cutoff(scores) == 200


def test_a_gentle_bend_is_not_a_cliff() -> None:
    # A convex curve (steeper at the top, as CLIP tails are): the first gap is largest but only
    # about twice the median, under min_ratio.
    unit = (1.0 - np.linspace(0, 1, 30)) ** 1.5
    assert auto_cutoff(unit.astype(np.float32)) == 30


def test_a_lone_top_result_far_above_the_rest_is_kept_alone() -> None:
    # An exact duplicate of the query image (score ~1) ahead of merely similar ones.
    assert auto_cutoff(curve(0.99, 0.71, 0.70, 0.69, 0.69, 0.68, 0.66)) == 1


def test_tiny_windows_are_kept_whole() -> None:
    assert auto_cutoff(curve()) == 0
    assert auto_cutoff(curve(0.3)) == 1
    assert auto_cutoff(curve(0.9, 0.2)) == 2
    assert auto_cutoff(curve(0.9, 0.89, 0.2)) == 2


def test_ties() -> None:
    assert auto_cutoff(curve(0.5, 0.5, 0.5, 0.5)) == 4  # no spread at all
    assert auto_cutoff(curve(0.9, 0.9, 0.9, 0.5, 0.5)) == 3  # plateaus: median gap 0
    assert auto_cutoff(curve(0.31, 0.31, 0.25, 0.25, 0.25, 0.25)) == 2


def test_parameters_move_the_decision() -> None:
    scores = curve(0.9, 0.88, 0.86, 0.80, 0.78, 0.76, 0.74)  # gap 0.06 = 3 x median 0.02, 37% of span
    assert auto_cutoff(scores) == 3
    assert auto_cutoff(scores, min_ratio=4.0) == 7
    assert auto_cutoff(scores, min_share=0.5) == 7


def test_the_result_is_between_one_and_the_window() -> None:
    rng = np.random.default_rng(1)
    for size in range(1, 40):
        scores = np.sort(rng.uniform(0, 1, size))[::-1].astype(np.float32)
        assert 1 <= auto_cutoff(scores) <= size


@pytest.mark.parametrize(
    "scores", [np.array([0.1, 0.2], dtype=np.float32), np.array([[0.3]]), np.array([0.3, np.nan])]
)
def test_bad_curves_are_refused(scores: np.ndarray) -> None:
    with pytest.raises(ValueError, match="scores"):
        auto_cutoff(scores)
