"""Cutoff evaluation: hand-made windows, a synthetic clustered index, and the --cutoff command wiring.

The index is built here from clustered unit vectors (no model): each class is a tight cluster,
so its members should sit above a clear drop; a fake encoder maps a label's text to its centre.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from imagesearch.config import Settings
from imagesearch.errors import SourceError
from imagesearch.evaluation import cli
from imagesearch.evaluation.cutoff import (
    CutoffOptions,
    CutoffQuery,
    compare_cutoffs,
    format_cutoff_table,
    kept_quality,
    measure_cutoffs,
    sweep,
)
from imagesearch.evaluation.groundtruth import GroundTruth
from imagesearch.evaluation.retrieval import EvaluationReport
from imagesearch.index.manifest import Manifest
from imagesearch.index.store import IndexBundle


def query(scores: Sequence[float], relevant: set[int]) -> CutoffQuery:
    return CutoffQuery(
        np.array(scores, np.float32), np.arange(len(scores), dtype=np.int64), frozenset(relevant)
    )


def test_kept_quality() -> None:
    assert kept_quality([0, 1, 2, 3], frozenset({0, 1, 9})) == pytest.approx((0.5, 2 / 3, 4 / 7))
    assert kept_quality([], frozenset({1})) == (0.0, 0.0, 0.0)
    assert kept_quality([5], frozenset({1})) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="relevant"):
        kept_quality([1], frozenset())


def test_auto_beats_any_fixed_threshold_when_the_scales_differ() -> None:
    # A text -> image query (cliff from 0.31 to 0.22) and an image -> image one (0.93 to 0.70):
    # auto keeps exactly the relevant results of both; no single min_score can.
    text = query([0.33, 0.32, 0.31, 0.22, 0.21, 0.21, 0.20, 0.20], {0, 1, 2})
    image = query([0.95, 0.94, 0.93, 0.92, 0.70, 0.69, 0.69, 0.68], {0, 1, 2, 3})
    rows = {row.name.split(" (")[0]: row for row in compare_cutoffs([text, image])}
    assert (rows["auto"].precision, rows["auto"].recall, rows["auto"].f1) == (1.0, 1.0, 1.0)
    assert rows["auto"].kept == 3.5
    assert rows["window"].recall == 1.0 and rows["window"].precision == pytest.approx((3 / 8 + 4 / 8) / 2)
    assert rows["best fixed"].f1 < 1.0
    fixed = [row for row in rows.values() if row.threshold is not None and row.name.startswith("min")]
    assert rows["best fixed"].f1 == max(row.f1 for row in fixed)


def test_fixed_thresholds_keep_what_scores_at_least_the_threshold() -> None:
    rows = compare_cutoffs([query([0.9, 0.8, 0.5, 0.4], {0, 1})], thresholds=[0.8, 0.95])
    by_threshold = {row.threshold: row for row in rows if row.name.startswith("min_score")}
    assert by_threshold[0.8].kept == 2 and by_threshold[0.8].f1 == 1.0
    assert by_threshold[0.95].kept == 0 and by_threshold[0.95].f1 == 0.0
    assert [row.name for row in rows][:3] == [
        "window",
        "auto",
        "best fixed (min_score>=0.8000, tuned on these queries)",
    ]


def test_sweep_spans_the_pooled_scores() -> None:
    queries = [query([0.3, 0.2], {0}), query([0.9, 0.1], {0})]
    assert sweep(queries, 3) == pytest.approx([0.1, 0.25, 0.9])
    assert sweep(queries, 0) == []
    with pytest.raises(ValueError, match="no queries"):
        compare_cutoffs([])


# --- a synthetic labelled index ---------------------------------------------------------------

LABELS = ["red_car", "blue_boat", "green_tree", "dog"]
SIZES = [5, 8, 3, 1]  # "dog" has one member: no image -> image query can score it


def unit(vectors: np.ndarray) -> np.ndarray:
    result: np.ndarray = (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)
    return result


class CentreEncoder:
    """encode_texts: a label's text -> its class centre (what a perfect text tower would do)."""

    def __init__(self, centres: dict[str, np.ndarray]) -> None:
        self.centres = centres

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.centres[text] for text in texts])


@pytest.fixture(scope="module")
def clustered() -> tuple[IndexBundle, GroundTruth, CentreEncoder]:
    rng = np.random.default_rng(0)
    centres = unit(rng.normal(size=(len(LABELS), 32)))
    vectors, urls, labels = [], [], {}
    for label, centre, size in zip(LABELS, centres, SIZES, strict=True):
        for j in range(size):
            vectors.append(unit(centre + 0.08 * rng.normal(size=32)))
            urls.append(f"https://example.org/{label}/{j}.jpg")
            labels[urls[-1]] = label
    noise = unit(rng.normal(size=(30, 32)))  # unlabelled images, far from every class
    urls += [f"https://example.org/other/{j}.jpg" for j in range(30)]
    index = faiss.IndexFlatIP(32)
    index.add(np.concatenate([np.stack(vectors), noise]))
    manifest = Manifest(encoder_id="e", model="m", pretrained="p", dim=32, count=len(urls), index_type="Flat")
    encoder = CentreEncoder({label.replace("_", " "): c for label, c in zip(LABELS, centres, strict=True)})
    return IndexBundle(index=index, urls=urls, manifest=manifest), GroundTruth(labels=labels), encoder


def test_measure_cutoffs_on_clusters(clustered: tuple[IndexBundle, GroundTruth, CentreEncoder]) -> None:
    bundle, truth, encoder = clustered
    results = measure_cutoffs(bundle, truth, CutoffOptions(window=20), encoder)  # type: ignore[arg-type]
    assert set(results) == {"text->image", "image->image"}
    text = {row.name: row for row in results["text->image"]}
    image = {row.name: row for row in results["image->image"]}
    assert text["window"].queries == 4 and text["window"].kept == 20
    assert image["window"].queries == 16  # every member of a class with another member
    assert image["window"].kept == 20  # the query itself left out, the window still full
    assert text["window"].recall == 1.0 and image["window"].recall == 1.0  # every class fits the window
    assert text["auto"].f1 == 1.0 and image["auto"].f1 > 0.9  # tight clusters: one clear drop each
    assert "cutoff, image->image (16 queries)" in format_cutoff_table(results)


def test_image_queries_leave_themselves_out(
    clustered: tuple[IndexBundle, GroundTruth, CentreEncoder],
) -> None:
    bundle, truth, _ = clustered
    results = measure_cutoffs(bundle, truth, CutoffOptions(window=3, max_queries=2), None)
    assert set(results) == {"image->image"}  # no encoder: no text queries
    window = results["image->image"][0]
    assert window.queries == 2 and window.kept == 3
    # Queries 0 and 15 (red_car 0 and green_tree 2): relevant 4 and 2 others, the 3 nearest all of the class.
    assert window.precision == pytest.approx((1 + 2 / 3) / 2)
    assert window.recall == pytest.approx((3 / 4 + 1) / 2)


def test_the_command_prints_and_writes_the_comparison(
    clustered: tuple[IndexBundle, GroundTruth, CentreEncoder], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle, truth, encoder = clustered
    fakes: dict[str, Any] = {
        "load_ground_truth": lambda *_: truth,
        "load_bundle": lambda _: bundle,
        "load_encoder": lambda _: encoder,
        "check_compatible": lambda *_: None,
        "evaluate": lambda *_: EvaluationReport("Flat", len(bundle.urls), "e"),
    }
    for name, fake in fakes.items():
        monkeypatch.setattr(cli, name, fake)
    out, report = tmp_path / "out.txt", tmp_path / "report.json"
    with out.open("w") as stream:
        assert (
            cli.main(["--labels", "x", "--cutoff", "--cutoff-window", "10", "--json", str(report)], stream)
            == 0
        )
    assert "cutoff, text->image (4 queries)" in out.read_text()
    data = json.loads(report.read_text())["cutoff"]
    assert [row["name"] for row in data["image->image"]][:2] == ["window", "auto"]
    assert data["text->image"][0]["kept"] == 10


def test_the_command_needs_labels_for_cutoff(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli, "load_ground_truth", lambda *_: GroundTruth())
    assert cli.main(["--cutoff", "--data-dir", str(tmp_path)]) == 1
    with pytest.raises(SourceError, match="--cutoff needs class labels"):
        cli._measure(cli.parse_args(["--cutoff"]), Settings())
