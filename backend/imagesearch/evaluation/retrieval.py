"""Retrieval quality: score a built index against ground truth.

Three measurements, each run when its input is there:

- text -> image, from a captions file (CSV with an image and a caption column): every caption is
  a query whose one relevant answer is its image; Recall@k and mean reciprocal rank.
- image -> image, from class labels (a folder per class, or a label column): every labelled image
  queries with its own stored vector; precision@k over the k nearest *other* images.
- ANN vs exact: recall@k of the configured index against exact inner-product search over the
  same vectors, reconstructed from the index (1.0 for the exact ``IndexFlatIP``).

Ground-truth images are matched to the index's stored source strings after resolving relative
paths against the ground-truth file's folder, exactly as ``sources.py`` does when indexing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import faiss
import numpy as np
import numpy.typing as npt

from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import SourceError
from imagesearch.evaluation.groundtruth import GroundTruth, source_key
from imagesearch.index.store import IndexBundle, build_flat_index
from imagesearch.vectors import FloatArray

logger = logging.getLogger(__name__)

T = TypeVar("T")
IdArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class EvalOptions:
    ks: tuple[int, ...] = (1, 5, 10)
    max_queries: int = 1000  # per measurement, spread evenly over the candidates
    depth: int = 100  # ranks searched per text query; a caption whose image is deeper scores 0


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    queries: int


@dataclass
class EvaluationReport:
    index_type: str
    count: int
    encoder_id: str
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- metric functions: plain lists in, floats out ---------------------------------------------


def first_relevant_rank(ranked: Sequence[int], relevant: Collection[int]) -> int | None:
    """1-based position of the first relevant id in ``ranked``; None when none is there."""
    for position, item in enumerate(ranked, start=1):
        if item in relevant:
            return position
    return None


def recall_at_k(ranks: Sequence[int | None], k: int) -> float:
    """Share of queries whose relevant item is within the top ``k`` (None: not retrieved)."""
    _require(ranks)
    return sum(1 for rank in ranks if rank is not None and rank <= k) / len(ranks)


def mean_reciprocal_rank(ranks: Sequence[int | None]) -> float:
    """Mean of 1/rank; a query whose relevant item was not retrieved contributes 0."""
    _require(ranks)
    return sum(1.0 / rank for rank in ranks if rank is not None) / len(ranks)


def precision_at_k(ranked_labels: Sequence[str | None], label: str, k: int) -> float:
    """Share of the first ``k`` results (query itself excluded) that carry ``label``."""
    return sum(1 for other in ranked_labels[:k] if other == label) / k


def overlap_at_k(approximate: Sequence[int], exact: Sequence[int], k: int) -> float:
    """Recall of an ANN result: share of the exact top ``k`` that the approximate top ``k`` found."""
    truth = {item for item in exact[:k] if item >= 0}
    if not truth:
        raise ValueError("the exact result is empty")
    return len(truth.intersection(approximate[:k])) / len(truth)


def _require(ranks: Sequence[int | None]) -> None:
    if len(ranks) == 0:
        raise ValueError("no queries to score")


# --- measurements over an index ---------------------------------------------------------------


def evaluate(
    bundle: IndexBundle, truth: GroundTruth, options: EvalOptions, encoder: Encoder | None
) -> EvaluationReport:
    """Run every measurement that ``truth`` allows; ``encoder`` is needed only for captions."""
    report = EvaluationReport(
        index_type=bundle.manifest.index_type,
        count=bundle.index.ntotal,
        encoder_id=bundle.manifest.encoder_id,
    )
    ids_by_key: dict[str, list[int]] = {}
    for position, url in enumerate(bundle.urls):
        ids_by_key.setdefault(source_key(url), []).append(position)
    vectors = reconstruct_vectors(bundle.index)
    text_vectors: FloatArray | None = None
    if truth.captions:
        if encoder is None:
            raise ValueError("captions need an encoder")
        text_vectors = _score_captions(bundle, truth, ids_by_key, options, encoder, report)
    if truth.labels:
        _score_labels(bundle, vectors, truth, ids_by_key, options, report)
    _score_ann(
        bundle, vectors, vectors[spread(range(len(vectors)), options.max_queries)], "image", options, report
    )
    if text_vectors is not None:
        _score_ann(bundle, vectors, text_vectors, "text", options, report)
    return report


def _score_captions(
    bundle: IndexBundle,
    truth: GroundTruth,
    ids_by_key: dict[str, list[int]],
    options: EvalOptions,
    encoder: Encoder,
    report: EvaluationReport,
) -> FloatArray:
    matched = [(caption, ids_by_key[key]) for key, caption in truth.captions if key in ids_by_key]
    report.notes.append(f"captions: {len(matched)} of {len(truth.captions)} rows match an indexed image")
    if not matched:
        raise SourceError(_no_match("caption", truth.captions[0][0], bundle.urls[0]))
    queries = spread(matched, options.max_queries)
    texts = encoder.encode_texts([caption for caption, _ in queries])
    depth = min(options.depth, bundle.index.ntotal)
    _, found = bundle.index.search(texts, depth)
    ranks = [first_relevant_rank(row.tolist(), ids) for row, (_, ids) in zip(found, queries, strict=True)]
    for k in options.ks:
        report.metrics.append(Metric(f"text->image Recall@{k}", recall_at_k(ranks, k), len(ranks)))
    name = "text->image MRR" if depth == bundle.index.ntotal else f"text->image MRR@{depth}"
    report.metrics.append(Metric(name, mean_reciprocal_rank(ranks), len(ranks)))
    return texts


def _score_labels(
    bundle: IndexBundle,
    vectors: FloatArray,
    truth: GroundTruth,
    ids_by_key: dict[str, list[int]],
    options: EvalOptions,
    report: EvaluationReport,
) -> None:
    label_of = {i: truth.labels[key] for key, ids in ids_by_key.items() if key in truth.labels for i in ids}
    sizes: dict[str, int] = {}
    for label in label_of.values():
        sizes[label] = sizes.get(label, 0) + 1
    # A query whose class has no other indexed member cannot score; leave it out.
    candidates = sorted(i for i, label in label_of.items() if sizes[label] > 1)
    report.notes.append(
        f"labels: {len(label_of)} indexed images labelled, {len(sizes)} classes, "
        f"{len(candidates)} usable as queries"
    )
    if not label_of:
        raise SourceError(_no_match("labelled", next(iter(truth.labels)), bundle.urls[0]))
    if not candidates:
        return
    query_ids = spread(candidates, options.max_queries)
    k_max = max(options.ks)
    _, found = bundle.index.search(vectors[query_ids], min(k_max + 1, bundle.index.ntotal))
    for k in options.ks:
        scores = [
            precision_at_k([label_of.get(j) for j in row.tolist() if j != qid and j >= 0], label_of[qid], k)
            for qid, row in zip(query_ids, found, strict=True)
        ]
        report.metrics.append(Metric(f"image->image Precision@{k}", float(np.mean(scores)), len(scores)))


def _score_ann(
    bundle: IndexBundle,
    vectors: FloatArray,
    queries: FloatArray,
    kind: str,
    options: EvalOptions,
    report: EvaluationReport,
) -> None:
    k = min(max(options.ks), bundle.index.ntotal)
    query_matrix = np.ascontiguousarray(queries, dtype=np.float32)
    _, approximate = bundle.index.search(query_matrix, k)
    _, exact = build_flat_index(vectors).search(query_matrix, k)
    overlaps = [overlap_at_k(a.tolist(), e.tolist(), k) for a, e in zip(approximate, exact, strict=True)]
    report.metrics.append(
        Metric(f"ANN Recall@{k} vs exact ({kind} queries)", float(np.mean(overlaps)), len(overlaps))
    )


def _no_match(what: str, example: str, indexed: str) -> str:
    return (
        f"no {what} image is in the index (ground truth names e.g. {example}; the index holds e.g. "
        f"{indexed}); relative paths are read against the ground-truth file's folder"
    )


def reconstruct_vectors(index: Any) -> FloatArray:
    """All stored vectors of a FAISS index -> (ntotal, d) float32 (lossy for PQ-coded indexes)."""
    try:
        vectors = index.reconstruct_n(0, index.ntotal)
    except RuntimeError:
        # IVF indexes reconstruct only once they keep a direct id -> list map.
        faiss.extract_index_ivf(index).make_direct_map()
        vectors = index.reconstruct_n(0, index.ntotal)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def spread(items: Sequence[T], limit: int) -> list[T]:
    """At most ``limit`` items, evenly spaced over ``items`` (deterministic)."""
    if len(items) <= limit:
        return list(items)
    picks = np.unique(np.linspace(0, len(items) - 1, limit).round().astype(np.int64))
    return [items[int(i)] for i in picks]


def format_table(report: EvaluationReport) -> str:
    """The report as an aligned plain-text table."""
    width = max([len(metric.name) for metric in report.metrics] + [len("metric")])
    lines = [
        f"index: {report.index_type}, {report.count} vectors, encoder {report.encoder_id}",
        *report.notes,
        "",
        f"{'metric':<{width}}  {'value':>6}  {'queries':>7}",
        f"{'-' * width}  {'-' * 6}  {'-' * 7}",
    ]
    lines += [f"{m.name:<{width}}  {m.value:>6.3f}  {m.queries:>7d}" for m in report.metrics]
    return "\n".join(lines)
