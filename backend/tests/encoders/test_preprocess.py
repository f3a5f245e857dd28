"""The torch-free preprocessing gives open_clip's pixels, bit for bit, on every size and mode."""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image
from support.images import make_image

from imagesearch.encoders.fast_paths import describe_preprocess
from imagesearch.encoders.preprocess import ResizeCrop


def sizes_and_modes() -> list[Image.Image]:
    """Wide, tall, exact, one pixel over, extreme and tiny sizes; then every common mode."""
    sizes = [(320, 240), (240, 320), (224, 224), (225, 224), (1000, 17), (17, 1000), (50, 50), (2000, 1500)]
    images = [make_image(seed, (200, 200)).resize(size) for seed, size in enumerate(sizes)]
    base = make_image(99, (301, 203))
    images += [base.convert(mode) for mode in ("L", "RGBA", "P", "CMYK", "1", "LA", "I")]
    return images


@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
def test_pixels_equal_open_clips_transform(interpolation: str) -> None:
    transform = open_clip.image_transform(224, is_train=False, interpolation=interpolation)
    ours = describe_preprocess(transform)
    assert ours == ResizeCrop(224, interpolation, open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD)
    for image in sizes_and_modes():
        expected = transform(image).numpy()
        actual = ours(image)
        assert actual.dtype == np.float32 and actual.shape == (3, 224, 224)
        np.testing.assert_array_equal(actual, expected, err_msg=f"{image.mode} {image.size}")


def test_round_trips_through_the_sidecar() -> None:
    ours = describe_preprocess(open_clip.image_transform(256, is_train=False))
    assert ours is not None and ResizeCrop.from_dict(ours.to_dict()) == ours


def test_other_transforms_are_not_described() -> None:
    for resize_mode in ("longest", "squash"):
        assert describe_preprocess(open_clip.image_transform(224, False, resize_mode=resize_mode)) is None
    assert describe_preprocess(open_clip.image_transform((224, 256), is_train=False)) is None
    assert describe_preprocess(torch.nn.Identity()) is None
