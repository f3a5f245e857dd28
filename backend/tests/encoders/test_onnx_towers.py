"""The ONNX Runtime query towers: exact against plain open_clip, cached, and the opt-in int8 mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import pytest
import torch
from support.images import make_image
from support.paths import TINY_MODEL
from support.rankings import QUERIES, assert_same_rankings, fixed_index, reference_texts
from support.tiny import tiny_settings

from imagesearch.encoders import onnx_export, onnx_towers
from imagesearch.encoders.factory import load_encoder
from imagesearch.encoders.onnx_towers import ImageTower, TextTower
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import EncoderUnavailableError
from imagesearch.vectors import normalize_rows


def tower(model: Any, cache: Path, precision: onnx_towers.Precision = "fp32") -> TextTower:
    return TextTower(model, open_clip.get_tokenizer(TINY_MODEL), precision, (cache, 2))


def test_default_query_runtime_is_onnx_runtime(tiny_encoder: Encoder) -> None:
    tiny_encoder.encode_texts(["a red car"])
    assert tiny_encoder.query_runtime == "onnxruntime fp32"


def test_onnx_tower_equals_open_clip_one_by_one_and_batched(tiny_reference: Any, tmp_path: Path) -> None:
    onnx = tower(tiny_reference, tmp_path)
    tokens = open_clip.get_tokenizer(TINY_MODEL)(QUERIES).numpy()
    expected = reference_texts(tiny_reference, TINY_MODEL, QUERIES)
    single = normalize_rows(np.concatenate([onnx(tokens[i : i + 1]) for i in range(len(QUERIES))]))
    batched = normalize_rows(onnx(tokens))  # mixed lengths: padded to the longest, causal mask
    for actual in (single, batched):
        assert float(np.abs(actual - expected).max()) < 1e-4
        assert_same_rankings(fixed_index(expected.shape[1]), expected, actual)


def test_graph_is_exported_once_per_weights_and_reused(
    tiny_reference: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tower(tiny_reference, tmp_path)
    cached = list((tmp_path / "onnx").glob("text-*.onnx"))
    assert len(cached) == 1

    def no_export(*_: object) -> None:
        raise AssertionError("exported again although the graph was cached")

    monkeypatch.setattr(onnx_export, "export_text", no_export)
    assert tower(tiny_reference, tmp_path).graph.deviation < 1e-4
    # Other weights are another graph: the cache is keyed by content, not by model name.
    other = open_clip.create_model(TINY_MODEL, pretrained=None).eval()
    with torch.no_grad():
        other.ln_final.weight.mul_(2)
    with pytest.raises(onnx_export.OnnxUnavailableError, match="exported again"):
        tower(other, tmp_path)


def test_damaged_cache_file_is_exported_again(tiny_reference: Any, tmp_path: Path) -> None:
    tower(tiny_reference, tmp_path)
    (cached,) = (tmp_path / "onnx").glob("text-*.onnx")
    cached.write_bytes(b"half a graph")
    assert tower(tiny_reference, tmp_path).graph.deviation < 1e-4
    assert cached.stat().st_size > 1000


def test_int8_is_opt_in_and_reports_how_far_it_is_from_fp32(
    tiny_checkpoint: Path, tiny_reference: Any, tmp_path: Path
) -> None:
    encoder = load_encoder(tiny_settings(tiny_checkpoint, tmp_path, query_precision="int8"))
    actual = encoder.encode_texts(QUERIES)
    assert encoder.query_runtime == "onnxruntime int8"
    np.testing.assert_allclose(np.linalg.norm(actual, axis=1), 1.0, atol=1e-5)
    expected = reference_texts(tiny_reference, TINY_MODEL, QUERIES)
    difference = float(np.abs(actual - expected).max())
    assert 1e-4 < difference < 0.5  # approximate, which is why it is not the default
    assert tower(tiny_reference, tmp_path / "cache", "int8").graph.deviation > 1e-5


def test_torch_runtime_on_request_gives_the_same_vectors(
    tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path
) -> None:
    encoder = load_encoder(tiny_settings(tiny_checkpoint, tmp_path, query_runtime="torch"))
    np.testing.assert_allclose(encoder.encode_texts(QUERIES), tiny_encoder.encode_texts(QUERIES), atol=1e-5)
    assert encoder.query_runtime == "torch fp32"


def test_int8_without_onnx_runtime_is_refused_at_load(tiny_checkpoint: Path, tmp_path: Path) -> None:
    settings = tiny_settings(tiny_checkpoint, tmp_path, query_runtime="torch", query_precision="int8")
    with pytest.raises(EncoderUnavailableError, match="int8 needs"):
        load_encoder(settings)


def test_query_images_through_onnx_equal_open_clip(tiny_encoder: Encoder, tiny_checkpoint: Path) -> None:
    model, _, preprocess = open_clip.create_model_and_transforms(TINY_MODEL, pretrained=str(tiny_checkpoint))
    images = [make_image(seed, (300 + 41 * seed, 240)) for seed in range(12)]
    with torch.inference_mode():
        pixels = torch.stack([preprocess(image) for image in images])
        expected = normalize_rows(model.eval().encode_image(pixels).numpy())
    actual = tiny_encoder.encode_images(images)  # queries: the ONNX image tower, one image per run
    assert float(np.abs(actual - expected).max()) < 1e-4
    assert_same_rankings(fixed_index(expected.shape[1]), expected, actual)
    # The index side (encode_prepared, torch) and the query side agree.
    indexed = tiny_encoder.encode_prepared([tiny_encoder.prepare(image) for image in images])
    np.testing.assert_allclose(actual, indexed, atol=1e-5)


def test_image_graph_is_checked_and_cached(tiny_reference: Any, tmp_path: Path) -> None:
    first = ImageTower(tiny_reference, 224, "fp32", (tmp_path, 2))
    assert first.graph.deviation < 1e-4
    names = sorted(path.name for path in (tmp_path / "onnx").glob("*.onnx"))
    assert len(names) == 1 and names[0].startswith("image-")
    int8 = ImageTower(tiny_reference, 224, "int8", (tmp_path, 2))
    assert int8.graph.deviation > 1e-6  # quantised: measurably different, hence opt-in
    assert len(list((tmp_path / "onnx").glob("image-*-int8*.onnx"))) == 1


def test_without_onnx_runtime_auto_stays_on_torch_and_required_is_refused(
    tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx_towers, "available", lambda: False)  # as if onnxruntime were not installed
    encoder = load_encoder(tiny_settings(tiny_checkpoint, tmp_path))
    np.testing.assert_allclose(encoder.encode_texts(QUERIES), tiny_encoder.encode_texts(QUERIES), atol=1e-5)
    assert encoder.query_runtime == "torch fp32"
    with pytest.raises(EncoderUnavailableError, match="not installed"):
        load_encoder(tiny_settings(tiny_checkpoint, tmp_path, query_runtime="onnxruntime"))
