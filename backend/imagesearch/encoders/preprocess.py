"""CLIP's image preprocessing without torch: what the torch-free query encoder (onnx_serving.py)
and the fetch/decode threads need.

open_clip's evaluation transform for a square model input is torchvision's
``Resize(size, bicubic) -> CenterCrop(size) -> convert("RGB") -> ToTensor -> Normalize``. On a
PIL image the first three are Pillow calls (torchvision computes a size and a box and hands
them to ``Image.resize`` / ``Image.crop``) and the last two are float32 arithmetic, so both can
run without torch. ``ResizeCrop`` does the same calls with the same numbers; it is described
from the real transform when the query towers are exported (fast_paths.describe_preprocess) and
checked there against it on probe images, pixel for pixel, before an entry is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

# torchvision's InterpolationMode -> Pillow's resampling filter (torchvision's pil_modes_mapping).
RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


class NumpyTail:
    """The ``ToTensor`` + ``Normalize`` end of a torchvision preprocessing chain, in numpy.

    Bit-for-bit the same float32 operations ((pixel / 255 - mean) / std, channels first), but no
    torch call, so the fetch/decode threads never start OpenMP teams of their own (see
    compute.py); the geometric steps before it (resize, crop, RGB conversion) are PIL
    operations and run unchanged.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self._mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self._std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)

    def __call__(self, image: Image.Image) -> npt.NDArray[np.float32]:
        pixels = np.asarray(image, dtype=np.uint8)
        if pixels.ndim != 3 or pixels.shape[2] != len(self._mean):
            raise ValueError(f"expected an {len(self._mean)}-channel 8-bit image, got shape {pixels.shape}")
        chw = pixels.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
        return np.ascontiguousarray((chw - self._mean) / self._std, dtype=np.float32)


@dataclass(frozen=True)
class ResizeCrop:
    """Shorter side to ``size`` (Pillow ``interpolation``), centre crop ``size`` x ``size``, RGB,
    then ``(pixel / 255 - mean) / std``: open_clip's evaluation transform for a square input."""

    size: int
    interpolation: str  # a key of RESAMPLE
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.interpolation not in RESAMPLE:
            raise ValueError(f"unsupported interpolation {self.interpolation!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ResizeCrop:
        return cls(
            size=int(values["size"]),
            interpolation=str(values["interpolation"]),
            mean=tuple(float(x) for x in values["mean"]),
            std=tuple(float(x) for x in values["std"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def pil_steps(self, image: Image.Image) -> Image.Image:
        """Resize + centre crop + RGB, as torchvision does them on a PIL image."""
        width, height = image.size
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = self.size, int(self.size * long / short)
        size = (new_short, new_long) if width <= height else (new_long, new_short)
        if size != (width, height):  # torchvision returns the image untouched at its size
            image = image.resize(size, RESAMPLE[self.interpolation])
        if min(size) < self.size:  # a shorter side resized to `size` never is
            raise ValueError(f"image {size} is smaller than the crop {self.size}")
        left = round((size[0] - self.size) / 2.0)
        top = round((size[1] - self.size) / 2.0)
        return image.crop((left, top, left + self.size, top + self.size)).convert("RGB")

    def __call__(self, image: Image.Image) -> npt.NDArray[np.float32]:
        """One PIL image -> (3, size, size) float32, the model's input."""
        return NumpyTail(self.mean, self.std)(self.pil_steps(image))
