"""The activation follows the weights: QuickGELU where the tag was trained with it, an explicit
choice for checkpoint files, a new encoder id, and old-network indexes refused or rebuilt."""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.paths import TINY_CONFIG, TINY_MODEL
from support.servers import start_api
from support.tiny import BuiltIndex, tiny_settings

from imagesearch.encoders.factory import load_encoder
from imagesearch.encoders.weights import GELU, QUICK_GELU, resolve_activation
from imagesearch.errors import EncoderUnavailableError
from imagesearch.index.store import load_bundle
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline


def test_known_tags_get_the_activation_they_were_trained_with() -> None:
    from imagesearch.config import Settings

    cases = {
        ("ViT-B-32", "openai"): (QUICK_GELU, {"force_quick_gelu": True}, ":quickgelu"),
        ("RN50", "openai"): (QUICK_GELU, {"force_quick_gelu": True}, ":quickgelu"),
        ("ViT-B-32-quickgelu", "openai"): (QUICK_GELU, {}, ""),  # the name says it already
        ("ViT-B-32", "laion2b_s34b_b79k"): (GELU, {}, ""),
        ("ViT-B-16-SigLIP2", "webli"): (GELU, {}, ""),
    }
    for (model, tag), (name, kwargs, suffix) in cases.items():
        activation = resolve_activation(Settings(model=model), tag)
        assert (activation.name, activation.create_kwargs, activation.id_suffix) == (name, kwargs, suffix)


def test_every_open_clip_tag_is_built_as_open_clip_lists_it() -> None:
    """open_clip lists each QuickGELU-trained tag under '<model>-quickgelu' as well: its own index."""
    import open_clip

    from imagesearch.config import Settings

    quick = {(model.removesuffix("-quickgelu"), tag) for model, tag in open_clip.list_pretrained()
             if model.endswith("-quickgelu")}  # fmt: skip
    assert ("ViT-B-32", "openai") in quick and len(quick) > 10
    for model, tag in open_clip.list_pretrained():
        if model.endswith("-quickgelu") or open_clip.get_model_config(model) is None:
            continue
        name = resolve_activation(Settings(model=model), tag).name
        assert name == (QUICK_GELU if (model, tag) in quick else GELU), (model, tag)


def test_a_setting_that_contradicts_the_tag_is_refused() -> None:
    from imagesearch.config import Settings

    with pytest.raises(EncoderUnavailableError, match="trained with QuickGELU"):
        resolve_activation(Settings(model="ViT-B-32", activation="gelu"), "openai")
    with pytest.raises(EncoderUnavailableError, match="trained with GELU"):
        resolve_activation(Settings(model="ViT-B-32", activation="quick_gelu"), "laion2b_s34b_b79k")


def plain_text_features(checkpoint: Path, quick_gelu: bool, texts: list[str]) -> np.ndarray:
    """open_clip's own encode_text for the tiny checkpoint, built with the given activation."""
    import open_clip
    import torch

    open_clip.add_model_config(TINY_CONFIG)
    model, _, _ = open_clip.create_model_and_transforms(
        TINY_MODEL, pretrained=str(checkpoint), force_quick_gelu=quick_gelu
    )
    with torch.no_grad():
        features = model.eval().encode_text(open_clip.get_tokenizer(TINY_MODEL)(texts))
    return torch.nn.functional.normalize(features, dim=-1).numpy()


def test_a_checkpoint_file_is_built_as_the_setting_says(
    tiny_checkpoint: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    texts = ["a dog in the rain", "two cats"]
    # One cache folder for both: the ONNX graphs must not be shared between the two networks.
    common = {"cache_dir": tmp_path / "cache"}
    with caplog.at_level(logging.WARNING, logger="imagesearch.encoders.weights"):
        gelu = load_encoder(tiny_settings(tiny_checkpoint, tmp_path, **common))
    assert (
        "does not record its activation" in caplog.text and "IMAGESEARCH_ACTIVATION=quick_gelu" in caplog.text
    )
    quick = load_encoder(tiny_settings(tiny_checkpoint, tmp_path, activation="quick_gelu", **common))
    assert (gelu.activation, quick.activation) == (GELU, QUICK_GELU)
    assert quick.id == f"{gelu.id}:quickgelu" and "QuickGELU" in quick.label and "GELU" in gelu.label
    for encoder, quick_gelu in ((gelu, False), (quick, True)):
        vectors = encoder.encode_texts(texts)
        assert encoder.query_runtime == "onnxruntime fp32"
        np.testing.assert_allclose(
            vectors, plain_text_features(tiny_checkpoint, quick_gelu, texts), atol=1e-5
        )
    assert np.abs(gelu.encode_texts(texts) - quick.encode_texts(texts)).max() > 1e-3


def test_open_clips_mismatch_warning_stops_the_load(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should open_clip ever see a model and weights disagree, its warning becomes a clear error."""
    import open_clip

    real = open_clip.create_model_and_transforms

    def warning_open_clip(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(
            "QuickGELU mismatch between final model config (quick_gelu=False) and pretrained tag "
            "'openai' (quick_gelu=True).",
            UserWarning,
            stacklevel=1,
        )
        return real(*args, **kwargs)

    monkeypatch.setattr(open_clip, "create_model_and_transforms", warning_open_clip)
    with pytest.raises(EncoderUnavailableError, match="does not fit its weights: QuickGELU mismatch"):
        load_encoder(tiny_settings(tiny_checkpoint, tmp_path))


def legacy_copy(built_index: BuiltIndex, target: Path) -> Path:
    """The built index as the version before this one wrote it: no activation in the manifest."""
    shutil.copytree(built_index.settings.data_dir, target)
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest.pop("activation") == GELU
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


def test_an_index_of_the_old_network_is_refused_at_start_up(built_index: BuiltIndex, tmp_path: Path) -> None:
    data = legacy_copy(built_index, tmp_path / "data")
    settings = built_index.settings.model_copy(update={"data_dir": data})
    server = start_api(settings, tmp_path / "api.log", {"IMAGESEARCH_ACTIVATION": "quick_gelu"})
    assert server.process.wait(timeout=90) != 0
    log = server.log.read_text()
    assert "an earlier version built with plain GELU" in log and "trained with QuickGELU" in log
    assert "Rebuild the index" in log and "run_pipeline.py" in log and "make demo" in log


def test_the_pipeline_rebuilds_an_index_of_the_old_network(
    built_index: BuiltIndex, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    data = legacy_copy(built_index, tmp_path / "data")
    old = load_bundle(built_index.settings)
    settings = tiny_settings(tiny_checkpoint, data, activation="quick_gelu", batch_size=8)
    encoder = load_encoder(settings)
    report = run_pipeline(settings, PipelineOptions(source=built_index.source, progress=False), encoder)
    assert (report.ok, report.manifest.activation, report.manifest.encoder_id) == (24, QUICK_GELU, encoder.id)
    new = load_bundle(settings)
    assert new.urls == old.urls
    old_vectors, new_vectors = old.index.reconstruct_n(0, 24), new.index.reconstruct_n(0, 24)
    assert np.abs(old_vectors - new_vectors).max() > 1e-3  # re-encoded, none reused from GELU
    np.testing.assert_allclose(new_vectors, encoder.encode_prepared(
        [encoder.prepare(_rgb(Path(url))) for url in new.urls]), atol=1e-5)  # fmt: skip


def _rgb(path: Path) -> Any:
    from PIL import Image

    return Image.open(path).convert("RGB")
