"""A single semi-transparent mark over texture (remove_watermark, glyph.py): the characters OCR read
are rendered and registered on the mark, so the photo under the whole line comes back, fur and
skin included, where the smooth-ground estimate (local.py) refuses the line and inpaints it. Marks
in a typeface the renderer does not have are left to the old path, never made worse.
Constructed on scikit-image photos (the development set)."""

from __future__ import annotations

import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from watermark_cases import BLACK, WHITE, blend, footprint, psnr_in, single_coverage

from easel.engines.text import remove_text
from easel.engines.text.glyph import line_strip, register

PROMPT = "去除水印"
NOTO_SANS_REGULAR = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2)
# Not among the faces glyph.py renders (Noto Sans CJK): a serif with other letter shapes and widths.
LIBERATION_SERIF_BOLD = ("/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf", 0)


def line_coverage(shape: tuple[int, int], text: str, face: tuple[str, int], size: int) -> np.ndarray:
    """One horizontal line of `text` centred in the image, in the given font file."""
    h, w = shape
    font = ImageFont.truetype(face[0], size, index=face[1])
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    draw.text(((w - (x1 - x0)) // 2 - x0, (h - (y1 - y0)) // 2 - y0), text, font=font, fill=255)
    return np.asarray(canvas, np.float32) / 255.0


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.chelsea())


def test_mark_over_fur_is_recovered_not_inpainted(chelsea: np.ndarray) -> None:
    # Across the cat's face and fur: too little smooth ground for local.py, so before glyph.py the
    # whole line was inpainted (18 dB in the footprint, a smear across the fur); now about 32 dB.
    coverage = line_coverage(chelsea.shape[:2], "水印 WATERMARK", NOTO_SANS_REGULAR, 40)
    marked = blend(chelsea, coverage, 0.35, WHITE)
    foot = footprint(marked, chelsea)
    easel, mask = remove_text(marked, PROMPT)
    base, _ = remove_text(marked, PROMPT, unblend=False)
    assert psnr_in(easel, chelsea, foot) > 26
    assert psnr_in(easel, chelsea, foot) > psnr_in(base, chelsea, foot) + 6
    assert np.array_equal(easel[mask == 0], marked[mask == 0])


def test_registration_keeps_reading_order_past_a_misread_character() -> None:
    # OCR often adds a letter from nearby edges ("YSAMPLE"); the real letters must keep their places.
    ground = np.full((240, 480, 3), (60, 90, 120), np.uint8)
    coverage = single_coverage(ground.shape[:2], "SAMPLE", 48, 0)
    marked = blend(ground, coverage, 0.45, WHITE)
    ys, xs = np.nonzero(coverage > 0.5)
    polygon = np.float32([[xs.min(), ys.min()], [xs.max(), ys.min()], [xs.max(), ys.max()], [xs.min(), ys.max()]])
    strip, _ = line_strip(marked, polygon)
    fit = register(strip, "YSAMPLE", float(ys.max() - ys.min()))
    assert fit is not None and fit.colour.min() == 255
    good = [p for p in fit.placed if p.score >= 0.5]
    assert "".join(p.char for p in good) == "SAMPLE"
    assert all(a.x < b.x for a, b in pairwise(good))


@pytest.mark.parametrize(("name", "colour"), [("chelsea", WHITE), ("chelsea", BLACK), ("astronaut", BLACK)])
def test_mark_in_an_unknown_typeface_is_no_worse_than_inpainting(name: str, colour: tuple[float, float, float]) -> None:
    # On astronaut, a black serif mark was once read as white sans letters fitted between its strokes
    # (glyph.py's opacity-spread rule rejects that reading).
    from skimage import data

    photo = np.ascontiguousarray(getattr(data, name)())
    coverage = line_coverage(photo.shape[:2], "WATERMARK", LIBERATION_SERIF_BOLD, 44)
    marked = blend(photo, coverage, 0.4, colour)
    foot = footprint(marked, photo)
    easel, _ = remove_text(marked, PROMPT)
    base, _ = remove_text(marked, PROMPT, unblend=False)
    assert psnr_in(easel, photo, foot) >= psnr_in(base, photo, foot) - 0.5
