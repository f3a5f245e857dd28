import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support.images import make_image
from support.paths import BACKEND_DIR, TINY_CONFIG
from support.tiny import tiny_settings
from support.weights import save_random_checkpoint

from imagesearch.config import Settings
from imagesearch.encoders.factory import load_encoder
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import EncoderUnavailableError
from imagesearch.vectors import normalize_rows


def test_outputs_are_unit_float32_of_model_dim(tiny_encoder: Encoder) -> None:
    texts = tiny_encoder.encode_texts(["a dog", "a red apple on a table", ""])
    images = tiny_encoder.encode_images([make_image(seed) for seed in range(3)])
    for vectors in (texts, images):
        assert vectors.dtype == np.float32 and vectors.shape == (3, 64)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert tiny_encoder.encode_texts([]).shape == (0, 64)


def test_batching_does_not_change_results(tiny_checkpoint: Path, tmp_path: Path) -> None:
    small = load_encoder(tiny_settings(tiny_checkpoint, tmp_path, batch_size=2))
    large = load_encoder(tiny_settings(tiny_checkpoint, tmp_path, batch_size=64))
    images = [make_image(seed) for seed in range(5)]
    np.testing.assert_allclose(small.encode_images(images), large.encode_images(images), atol=1e-5)
    texts = [f"photo number {n}" for n in range(5)]
    np.testing.assert_allclose(small.encode_texts(texts), large.encode_texts(texts), atol=1e-5)


def test_same_checkpoint_same_id_and_vectors(
    tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path
) -> None:
    again = load_encoder(tiny_settings(tiny_checkpoint, tmp_path))
    assert again.id == tiny_encoder.id
    image = make_image(11)
    np.testing.assert_array_equal(again.encode_images([image]), tiny_encoder.encode_images([image]))


def test_normalize_rows_guards_zero_vectors() -> None:
    out = normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model": "No-Such-Model"}, "unknown open_clip model"),
        ({"pretrained": "no_such_tag"}, "unknown pretrained tag 'no_such_tag'"),
        ({"pretrained": "/nowhere/model.safetensors"}, "checkpoint file not found"),
    ],
)
def test_configuration_errors_are_clear(tmp_path: Path, overrides: dict[str, str], message: str) -> None:
    values: dict[str, object] = {"model": "test-tiny-clip", "model_config_file": TINY_CONFIG}
    values.update(overrides)
    with pytest.raises(EncoderUnavailableError, match=message):
        load_encoder(Settings(**values))  # type: ignore[arg-type]


def test_unreachable_hub_fails_fast_with_instructions(tmp_path: Path) -> None:
    """The default (ViT-B-32, openai weights) with no way to download them: a quick, clear error."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGESEARCH_", "HF_"))}
    # A closed local port stands for "no network" on any machine; an empty cache has no weights.
    env.update(
        HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"), IMAGESEARCH_DATA_DIR=str(tmp_path)
    )
    env["IMAGESEARCH_ENCODER"] = "clip"  # auto would fall back to the offline encoder instead
    listing = tmp_path / "list.txt"
    listing.write_text("a.jpg\n")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(BACKEND_DIR / "run_pipeline.py"), str(listing)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "IMAGESEARCH_PRETRAINED=/path/to/" in result.stderr
    assert "Traceback" not in result.stderr
    assert elapsed < 40  # huggingface_hub's own retries alone take ~45 s


@pytest.mark.slow
def test_full_vit_b_32_architecture(tmp_path: Path) -> None:
    """The real ViT-B-32 (random weights): 512-d unit vectors, and an image finds itself."""
    settings = Settings(model="ViT-B-32", pretrained=str(tmp_path / "vitb32.pt"), data_dir=tmp_path)
    save_random_checkpoint(settings, Path(settings.pretrained), seed=0)
    encoder = load_encoder(settings)
    assert encoder.dim == 512 and encoder.id.startswith("open_clip:ViT-B-32:sha256-")
    images = [make_image(seed, (640, 480)) for seed in range(6)]
    vectors = encoder.encode_images(images)
    assert vectors.shape == (6, 512)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = encoder.encode_images(images[:3]) @ vectors.T
    assert (np.argmax(similarity, axis=1) == np.arange(3)).all()
    assert encoder.encode_texts(["a person on a bicycle in the rain"]).shape == (1, 512)


def test_checkpoint_must_match_the_architecture(tiny_checkpoint: Path, tmp_path: Path) -> None:
    settings = Settings(model="RN50", pretrained=str(tiny_checkpoint), data_dir=tmp_path)
    with pytest.raises(EncoderUnavailableError, match="IMAGESEARCH_PRETRAINED"):
        load_encoder(settings)


def test_save_random_checkpoint_is_deterministic(tmp_path: Path) -> None:
    base = Settings(model="test-tiny-clip", model_config_file=TINY_CONFIG, data_dir=tmp_path)
    a = save_random_checkpoint(base, tmp_path / "a.pt", seed=3)
    b = save_random_checkpoint(base, tmp_path / "b.pt", seed=3)
    c = save_random_checkpoint(base, tmp_path / "c.pt", seed=4)
    image = [make_image(5)]
    va, vb, vc = (load_encoder(tiny_settings(path, tmp_path)).encode_images(image) for path in (a, b, c))
    np.testing.assert_array_equal(va, vb)
    assert not np.allclose(va, vc)
