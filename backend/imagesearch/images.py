"""Image decoding: bytes -> a safe RGB PIL image, guarded against bombs and odd modes."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from imagesearch.errors import ImageTooLargeError, InvalidImageError

# The pixel limit is enforced by decode_image before any pixel is decoded, so PIL's own global
# bomb check (a process-wide setting) is left at its default as a second line of defence.
_WHITE = (255, 255, 255)
# CLIP-style preprocessing scales the short side to ~224 px: a 10000x1 strip would become a
# 2-gigapixel buffer. Real panoramas stay far below this ratio.
MAX_ASPECT_RATIO = 50


def draft_min_side(draft_factor: int, input_side: int | None) -> int | None:
    """The ``min_side`` for ``decode_image``: ``draft_factor`` x the model's input side, or None
    (full decode) when the factor is 0 or the encoder has no fixed input side."""
    return draft_factor * input_side if draft_factor and input_side else None


def decode_image(data: bytes, max_pixels: int, min_side: int | None = None) -> Image.Image:
    """Decode ``data`` into an RGB image.

    With ``min_side``, a JPEG is decoded at a reduced scale (1/2, 1/4 or 1/8, scaled by libjpeg
    in the DCT: less pixel work, though entropy decoding still reads every byte) as long as both
    sides stay at least ``min_side`` pixels. Not bit-identical to a full decode plus resize.

    Reads only the header first and refuses images over ``max_pixels`` (decompression bombs)
    before decoding. Applies the EXIF orientation, takes the first frame of animations, and
    flattens transparency onto white (cut-outs on black would all look alike to the encoder).
    Raises InvalidImageError or ImageTooLargeError.
    """
    if not data:
        raise InvalidImageError("the image is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width <= 0 or height <= 0:
            raise InvalidImageError("the image has no pixels")
        if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
            raise InvalidImageError(
                f"the image is {width}x{height}; sides more than {MAX_ASPECT_RATIO}:1 are not supported"
            )
        if width * height > max_pixels:
            raise ImageTooLargeError(
                f"the image is {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,}"
            )
        if min_side is not None and image.format == "JPEG":
            image.draft(image.mode, (min_side, min_side))
        image.load()
        return to_rgb(ImageOps.exif_transpose(image))
    except (ImageTooLargeError, InvalidImageError):
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"the image is too large to decode safely: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise InvalidImageError("the data is not an image in a supported format") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # PIL reports truncated or corrupt files as OSError/SyntaxError/ValueError.
        raise InvalidImageError(f"the image could not be decoded (truncated or corrupt): {exc}") from exc


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB; transparent pixels become white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit greyscale: scale to 8 bits instead of clipping everything to white.
        image = image.point(lambda value: value * (1 / 256)).convert("L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode != "RGB":
        return image.convert("RGB")
    return image
