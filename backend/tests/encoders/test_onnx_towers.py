"""The ONNX Runtime query towers: exact against plain open_clip, exported once into a checked
cache entry, made again when damaged, and the opt-in int8 mode."""

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
from support.weights import save_random_checkpoint

from imagesearch.config import Settings
from imagesearch.encoders import onnx_towers, tower_cache
from imagesearch.encoders.clip import resolve_spec
from imagesearch.encoders.clip_tokens import ClipTokenizer
from imagesearch.encoders.factory import load_encoder
from imagesearch.encoders.onnx_towers import TextTower
from imagesearch.encoders.protocol import Encoder
from imagesearch.encoders.tower_export import ModelParts, ensure_entry
from imagesearch.errors import EncoderUnavailableError
from imagesearch.vectors import normalize_rows


def entry_for(settings: Settings, model: Any) -> tower_cache.TowerEntry:
    """The cache entry of ``settings`` (exported from ``model`` if it is not there yet)."""
    _, _, preprocess = open_clip.create_model_and_transforms(TINY_MODEL, pretrained=None)
    parts = ModelParts(model, open_clip.get_tokenizer(TINY_MODEL), preprocess)
    return ensure_entry(settings, resolve_spec(settings), lambda: parts)


def no_export() -> ModelParts:
    raise AssertionError("exported again although the entry was cached")


def test_default_query_runtime_is_onnx_runtime(tiny_encoder: Encoder) -> None:
    tiny_encoder.encode_texts(["a red car"])
    assert tiny_encoder.query_runtime == "onnxruntime fp32"


def test_onnx_tower_equals_open_clip_one_by_one_and_batched(
    tiny_checkpoint: Path, tiny_reference: Any, tmp_path: Path
) -> None:
    entry = entry_for(tiny_settings(tiny_checkpoint, tmp_path, cache_dir=tmp_path), tiny_reference)
    onnx = TextTower(entry)
    tokens = ClipTokenizer(entry.folder, entry.tokenizer)(QUERIES)
    expected = reference_texts(tiny_reference, TINY_MODEL, QUERIES)
    single = normalize_rows(np.concatenate([onnx(tokens[i : i + 1]) for i in range(len(QUERIES))]))
    batched = normalize_rows(onnx(tokens))  # mixed lengths: padded to the longest, causal mask
    for actual in (single, batched):
        assert float(np.abs(actual - expected).max()) < 1e-4
        assert_same_rankings(fixed_index(expected.shape[1]), expected, actual)
    assert max(entry.deviation.values()) < 1e-4  # what the export measured against torch


def test_entry_is_exported_once_per_weights_and_reused(
    tiny_checkpoint: Path, tiny_reference: Any, tmp_path: Path
) -> None:
    settings = tiny_settings(tiny_checkpoint, tmp_path, cache_dir=tmp_path)
    first = entry_for(settings, tiny_reference)
    assert [path.name for path in (tmp_path / "onnx").iterdir() if not path.name.startswith(".")] == [
        first.folder.name
    ]
    again = ensure_entry(settings, resolve_spec(settings), no_export)
    assert again == first
    # Other weights are another entry: the key holds the checkpoint's content hash.
    other = save_random_checkpoint(settings, tmp_path / "other.pt", seed=3)
    other_settings = settings.model_copy(update={"pretrained": str(other)})
    with pytest.raises(AssertionError, match="exported again"):
        ensure_entry(other_settings, resolve_spec(other_settings), no_export)


def test_damaged_or_partial_entry_is_exported_again(
    tiny_checkpoint: Path, tiny_reference: Any, tmp_path: Path
) -> None:
    settings = tiny_settings(tiny_checkpoint, tmp_path, cache_dir=tmp_path)
    entry = entry_for(settings, tiny_reference)
    graph = entry.path(tower_cache.TEXT_GRAPH)
    size = graph.stat().st_size
    data = bytearray(graph.read_bytes())
    data[-1] ^= 0xFF
    graph.write_bytes(bytes(data))  # same size, one byte changed: the checksum sees it
    with pytest.raises(tower_cache.EntryMissingError, match="not the file"):
        tower_cache.read_entry(entry.folder)
    rebuilt = entry_for(settings, tiny_reference)
    assert graph.stat().st_size == size and max(rebuilt.deviation.values()) < 1e-4
    tower_cache.discard(entry.folder)  # as if an export died before sealing it
    with pytest.raises(AssertionError, match="exported again"):
        ensure_entry(settings, resolve_spec(settings), no_export)


def test_int8_is_opt_in_and_reports_how_far_it_is_from_fp32(
    tiny_checkpoint: Path, tiny_reference: Any, tmp_path: Path
) -> None:
    settings = tiny_settings(tiny_checkpoint, tmp_path, query_precision="int8", cache_dir=tmp_path)
    encoder = load_encoder(settings)
    actual = encoder.encode_texts(QUERIES)
    assert encoder.query_runtime == "onnxruntime int8"
    np.testing.assert_allclose(np.linalg.norm(actual, axis=1), 1.0, atol=1e-5)
    expected = reference_texts(tiny_reference, TINY_MODEL, QUERIES)
    difference = float(np.abs(actual - expected).max())
    assert 1e-4 < difference < 0.5  # approximate, which is why it is not the default
    int8 = ensure_entry(settings, resolve_spec(settings), no_export)
    assert int8.precision == "int8" and int8.deviation["text"] > 1e-5 and int8.deviation["image"] > 1e-6
    fp32 = entry_for(settings.model_copy(update={"query_precision": "fp32"}), tiny_reference)
    assert fp32.folder != int8.folder and max(fp32.deviation.values()) < 1e-4


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


def test_without_onnx_runtime_auto_stays_on_torch_and_required_is_refused(
    tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx_towers, "available", lambda: False)  # as if onnxruntime were not installed
    encoder = load_encoder(tiny_settings(tiny_checkpoint, tmp_path))
    np.testing.assert_allclose(encoder.encode_texts(QUERIES), tiny_encoder.encode_texts(QUERIES), atol=1e-5)
    assert encoder.query_runtime == "torch fp32"
    with pytest.raises(EncoderUnavailableError, match="not installed"):
        load_encoder(tiny_settings(tiny_checkpoint, tmp_path, query_runtime="onnxruntime"))
