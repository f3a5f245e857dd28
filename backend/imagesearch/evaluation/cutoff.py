"""How well ``cutoff=auto`` (search/autocut.py) picks the relevant results, against fixed cutoffs.

Each query brings its candidate window (scores best first, ids) and the set of ids relevant to
it. A cutoff keeps a prefix of the window; the kept set scores precision, recall (against every
relevant id, so a window smaller than the class caps recall equally for all cutoffs) and F1,
each averaged over queries (an empty kept set scores 0 on all three). Compared:

- ``window``: keep the whole window (no cutoff; the recall ceiling);
- ``auto``: ``auto_cutoff`` of the window's scores;
- ``min_score>=t``: a fixed threshold, for a sweep of ``t`` over quantiles of the pooled scores;
- ``best fixed``: the sweep's threshold with the highest mean F1. It is chosen on the very
  queries it is scored on, so it is an optimistic bound that favours the fixed cutoff; auto
  has no such help (its parameters are the defaults).

Over an index (``measure_cutoffs``), with class labels: text -> image queries, one per label
(the label's text, ``_`` as spaces; relevant: the images with that label), and image -> image
queries, each labelled image's stored vector (itself left out; relevant: the other images with
its label). Text and image scores live on different scales, so each kind has its own sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imagesearch.encoders.protocol import Encoder
from imagesearch.evaluation.groundtruth import GroundTruth, source_key
from imagesearch.evaluation.retrieval import reconstruct_vectors, spread
from imagesearch.index.store import IndexBundle
from imagesearch.search.autocut import auto_cutoff

Cut = Callable[[npt.NDArray[np.float32]], int]


@dataclass(frozen=True)
class CutoffQuery:
    scores: npt.NDArray[np.float32]  # (k,) best first
    ids: npt.NDArray[np.int64]  # (k,)
    relevant: frozenset[int]  # never empty


@dataclass(frozen=True)
class CutoffScore:
    """One cutoff's means over the queries; ``threshold`` for fixed ones (None: window, auto)."""

    name: str
    precision: float
    recall: float
    f1: float
    kept: float  # mean results kept per query
    queries: int
    threshold: float | None = None


@dataclass(frozen=True)
class CutoffOptions:
    window: int = 100  # candidates per query, the window auto cuts
    thresholds: int = 11  # fixed thresholds swept: the 0%, 10%, ..., 100% quantiles of the scores
    max_queries: int = 1000  # image -> image queries, spread evenly over the labelled images


def kept_quality(kept: Sequence[int], relevant: frozenset[int]) -> tuple[float, float, float]:
    """(precision, recall, F1) of the ids ``kept`` against the non-empty ``relevant``."""
    if not relevant:
        raise ValueError("a query needs at least one relevant id")
    hits = len(relevant.intersection(kept))
    if hits == 0:
        return 0.0, 0.0, 0.0
    precision, recall = hits / len(kept), hits / len(relevant)
    return precision, recall, 2 * precision * recall / (precision + recall)


def compare_cutoffs(
    queries: Sequence[CutoffQuery], thresholds: Sequence[float] | None = None, cut: Cut = auto_cutoff
) -> list[CutoffScore]:
    """Rows: window, auto (``cut``), best fixed, then each fixed ``min_score`` threshold.

    ``thresholds`` default to 11 quantiles of all the windows' scores (see ``sweep``)."""
    if not queries:
        raise ValueError("no queries to score")
    sweep_at = list(thresholds) if thresholds is not None else sweep(queries, 11)
    window = _score("window", queries, [len(q.ids) for q in queries])
    auto = _score("auto", queries, [cut(q.scores) for q in queries])
    fixed = [
        _score(f"min_score>={t:.4f}", queries, [int(np.count_nonzero(q.scores >= t)) for q in queries], t)
        for t in sweep_at
    ]
    rows = [window, auto]
    if fixed:
        best = max(fixed, key=lambda row: row.f1)  # the first of equals: the lowest threshold
        rows.append(_renamed(best, f"best fixed (min_score>={best.threshold:.4f}, tuned on these queries)"))
    return rows + fixed


def sweep(queries: Sequence[CutoffQuery], count: int) -> list[float]:
    """``count`` thresholds: evenly spaced quantiles (0% .. 100%) of every window's scores."""
    pooled = np.concatenate([q.scores for q in queries]).astype(np.float64)
    if count < 1 or not len(pooled):
        return []
    return sorted({float(t) for t in np.quantile(pooled, np.linspace(0, 1, count))})


def _score(
    name: str, queries: Sequence[CutoffQuery], keep: Sequence[int], threshold: float | None = None
) -> CutoffScore:
    quality = np.array(
        [kept_quality(q.ids[:n].tolist(), q.relevant) for q, n in zip(queries, keep, strict=True)]
    )
    precision, recall, f1 = quality.mean(axis=0)
    return CutoffScore(
        name, float(precision), float(recall), float(f1), float(np.mean(keep)), len(queries), threshold
    )


def _renamed(row: CutoffScore, name: str) -> CutoffScore:
    return CutoffScore(name, row.precision, row.recall, row.f1, row.kept, row.queries, row.threshold)


# --- queries from a labelled index --------------------------------------------------------------


def measure_cutoffs(
    bundle: IndexBundle, truth: GroundTruth, options: CutoffOptions, encoder: Encoder | None
) -> dict[str, list[CutoffScore]]:
    """``{"text->image": rows, "image->image": rows}`` (see ``compare_cutoffs``) from ``truth``'s
    labels; text queries need ``encoder`` (left out without one), a kind without queries too."""
    members = _members_by_label(bundle, truth)
    results: dict[str, list[CutoffScore]] = {}
    if encoder is not None and members:
        text = _text_queries(bundle, members, options, encoder)
        results["text->image"] = compare_cutoffs(text, sweep(text, options.thresholds))
    image = _image_queries(bundle, members, options)
    if image:
        results["image->image"] = compare_cutoffs(image, sweep(image, options.thresholds))
    return results


def _members_by_label(bundle: IndexBundle, truth: GroundTruth) -> dict[str, frozenset[int]]:
    members: dict[str, set[int]] = {}
    for position, url in enumerate(bundle.urls):
        label = truth.labels.get(source_key(url))
        if label is not None:
            members.setdefault(label, set()).add(position)
    return {label: frozenset(ids) for label, ids in sorted(members.items())}


def _text_queries(
    bundle: IndexBundle, members: dict[str, frozenset[int]], options: CutoffOptions, encoder: Encoder
) -> list[CutoffQuery]:
    texts = encoder.encode_texts([label.replace("_", " ") for label in members])
    scores, ids = bundle.index.search(np.ascontiguousarray(texts, dtype=np.float32), _depth(bundle, options))
    return [_query(s, i, relevant) for s, i, relevant in zip(scores, ids, members.values(), strict=True)]


def _image_queries(
    bundle: IndexBundle, members: dict[str, frozenset[int]], options: CutoffOptions
) -> list[CutoffQuery]:
    members_of = {i: ids for ids in members.values() if len(ids) > 1 for i in ids}
    query_ids = spread(sorted(members_of), options.max_queries)
    if not query_ids:
        return []
    vectors = reconstruct_vectors(bundle.index)[query_ids]
    scores, ids = bundle.index.search(vectors, min(_depth(bundle, options) + 1, bundle.index.ntotal))
    queries = []
    for query_id, row_scores, row_ids in zip(query_ids, scores, ids, strict=True):
        others = row_ids != query_id
        window = slice(0, options.window)
        relevant = members_of[query_id] - {query_id}
        queries.append(_query(row_scores[others][window], row_ids[others][window], relevant))
    return queries


def _query(scores: np.ndarray, ids: np.ndarray, relevant: frozenset[int]) -> CutoffQuery:
    found = ids >= 0  # FAISS pads with -1 when it finds fewer than asked
    return CutoffQuery(scores[found].astype(np.float32), ids[found].astype(np.int64), relevant)


def _depth(bundle: IndexBundle, options: CutoffOptions) -> int:
    return int(min(options.window, bundle.index.ntotal))


def format_cutoff_table(results: dict[str, list[CutoffScore]]) -> str:
    """The comparison as aligned plain-text tables, one per query kind."""
    lines: list[str] = []
    for kind, rows in results.items():
        width = max(len(row.name) for row in rows)
        lines += [
            "",
            f"cutoff, {kind} ({rows[0].queries} queries)",
            f"{'cutoff':<{width}}  {'prec':>6}  {'recall':>6}  {'F1':>6}  {'kept':>6}",
            f"{'-' * width}  {'-' * 6}  {'-' * 6}  {'-' * 6}  {'-' * 6}",
        ]
        lines += [
            f"{r.name:<{width}}  {r.precision:>6.3f}  {r.recall:>6.3f}  {r.f1:>6.3f}  {r.kept:>6.1f}"
            for r in rows
        ]
    return "\n".join(lines)
