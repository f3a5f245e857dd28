"""Real image files for tests: varied shapes, colours, sizes and formats, made with PIL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = [
    (220, 40, 40), (40, 160, 60), (40, 80, 220), (240, 200, 30), (150, 60, 190),
    (30, 190, 200), (250, 130, 20), (90, 90, 90), (250, 250, 250), (20, 20, 20),
]  # fmt: skip


def make_image(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A distinct picture per seed: a textured background with a few filled shapes."""
    rng = np.random.default_rng(seed)
    width, height = size
    base = np.array(COLOURS[seed % len(COLOURS)], dtype=np.float32)
    gradient = np.linspace(0.6, 1.2, width, dtype=np.float32)[None, :, None]
    noise = rng.normal(0, 18, (height, width, 3)).astype(np.float32)
    pixels = np.clip(base[None, None, :] * gradient + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
        x1, y1 = x0 + int(rng.integers(30, width // 2)), y0 + int(rng.integers(30, height // 2))
        colour = COLOURS[int(rng.integers(0, len(COLOURS)))]
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    return image


def write_images(folder: Path, count: int, start: int = 0) -> list[Path]:
    """Write ``count`` images, alternating JPEG and PNG, in nested folders."""
    paths = []
    for seed in range(start, start + count):
        sub = folder / f"set{seed % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        suffix = ".jpg" if seed % 2 == 0 else ".png"
        path = sub / f"img{seed:04d}{suffix}"
        make_image(seed, (280 + 7 * (seed % 11), 210 + 5 * (seed % 7))).save(path)
        paths.append(path)
    return paths
