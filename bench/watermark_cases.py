"""Constructed semi-transparent watermark cases on held-out photos (not scikit-image's).

Each mark is rendered as a coverage mask (PIL, Noto Sans CJK SC) and composited with the usual
blend I = (1 - a·c)·J + a·c·W (opacity a, glyph coverage c, mark colour W), the way stock-photo
sites stamp their previews. Shared by bench/bench_watermark_tiled.py and its tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FONT_BOLD = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
FONT_INDEX_SC = 2  # the .ttc holds JP, KR, SC, TC, HK; SC has the simplified forms
TILED_TEXT = "© PIXSTOCK 图库专用"
WHITE = (255.0, 255.0, 255.0)
BLACK = (0.0, 0.0, 0.0)
VISIBLE = 8  # levels (0-255, largest channel difference) at which a change shows


@dataclass
class MarkedCase:
    name: str
    clean: np.ndarray  # HxWx3 uint8
    image: np.ndarray  # the clean photo with the mark blended in
    coverage: np.ndarray  # HxW float32 in [0, 1]: the mark's alpha is opacity * coverage
    opacity: float
    colour: tuple[float, float, float]

    @property
    def alpha(self) -> np.ndarray:
        return self.opacity * self.coverage


def held_out_photo(name: str) -> np.ndarray:
    """china / flower (scikit-learn) or grace_hopper (matplotlib), RGB uint8."""
    if name == "grace_hopper":
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as handle:
            return np.asarray(Image.open(handle).convert("RGB"))
    from sklearn.datasets import load_sample_image

    return load_sample_image(f"{name}.jpg")


def blend(clean: np.ndarray, coverage: np.ndarray, opacity: float, colour: tuple[float, float, float]) -> np.ndarray:
    alpha = (opacity * coverage)[..., None]
    out = (1.0 - alpha) * clean.astype(np.float32) + alpha * np.float32(colour)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def footprint(marked: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Where the mark moved a pixel visibly."""
    return np.abs(marked.astype(np.int16) - clean).max(axis=2) > VISIBLE


def psnr_in(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    diff = a[where].astype(np.float64) - b[where]
    return float(10 * np.log10(255**2 / max(np.mean(diff**2), 1e-9)))


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_BOLD if bold else FONT, size, index=FONT_INDEX_SC)


def tiled_coverage(shape: tuple[int, int], text: str, size: int, angle: float, gap: float = 1.0) -> np.ndarray:
    """The text repeated on a staggered grid over a canvas larger than the image, rotated by `angle`
    degrees (counter-clockwise) about the centre and cropped to `shape`."""
    h, w = shape
    side = int(np.hypot(h, w)) + 4 * size
    canvas = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(canvas)
    font = _font(size, bold=True)
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    step_x = round((x1 - x0) * (1 + gap))
    step_y = round((y1 - y0) * 3.2)
    for row, y in enumerate(range(-y0, side, step_y)):
        shift = (step_x // 2) * (row % 2)
        for x in range(-x0 - shift, side, step_x):
            draw.text((x, y), text, font=font, fill=255)
    rotated = canvas.rotate(angle, resample=Image.Resampling.BICUBIC)
    left, top = (side - w) // 2, (side - h) // 2
    return np.asarray(rotated.crop((left, top, left + w, top + h)), np.float32) / 255.0


def single_coverage(shape: tuple[int, int], text: str, size: int, angle: float) -> np.ndarray:
    """One line of text centred in the image, rotated by `angle` degrees (counter-clockwise)."""
    h, w = shape
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    font = _font(size, bold=True)
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    draw.text(((w - (x1 - x0)) // 2 - x0, (h - (y1 - y0)) // 2 - y0), text, font=font, fill=255)
    rotated = canvas.rotate(angle, resample=Image.Resampling.BICUBIC, center=(w / 2, h / 2))
    return np.asarray(rotated, np.float32) / 255.0


def logo_coverage(shape: tuple[int, int], text: str, size: int) -> np.ndarray:
    """A centred logo: a ring with a four-point star inside it, the brand text below."""
    h, w = shape
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    font = _font(size, bold=True)
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    radius = round(1.4 * size)
    total_h = 2 * radius + size // 2 + (y1 - y0)
    cx, top = w // 2, (h - total_h) // 2
    cy = top + radius
    ring = max(3, size // 6)
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=255, width=ring)
    r_in, r_out = radius * 0.18, radius * 0.72
    star = []
    for k in range(8):
        r = r_out if k % 2 == 0 else r_in
        angle = np.pi / 2 + k * np.pi / 4
        star.append((cx + r * np.cos(angle), cy - r * np.sin(angle)))
    draw.polygon(star, fill=255)
    ty = top + 2 * radius + size // 2
    draw.text((cx - (x1 - x0) // 2 - x0, ty - y0), text, font=font, fill=255)
    return np.asarray(canvas, np.float32) / 255.0


def held_out_cases() -> list[MarkedCase]:
    """Per photo: a 30° tiled mark at 40 % (white, and black), a centred 45 % logo, a single 45° mark."""
    out = []
    for name in ("china", "flower", "grace_hopper"):
        clean = held_out_photo(name)
        shape = clean.shape[:2]
        unit = min(shape) / 427  # font sizes are chosen at 427 px (the sklearn photos' height)
        specs = [
            ("tiled-white", tiled_coverage(shape, TILED_TEXT, round(26 * unit), 30), 0.40, WHITE),
            ("tiled-black", tiled_coverage(shape, TILED_TEXT, round(26 * unit), 30), 0.40, BLACK),
            ("logo", logo_coverage(shape, "PIXSTOCK", round(40 * unit)), 0.45, WHITE),
            ("diagonal", single_coverage(shape, "SAMPLE 样图", round(48 * unit), 45), 0.45, WHITE),
        ]
        for kind, coverage, opacity, colour in specs:
            marked = blend(clean, coverage, opacity, colour)
            out.append(MarkedCase(f"{name}/{kind}", clean, marked, coverage, opacity, colour))
    return out
