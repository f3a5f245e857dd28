"""Evaluation: metric functions on hand-made rankings, then the command on a real labelled index.

The labelled set is built here: classes are colour families of generated images, each image
joined by a near-duplicate crop of itself. With random weights text -> image values carry no
meaning, so on the real index the tests compare the report with the same quantities computed
independently by brute force in numpy, and check ranges; they never expect a caption to win.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import pytest
from support.images import make_image
from support.paths import BACKEND_DIR
from support.tiny import settings_env, tiny_settings

from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import SourceError
from imagesearch.evaluation.groundtruth import Columns, load_ground_truth, source_key
from imagesearch.evaluation.retrieval import (
    EvalOptions,
    EvaluationReport,
    Metric,
    evaluate,
    first_relevant_rank,
    format_table,
    mean_reciprocal_rank,
    overlap_at_k,
    precision_at_k,
    recall_at_k,
    reconstruct_vectors,
    spread,
)
from imagesearch.index.store import IndexBundle, load_bundle
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline

CLASSES = {"red": 0, "green": 1, "blue": 2, "yellow": 3}  # name -> COLOURS index in imagegen
PER_CLASS = 3  # originals per class; each also gets a crop, so 6 images per class


# --- metric functions on hand-made rank lists --------------------------------------------------


def test_first_relevant_rank() -> None:
    assert first_relevant_rank([7, 3, 9, 4], {9, 4}) == 3
    assert first_relevant_rank([7, 3], {1}) is None
    assert first_relevant_rank([], {1}) is None


def test_recall_and_mrr_on_hand_made_ranks() -> None:
    ranks = [1, 3, None, 2, 11]
    # Counted by hand: rank <= 1: one query; <= 5: three; <= 10: three; <= 11: four.
    assert recall_at_k(ranks, 1) == pytest.approx(1 / 5)
    assert recall_at_k(ranks, 5) == pytest.approx(3 / 5)
    assert recall_at_k(ranks, 10) == pytest.approx(3 / 5)
    assert recall_at_k(ranks, 11) == pytest.approx(4 / 5)
    # (1 + 1/3 + 0 + 1/2 + 1/11) / 5 = (66 + 22 + 33 + 6) / 66 / 5 = 127 / 330
    assert mean_reciprocal_rank(ranks) == pytest.approx(127 / 330)
    assert mean_reciprocal_rank([None, None]) == 0.0
    with pytest.raises(ValueError):
        recall_at_k([], 1)


def test_precision_at_k_on_hand_made_labels() -> None:
    ranked = ["cat", "dog", "cat", None, "cat"]
    assert precision_at_k(ranked, "cat", 1) == 1.0
    assert precision_at_k(ranked, "cat", 2) == 0.5
    assert precision_at_k(ranked, "cat", 5) == pytest.approx(3 / 5)
    # Fewer results than k still divide by k: a short list cannot inflate the score.
    assert precision_at_k(["cat"], "cat", 4) == 0.25


def test_overlap_at_k() -> None:
    assert overlap_at_k([1, 2, 3], [3, 2, 1], 3) == 1.0
    assert overlap_at_k([1, 2, 5, 6], [1, 2, 3, 4], 4) == 0.5
    assert overlap_at_k([9, 1], [1, 2], 1) == 0.0


def test_spread_is_even_and_bounded() -> None:
    assert spread(list(range(5)), 10) == [0, 1, 2, 3, 4]
    assert spread(list(range(100)), 5) == [0, 25, 50, 74, 99]


def test_format_table_lines_up() -> None:
    report = EvaluationReport(index_type="IndexFlatIP", count=3, encoder_id="x", notes=["n"])
    report.metrics.append(Metric("text->image Recall@1", 0.5, 4))
    table = format_table(report).splitlines()
    assert table[0].startswith("index: IndexFlatIP, 3 vectors")
    assert table[-1].split() == ["text->image", "Recall@1", "0.500", "4"]


# --- ground truth ------------------------------------------------------------------------------


def test_source_key_matches_file_urls_and_relative_paths(tmp_path: Path) -> None:
    image = tmp_path / "a b.jpg"
    assert source_key(image.as_uri()) == source_key(str(image))
    assert source_key(str(tmp_path / "sub" / ".." / "a b.jpg")) == source_key(str(image))
    assert source_key("https://example.org/x.jpg") == "https://example.org/x.jpg"


def test_captions_csv_resolves_relative_paths_and_label_column(tmp_path: Path) -> None:
    (tmp_path / "gt").mkdir()
    csv = tmp_path / "gt" / "captions.csv"
    csv.write_text("image,caption,label\n../img/a.jpg,  a  red   thing ,red\nb.jpg,,blue\n")
    truth = load_ground_truth(csv, None, Columns())
    assert truth.captions == [(str((tmp_path / "img" / "a.jpg").resolve()), "a red thing")]
    assert truth.labels[str((tmp_path / "gt" / "b.jpg").resolve())] == "blue"


def test_labels_from_class_folders(tmp_path: Path) -> None:
    for name in ("cat", "dog"):
        (tmp_path / name / "deep").mkdir(parents=True)
        make_image(1, (120, 90)).save(tmp_path / name / "deep" / "x.png")
    make_image(2, (120, 90)).save(tmp_path / "loose.png")  # no class folder: not labelled
    truth = load_ground_truth(None, tmp_path, Columns())
    assert sorted(truth.labels.values()) == ["cat", "dog"]
    assert str((tmp_path / "cat" / "deep" / "x.png").resolve()) in truth.labels


def test_missing_caption_column_is_a_clear_error(tmp_path: Path) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text("image,notes\na.jpg,x\n")
    with pytest.raises(SourceError, match="caption"):
        load_ground_truth(csv, None, Columns())


# --- a real labelled index ---------------------------------------------------------------------


@dataclass
class LabelledSet:
    root: Path
    captions: Path
    bundle: IndexBundle
    env: dict[str, str]


@pytest.fixture(scope="module")
def labelled(
    tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path_factory: pytest.TempPathFactory
) -> LabelledSet:
    root = tmp_path_factory.mktemp("labelled")
    rows = ["image,caption"]
    for name, colour in CLASSES.items():
        (root / name).mkdir()
        for j in range(PER_CLASS):
            image = make_image(colour + 10 * j)  # same background colour within a class
            image.save(root / name / f"img{j}.png")
            width, height = image.size
            image.crop((width // 10, height // 10, width * 9 // 10, height * 9 // 10)).save(
                root / name / f"img{j}-crop.jpg"
            )
            rows.append(f"{name}/img{j}.png,a {name} picture with a few shapes")
    captions = root / "captions.csv"
    captions.write_text("\n".join(rows) + "\n")
    settings = tiny_settings(tiny_checkpoint, tmp_path_factory.mktemp("labelled-data"))
    run_pipeline(settings, PipelineOptions(source=root, progress=False), tiny_encoder)
    return LabelledSet(root, captions, load_bundle(settings), settings_env(settings))


def brute_force_ranking(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Every index id for every query, best first, by plain numpy dot products."""
    return np.argsort(-(queries @ vectors.T), axis=1, kind="stable")


def by_name(report: EvaluationReport) -> dict[str, float]:
    return {metric.name: metric.value for metric in report.metrics}


def test_report_matches_brute_force_on_the_labelled_index(
    labelled: LabelledSet, tiny_encoder: Encoder
) -> None:
    truth = load_ground_truth(labelled.captions, labelled.root, Columns())
    report = evaluate(labelled.bundle, truth, EvalOptions(), tiny_encoder)
    values = by_name(report)
    urls = labelled.bundle.urls
    vectors = np.stack([labelled.bundle.index.reconstruct(i) for i in range(len(urls))])

    # image -> image: each image's class is its folder; drop the image itself from its ranking.
    label = [Path(url).parent.name for url in urls]
    ranking = brute_force_ranking(vectors, vectors)
    for k in (1, 5, 10):
        expected = np.mean(
            [
                np.mean([label[j] == label[i] for j in [j for j in row if j != i][:k]])
                for i, row in enumerate(ranking)
            ]
        )
        assert values[f"image->image Precision@{k}"] == pytest.approx(expected)
    # Six images a class: at most 5 of the 10 nearest others can share it.
    assert values["image->image Precision@10"] <= 0.5
    # Every crop sits next to its original, so the nearest other image is of the same class.
    assert values["image->image Precision@1"] == 1.0

    # text -> image: the rank of each caption's image among all images.
    texts = [f"a {name} picture with a few shapes" for name in CLASSES for _ in range(PER_CLASS)]
    targets = [
        urls.index(str((labelled.root / n / f"img{j}.png").resolve()))
        for n in CLASSES
        for j in range(PER_CLASS)
    ]
    text_ranking = brute_force_ranking(vectors, tiny_encoder.encode_texts(texts))
    ranks = [
        int(np.flatnonzero(row == target)[0]) + 1 for row, target in zip(text_ranking, targets, strict=True)
    ]
    for k in (1, 5, 10):
        assert values[f"text->image Recall@{k}"] == pytest.approx(np.mean([r <= k for r in ranks]))
    assert values["text->image MRR"] == pytest.approx(np.mean([1 / r for r in ranks]), abs=1e-6)
    assert values["ANN Recall@10 vs exact (image queries)"] == 1.0  # the flat index is exact


def test_ann_recall_of_an_ivf_index_matches_brute_force(labelled: LabelledSet) -> None:
    flat = labelled.bundle.index
    vectors = reconstruct_vectors(flat)
    quantizer = faiss.IndexFlatIP(flat.d)
    ivf = faiss.IndexIVFFlat(quantizer, flat.d, 4, faiss.METRIC_INNER_PRODUCT)
    ivf.train(vectors)
    ivf.add(vectors)
    ivf.nprobe = 1
    bundle = IndexBundle(index=ivf, urls=labelled.bundle.urls, manifest=labelled.bundle.manifest)
    report = evaluate(bundle, load_ground_truth(None, labelled.root, Columns()), EvalOptions(ks=(5,)), None)

    assert np.allclose(reconstruct_vectors(ivf), vectors)  # the IVF path: direct map built on demand
    _, approximate = ivf.search(vectors, 5)
    exact = brute_force_ranking(vectors, vectors)[:, :5]
    expected = np.mean(
        [len(set(a) & set(e)) / 5 for a, e in zip(approximate.tolist(), exact.tolist(), strict=True)]
    )
    assert by_name(report)["ANN Recall@5 vs exact (image queries)"] == pytest.approx(expected)


def test_ground_truth_that_names_no_indexed_image_is_an_error(
    labelled: LabelledSet, tiny_encoder: Encoder, tmp_path: Path
) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text("image,caption\nelsewhere.jpg,a thing\n")
    with pytest.raises(SourceError, match="no caption image is in the index"):
        evaluate(labelled.bundle, load_ground_truth(csv, None, Columns()), EvalOptions(), tiny_encoder)


def test_evaluate_command_prints_the_table(labelled: LabelledSet, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    command = [
        sys.executable,
        "evaluate.py",
        "--captions",
        str(labelled.captions),
        "--labels",
        str(labelled.root),
    ]
    result = subprocess.run(
        [*command, "--json", str(out)],
        cwd=BACKEND_DIR,
        env=labelled.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    table = result.stdout
    for name in (
        "text->image Recall@1",
        "text->image Recall@10",
        "text->image MRR",
        "image->image Precision@5",
    ):
        assert name in table
    assert "captions: 12 of 12 rows match an indexed image" in table
    metrics = {m["name"]: m for m in json.loads(out.read_text())["metrics"]}
    assert len(metrics) == 9
    assert all(0.0 <= m["value"] <= 1.0 for m in metrics.values())
    assert metrics["text->image Recall@1"]["queries"] == 12
    assert metrics["image->image Precision@1"]["queries"] == 24
    recall = [metrics[f"text->image Recall@{k}"]["value"] for k in (1, 5, 10)]
    assert recall == sorted(recall)
    assert metrics["text->image MRR"]["value"] >= recall[0]


def test_evaluate_command_fails_clearly_without_an_index(labelled: LabelledSet, tmp_path: Path) -> None:
    env = labelled.env | {"IMAGESEARCH_DATA_DIR": str(tmp_path / "nothing")}
    result = subprocess.run(
        [sys.executable, "evaluate.py"], cwd=BACKEND_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1
    assert "no index at" in result.stderr
