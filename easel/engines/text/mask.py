"""Removal masks from text regions.

Each detected box is grown past the glyph edges (anti-aliasing, shadows). Inside it, the glyph
strokes themselves are found (pixels that stand out from a median-filtered background) and only
they, widened, are masked: an inpainter fills thin strokes far better than whole boxes. Where the
strokes cannot be told from the background (busy texture, very faint text) the whole box is used.
"""

from __future__ import annotations

import cv2
import numpy as np

from easel.engines.text.detect import TextRegion
from easel.engines.text.target import RemovalTarget

# The detector's boxes hug the glyph bodies; soft edges, thin serifs and drop shadows reach a little
# further, and any of them left behind reads as a ghost of the text after inpainting.
GROW_FRACTION = 0.2
MIN_GROW_PX = 3


def selected_regions(regions: list[TextRegion], target: RemovalTarget) -> list[TextRegion]:
    """The regions whose script the target asks to remove."""
    return [r for r in regions if r.script in target.scripts]


# A stroke mask is trusted only when it covers a plausible share of its box: glyphs fill roughly
# 10-60 % of a tight line box; much less means strokes were missed, much more that texture was taken.
_MIN_GLYPH_SHARE = 0.06
_MAX_GLYPH_SHARE = 0.7
# Contrast (0-255, largest channel difference to the background) below which a pixel is background.
_MIN_STROKE_CONTRAST = 10


def text_mask(
    rgb: np.ndarray,
    regions: list[TextRegion],
    target: RemovalTarget,
    grow_px: int | None = None,
    *,
    glyphs: bool = True,
) -> np.ndarray:
    """uint8 mask (255 = remove) of the target's regions.

    Each box is grown by grow_px (default: 20 % of its line height, at least 3 px) along and across
    its own reading direction. With glyphs=True only the widened strokes inside it are masked where
    they can be found reliably; the mask never reaches outside the grown box.
    """
    mask = np.zeros(rgb.shape[:2], np.uint8)
    for region in selected_regions(regions, target):
        box = np.zeros_like(mask)
        cv2.fillPoly(box, [np.round(grown_quad(region.polygon, grow_px)).astype(np.int32)], 255)
        part = _stroke_mask(rgb, box, region) if glyphs else None
        mask |= box if part is None else part
    return mask


def _stroke_mask(rgb: np.ndarray, box: np.ndarray, region: TextRegion) -> np.ndarray | None:
    """Widened glyph strokes inside `box`, or None when they cannot be separated from background."""
    x, y, w, h = cv2.boundingRect(box)
    if w < 4 or h < 4:
        return None
    roi = rgb[y : y + h, x : x + w]
    inside = box[y : y + h, x : x + w] > 0
    line_height = float(np.linalg.norm(region.polygon[3] - region.polygon[0]))
    # Strokes are thin against the line height, so a median over ~half a line sees mostly background.
    k = max(3, int(line_height * 0.6) | 1)
    background = cv2.medianBlur(roi, min(k, 255))
    contrast = np.abs(roi.astype(np.int16) - background.astype(np.int16)).max(axis=2).astype(np.uint8)
    values = contrast[inside]
    level, _ = cv2.threshold(values.reshape(-1, 1), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    strokes = (contrast > max(level, _MIN_STROKE_CONTRAST)) & inside
    share = strokes.sum() / max(1, inside.sum())
    if not _MIN_GLYPH_SHARE <= share <= _MAX_GLYPH_SHARE:
        return None
    radius = max(2, round(0.1 * line_height))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    widened = cv2.dilate(strokes.astype(np.uint8) * 255, kernel) & box[y : y + h, x : x + w]
    out = np.zeros_like(box)
    out[y : y + h, x : x + w] = widened
    return out


def grown_quad(polygon: np.ndarray, grow_px: int | None = None) -> np.ndarray:
    """The quadrilateral moved outward by `grow_px` on every side (rotated boxes stay rotated)."""
    tl, tr, br, bl = np.asarray(polygon, np.float32)
    height = float(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr), 1.0))
    grow = float(grow_px) if grow_px is not None else max(MIN_GROW_PX, GROW_FRACTION * height)
    along = _unit((tr - tl) + (br - bl))
    across = _unit((bl - tl) + (br - tr))
    a, c = along * grow, across * grow
    return np.array([tl - a - c, tr + a - c, br + a + c, bl - a + c], np.float32)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else np.zeros(2, np.float32)
