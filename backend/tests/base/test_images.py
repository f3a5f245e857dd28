import io

import numpy as np
import pytest
from PIL import Image

from imagesearch.errors import ImageTooLargeError, InvalidImageError
from imagesearch.images import decode_image

MAX_PIXELS = 4_000_000


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def test_rgb_jpeg_round_trip() -> None:
    image = Image.new("RGB", (64, 48), (10, 200, 30))
    decoded = decode_image(encode(image, "JPEG"), MAX_PIXELS)
    assert decoded.mode == "RGB" and decoded.size == (64, 48)


def test_transparency_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    decoded = decode_image(encode(image, "PNG"), MAX_PIXELS)
    assert decoded.getpixel((5, 5)) == (255, 255, 255)
    assert decoded.getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "LA", "1"])
def test_other_modes_become_rgb(mode: str) -> None:
    image = Image.new("RGB", (16, 16), (120, 60, 30)).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    assert decode_image(encode(image, fmt), MAX_PIXELS).mode == "RGB"


def test_sixteen_bit_greyscale_keeps_its_levels() -> None:
    array = np.full((8, 8), 32768, dtype=np.uint16)
    decoded = decode_image(encode(Image.fromarray(array), "PNG"), MAX_PIXELS)
    assert decoded.mode == "RGB"
    assert 120 <= decoded.getpixel((0, 0))[0] <= 135  # mid-grey, not clipped to white


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    decoded = decode_image(encode(image, "JPEG", exif=exif.tobytes()), MAX_PIXELS)
    assert decoded.size == (20, 40)


def test_animated_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (12, 12), colour) for colour in ((255, 0, 0), (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    decoded = decode_image(buffer.getvalue(), MAX_PIXELS)
    red, green, _ = decoded.getpixel((6, 6))
    assert red > 200 and green < 50


@pytest.mark.parametrize("data", [b"", b"x", b"plain text renamed to .jpg", b"PK\x03\x04zipfile"])
def test_non_images_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidImageError):
        decode_image(data, MAX_PIXELS)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_images_are_refused(fmt: str) -> None:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8))
    data = encode(image, fmt)
    with pytest.raises(InvalidImageError):
        decode_image(data[: len(data) // 2], MAX_PIXELS)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    # 1-bit PNG of 20000 x 20000 pixels: tiny file, 400 MP once decoded.
    bomb = encode(Image.new("1", (20_000, 20_000)), "PNG")
    assert len(bomb) < 200_000
    with pytest.raises(ImageTooLargeError, match="pixels"):
        decode_image(bomb, MAX_PIXELS)


def test_degenerate_strips_are_refused() -> None:
    with pytest.raises(InvalidImageError, match="50:1"):
        decode_image(encode(Image.new("RGB", (10_000, 1)), "PNG"), MAX_PIXELS)
    assert decode_image(encode(Image.new("RGB", (4000, 400)), "PNG"), MAX_PIXELS).size == (4000, 400)
