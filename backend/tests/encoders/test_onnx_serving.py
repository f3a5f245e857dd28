"""The API's query encoder: torch's vectors without torch's weights, its entry exported by a child
process, rebuilt when damaged, and torch queries (auto) or a clear error (required) when the
export cannot be done."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
from support.images import make_image
from support.rankings import QUERIES
from support.tiny import tiny_settings

from imagesearch.config import Settings
from imagesearch.encoders import tower_cache
from imagesearch.encoders.clip import ClipEncoder
from imagesearch.encoders.factory import load_encoder
from imagesearch.encoders.onnx_serving import OnnxQueryEncoder
from imagesearch.encoders.onnx_towers import EXACT_TOLERANCE
from imagesearch.errors import EncoderUnavailableError


@pytest.fixture(scope="module")
def settings(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("serving")
    return tiny_settings(tiny_checkpoint, folder / "data", cache_dir=folder / "cache")


@pytest.fixture(scope="module")
def torch_encoder(settings: Settings) -> ClipEncoder:
    """The pipeline's encoder, queries on torch fp32: the reference."""
    return ClipEncoder(settings.model_copy(update={"query_runtime": "torch"}))


def test_query_encoder_equals_clip_encoder_with_its_id(
    settings: Settings, torch_encoder: ClipEncoder
) -> None:
    encoder = load_encoder(settings, purpose="query")  # its towers are exported at its first query
    assert isinstance(encoder, OnnxQueryEncoder) and encoder.query_runtime == "onnxruntime fp32"
    # The same identity, so the API accepts the indexes the pipeline builds (search/compatibility.py).
    same = ("id", "dim", "label", "activation", "image_size", "fallback")
    assert {name: getattr(encoder, name) for name in same} == {
        name: getattr(torch_encoder, name) for name in same
    }
    texts = [*QUERIES, "don\u2019t &amp; \uff26\uff35\uff2c\uff2c", "a " * 100]
    assert (
        float(np.abs(encoder.encode_texts(texts) - torch_encoder.encode_texts(texts)).max()) < EXACT_TOLERANCE
    )
    images = [make_image(seed, (300 + 41 * seed, 240)) for seed in range(6)] + [make_image(7).convert("L")]
    assert (
        float(np.abs(encoder.encode_images(images) - torch_encoder.encode_images(images)).max())
        < EXACT_TOLERANCE
    )
    np.testing.assert_array_equal(encoder.prepare(images[0]), torch_encoder.prepare(images[0]))


def test_the_export_runs_in_another_process(settings: Settings) -> None:
    (folder,) = [path for path in (settings.cache_dir / "onnx").iterdir() if not path.name.startswith(".")]
    entry = tower_cache.read_entry(folder)
    assert entry.exporter_pid != os.getpid()  # the child that loaded torch's model and exited


def test_a_damaged_entry_is_exported_again(settings: Settings, torch_encoder: ClipEncoder) -> None:
    load_encoder(settings, purpose="query").encode_texts(["a"])  # the entry exists (now at the latest)
    (folder,) = [path for path in (settings.cache_dir / "onnx").iterdir() if not path.name.startswith(".")]
    before = tower_cache.read_entry(folder)
    graph = folder / tower_cache.IMAGE_GRAPH
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])  # half a graph
    encoder = load_encoder(settings, purpose="query")
    image = [make_image(3)]
    vectors = encoder.encode_images(image)  # the first query has the entry exported again
    after = tower_cache.read_entry(folder)
    assert after.exporter_pid not in (before.exporter_pid, os.getpid())  # by a new child
    assert float(np.abs(vectors - torch_encoder.encode_images(image)).max()) < EXACT_TOLERANCE


def test_export_failure_keeps_torch_queries_under_auto_and_is_an_error_when_required(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")  # nothing can be written there
    caplog.set_level(logging.WARNING)
    encoder = load_encoder(settings.model_copy(update={"cache_dir": blocked}), purpose="query")
    vectors = encoder.encode_texts(["a red car"])  # the export fails here: torch answers instead
    assert "torch-free query towers are unavailable" in caplog.text
    assert encoder.query_runtime == "torch fp32" and vectors.shape == (1, encoder.dim)
    required = settings.model_copy(update={"cache_dir": blocked, "query_runtime": "onnxruntime"})
    with pytest.raises(EncoderUnavailableError, match="query towers cannot be had"):
        load_encoder(required, purpose="query").encode_texts(["a red car"])


def test_configuration_mistakes_are_reported_as_clip_reports_them(settings: Settings, tmp_path: Path) -> None:
    missing = settings.model_copy(update={"pretrained": str(tmp_path / "missing.pt")})
    with pytest.raises(EncoderUnavailableError, match="checkpoint file not found"):
        load_encoder(missing, purpose="query")
