"""Words drawn onto real photos with Debian's DejaVu fonts, for the OCR tests and bench/bench_ocr.py.

The fonts come from ``fonts-dejavu-core`` (``apt-get install -y fonts-dejavu-core``); callers skip
with that hint when a font file is missing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {
    "sans": "DejaVuSans.ttf",
    "sans-bold": "DejaVuSans-Bold.ttf",
    "serif": "DejaVuSerif.ttf",
    "serif-bold": "DejaVuSerif-Bold.ttf",
    "mono": "DejaVuSansMono.ttf",
    "mono-bold": "DejaVuSansMono-Bold.ttf",
}
INSTALL_HINT = "DejaVu fonts missing: apt-get install -y --no-install-recommends fonts-dejavu-core"


@dataclass(frozen=True)
class TextStyle:
    """How the words are drawn: font key of FONTS, size in px, angle in degrees, colours."""

    font: str = "sans-bold"
    size: int = 40
    angle: float = 0.0
    ink: tuple[int, int, int] = (20, 20, 20)
    plate: tuple[int, int, int] | None = (245, 245, 235)  # sign background; None: straight on the photo


def font_path(key: str) -> Path:
    return DEJAVU_DIR / FONTS[key]


def fonts_available() -> bool:
    return all(font_path(key).is_file() for key in FONTS)


def draw_text(photo: Image.Image, lines: list[str], style: TextStyle, at: tuple[int, int]) -> Image.Image:
    """``photo`` (RGB) with ``lines`` drawn as one sign whose top-left corner is near ``at``."""
    font = ImageFont.truetype(str(font_path(style.font)), style.size)
    text = "\n".join(lines)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    box = probe.multiline_textbbox((0, 0), text, font=font, spacing=style.size // 3)
    left, top, right, bottom = (round(value) for value in box)
    pad = style.size // 3
    sign = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 0))
    draw = ImageDraw.Draw(sign)
    if style.plate is not None:
        draw.rectangle((0, 0, sign.width - 1, sign.height - 1), fill=(*style.plate, 255))
    draw.multiline_text(
        (pad - left, pad - top), text, font=font, fill=(*style.ink, 255), spacing=style.size // 3
    )
    if style.angle:
        sign = sign.rotate(style.angle, expand=True, resample=Image.Resampling.BICUBIC)
    out = photo.convert("RGB").copy()
    x = max(0, min(at[0], out.width - sign.width))
    y = max(0, min(at[1], out.height - sign.height))
    out.paste(sign, (x, y), sign)
    return out
