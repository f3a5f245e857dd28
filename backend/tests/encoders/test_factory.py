"""Encoder selection (IMAGESEARCH_ENCODER) and the refusal of an index built by the other encoder."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError
from support.images import write_images
from support.paths import BACKEND_DIR
from support.servers import Server
from support.tiny import BuiltIndex, tiny_settings

from imagesearch.config import Settings
from imagesearch.encoders import factory as encoder_module
from imagesearch.encoders.factory import load_encoder
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import EncoderUnavailableError, IndexLoadError, WeightsUnavailableError
from imagesearch.index.manifest import Manifest
from imagesearch.index.store import load_bundle
from imagesearch.search.compatibility import check_compatible
from imagesearch.search.service import Searcher
from imagesearch.vectors import FloatArray


class StubEncoder:
    """Just enough of the Encoder protocol for selection and compatibility checks."""

    def __init__(self, encoder_id: str, dim: int, fallback: bool) -> None:
        self.id, self.dim, self.fallback = encoder_id, dim, fallback
        self.label = "stub fallback" if fallback else "stub CLIP"
        self.query_runtime = "torch fp32"
        self.image_size = 224
        self.activation = ""

    def prepare(self, image: Image.Image) -> FloatArray:
        return np.zeros(3, dtype=np.float32)

    def encode_prepared(self, batch: Sequence[FloatArray]) -> FloatArray:
        return np.zeros((len(batch), self.dim), dtype=np.float32)

    def encode_images(self, images: Sequence[Image.Image]) -> FloatArray:
        return np.zeros((len(images), self.dim), dtype=np.float32)

    def encode_texts(self, texts: Sequence[str]) -> FloatArray:
        return np.zeros((len(texts), self.dim), dtype=np.float32)


FALLBACK_STUB = StubEncoder("fallback:stub", 16, fallback=True)


@pytest.fixture
def no_clip_weights(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """CLIP raises 'weights unavailable' (as on a machine with no hub); the fallback is a stub."""
    calls: list[str] = []

    def clip(settings: Settings, purpose: str = "index") -> Encoder:
        calls.append("clip")
        raise WeightsUnavailableError("could not load the weights 'openai' for ViT-B-32: no network")

    def fallback(settings: Settings) -> Encoder:
        calls.append("fallback")
        return FALLBACK_STUB

    monkeypatch.setattr(encoder_module, "_load_clip", clip)
    monkeypatch.setattr(encoder_module, "_load_fallback", fallback)
    return calls


def test_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().encoder == "auto"
    monkeypatch.setenv("IMAGESEARCH_ENCODER", "fallback")
    assert Settings().encoder == "fallback"
    monkeypatch.setenv("IMAGESEARCH_ENCODER", "siglip")
    with pytest.raises(ValidationError):
        Settings()


def test_auto_falls_back_with_a_warning_when_clip_weights_cannot_be_had(
    no_clip_weights: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    chosen = load_encoder(Settings(encoder="auto"))
    assert chosen is FALLBACK_STUB and no_clip_weights == ["clip", "fallback"]
    assert "LOWER-QUALITY offline fallback" in caplog.text
    assert "IMAGESEARCH_ENCODER=clip" in caplog.text


@pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite_pytorch") is None, reason="demo extra not installed"
)
def test_pipeline_with_no_hub_falls_back_and_says_so(tmp_path: Path) -> None:
    """The real path, as on this machine: default settings, no hub, empty cache -> fallback index."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGESEARCH_", "HF_"))}
    # A closed local port stands for "no network" on any machine; an empty cache has no weights.
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"))
    write_images(tmp_path / "images", 4)
    command = [sys.executable, str(BACKEND_DIR / "run_pipeline.py"), str(tmp_path / "images")]
    result = subprocess.run(
        [*command, "--data-dir", str(tmp_path / "index"), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING imagesearch.encoders.factory: CLIP weights unavailable" in result.stderr
    assert "LOWER-QUALITY offline fallback" in result.stderr
    manifest = Manifest.model_validate_json((tmp_path / "index" / "manifest.json").read_bytes())
    assert manifest.fallback is True and manifest.model == "offline-fallback"
    assert manifest.encoder_id.startswith("fallback:")


def test_clip_forced_fails_instead_of_falling_back(no_clip_weights: list[str]) -> None:
    with pytest.raises(WeightsUnavailableError, match="could not load the weights"):
        load_encoder(Settings(encoder="clip"))
    assert no_clip_weights == ["clip"]


def test_fallback_forced_never_tries_clip(no_clip_weights: list[str]) -> None:
    assert load_encoder(Settings(encoder="fallback")) is FALLBACK_STUB
    assert no_clip_weights == ["fallback"]


def test_auto_reports_both_problems_when_the_fallback_is_missing_too(
    no_clip_weights: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(settings: Settings) -> Encoder:
        raise EncoderUnavailableError("the offline fallback encoder is not installed; install the demo extra")

    monkeypatch.setattr(encoder_module, "_load_fallback", missing)
    with pytest.raises(EncoderUnavailableError) as caught:
        load_encoder(Settings(encoder="auto"))
    assert "could not load the weights" in str(caught.value)
    assert "demo extra" in str(caught.value)


def test_configuration_mistakes_never_fall_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder_module, "_load_fallback", lambda settings: pytest.fail("fell back"))
    with pytest.raises(EncoderUnavailableError, match="checkpoint file not found"):
        load_encoder(Settings(pretrained=str(tmp_path / "missing.pt")))
    with pytest.raises(EncoderUnavailableError, match="unknown open_clip model"):
        load_encoder(Settings(model="no-such-model"))


def test_auto_uses_clip_when_its_weights_are_there(tiny_encoder: Encoder) -> None:
    # tiny_encoder comes from load_encoder(auto) with a checkpoint file: CLIP, not the fallback.
    assert tiny_encoder.fallback is False
    assert tiny_encoder.label.startswith("CLIP test-tiny-clip (")
    assert tiny_encoder.id.startswith("open_clip:")


def test_manifest_without_encoder_kind_still_loads() -> None:
    old = '{"encoder_id": "open_clip:ViT-B-32:openai", "model": "ViT-B-32", "pretrained": "openai",'
    old += ' "dim": 512, "count": 3, "index_type": "IndexFlatIP"}'
    manifest = Manifest.model_validate_json(old)
    assert manifest.fallback is False and manifest.encoder_label == ""


def test_index_built_with_clip_is_refused_by_the_fallback(built_index: BuiltIndex) -> None:
    bundle = load_bundle(built_index.settings)
    assert bundle.manifest.fallback is False and bundle.manifest.encoder_label.startswith("CLIP")
    with pytest.raises(IndexLoadError) as caught:
        Searcher(built_index.settings, StubEncoder("fallback:stub", bundle.index.d, True), bundle)
    message = str(caught.value)
    assert "built with CLIP (open_clip:test-tiny-clip:sha256-" in message
    assert "loaded the offline fallback encoder (fallback:stub)" in message
    assert "IMAGESEARCH_ENCODER=clip" in message and "Rebuild" in message


def test_index_built_with_the_fallback_is_refused_by_clip(built_index: BuiltIndex) -> None:
    bundle = load_bundle(built_index.settings)
    fallback_manifest = bundle.manifest.model_copy(update={"encoder_id": "fallback:stub", "fallback": True})
    with pytest.raises(IndexLoadError) as caught:
        check_compatible(
            StubEncoder("open_clip:ViT-B-32:openai", bundle.index.d, False),
            replace(bundle, manifest=fallback_manifest),
        )
    message = str(caught.value)
    assert "built with the offline fallback encoder (fallback:stub)" in message
    assert "loaded CLIP (open_clip:ViT-B-32:openai)" in message
    assert "IMAGESEARCH_ENCODER=fallback" in message


def test_health_says_clip_is_serving(api: Server) -> None:
    health = httpx.get(f"{api.url}/health", timeout=10).json()
    assert health["fallback"] is False
    assert health["warning"] is None
    assert health["encoder_label"].startswith("CLIP test-tiny-clip (")


def test_tiny_settings_round_trip(tiny_checkpoint: Path, tmp_path: Path) -> None:
    # The fixture's settings stay on CLIP even with the new setting present.
    assert tiny_settings(tiny_checkpoint, tmp_path).encoder == "auto"
