"""The adaptive relevance cutoff (``cutoff=auto``): keep the results before the score curve's cliff.

After Weaviate's *autocut*: a query's relevant results tend to sit above a visible drop in the
sorted scores, and where that drop lies differs per query, so no fixed ``min_score`` fits all.
CLIP scores also live on different scales per query kind (text -> image about 0.15-0.35 with
small spreads, image -> image about 0.5-1.0), so the rule uses only the query's own curve:

1. ``gaps[i] = scores[i] - scores[i + 1]`` over the candidate window (sorted descending), and
   ``span = scores[0] - scores[-1]``.
2. The cliff is the largest gap (the first one, where several are equally large, i.e. within
   0.01% of the span of each other).
3. It counts as a clear drop only when both hold:

   - ``gap >= min_ratio * median(other gaps)``: clearly larger than the curve's typical step
     (a straight or evenly noisy curve has none), and
   - ``gap >= min_share * span``: a real share of the window's whole spread (on a long noisy
     window the largest of many small gaps is several times the median, yet still tiny).

   Both tests are ratios of score differences, so they do not change when the scores are
   shifted or scaled: the same curve cuts at the same place on either CLIP scale.
4. With a clear drop keep the results before it, else keep the whole window. A window of one
   or two results, or one whose scores are all equal, has no typical gap to compare with and is
   kept whole.

Defaults: ``min_ratio=3``, ``min_share=0.15``. They keep straight and evenly noisy windows whole
and cut constructed cliffs (tests/search/test_autocut.py); 0.15 rather than 0.2 because on
overlapping synthetic classes (clusters of 32-d vectors, image -> image) 0.2 left too many
windows whole. They were not tuned on real CLIP scores: ``evaluate.py --labels ... --cutoff``
measures them against fixed thresholds on an index.

The answer depends on the window the caller passes: a longer one widens the span (the share
test gets stricter) and adds tail gaps to the median (the ratio test gets easier).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DEFAULT_MIN_RATIO = 3.0
DEFAULT_MIN_SHARE = 0.15
_TIE = 1e-4  # share of the span under which two gaps are the same size


def auto_cutoff(
    scores: npt.NDArray[np.float32],
    *,
    min_ratio: float = DEFAULT_MIN_RATIO,
    min_share: float = DEFAULT_MIN_SHARE,
) -> int:
    """How many of the leading results to keep: ``scores`` (n,) float, best first (descending).

    Returns an int in ``[1, n]`` (0 only for an empty window); see the module docstring for the
    rule and its two parameters. ValueError for scores that are not 1-d, finite and descending.
    """
    curve = np.asarray(scores, dtype=np.float64)
    _check_curve(curve)
    n = len(curve)
    if n <= 2:
        return n
    gaps = curve[:-1] - curve[1:]
    span = float(curve[0] - curve[-1])
    if span <= 0.0:
        return n
    # Gaps within float32 rounding of the largest count as equal to it: the first of them cuts.
    cliff = int(np.argmax(gaps >= gaps.max() - _TIE * span))
    gap = float(gaps[cliff])
    typical = float(np.median(np.delete(gaps, cliff)))
    if gap < min_share * span or gap < min_ratio * typical:
        return n
    return cliff + 1


def _check_curve(curve: npt.NDArray[np.float64]) -> None:
    if curve.ndim != 1:
        raise ValueError(f"scores must be 1-d, got shape {curve.shape}")
    if not np.isfinite(curve).all():
        raise ValueError("scores must be finite")
    if len(curve) > 1 and bool((np.diff(curve) > 0).any()):
        raise ValueError("scores must be sorted best first (descending)")
