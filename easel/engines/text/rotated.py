"""Text at a slant: detection on rotated copies of the photo.

PP-OCR's recogniser reads horizontal lines; a single diagonal mark ("SAMPLE 样图" at 45°) is found
upright at best in pieces ("图"). Each copy here is the photo turned so that a line at that slant
lies flat (expanded canvas, edges replicated), scaled down to the photo's own area where the detector
would not upscale it anyway; the sensitive pass (the one that reads faint marks) runs on it and its
lines are mapped back. A line found at several slants, or upright too, is kept once: the one read
with the most characters wins (NMS by polygon overlap).

Cost: one sensitive pass per angle, so the caller runs this only when the upright passes read no
line of some length (see removal.py).
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from easel.engines.text.detect import MIN_FAINT_TEXT_SCORE, TextRegion, detect_faint

# Slants tried, degrees counter-clockwise of the text (the copy is turned back by as much). ±45 first:
# a mark at 30° is still read on the 45° copy (15° off), so the search stops at the first slant that
# reads a line.
ANGLES = (45.0, -45.0, 30.0, -30.0)
# Lines read on a turned copy are kept only at this recogniser confidence and with at least two
# characters: resampling adds edges that the recogniser sometimes reads as one letter.
_MIN_SCORE = max(MIN_FAINT_TEXT_SCORE, 0.7)
_MIN_CHARS = 2
# The detector upscales images whose short side is below this (RapidOCR's limit_side_len): a copy is
# never scaled below it, since that would save nothing.
_DETECTOR_MIN_SIDE = 736
# Two lines are one when this share of the smaller one lies inside the other.
_SAME_LINE_OVERLAP = 0.5


def rotated_regions(rgb: np.ndarray, angles: tuple[float, ...] = ANGLES) -> list[TextRegion]:
    """Lines read on copies turned by `angles`, in the photo's coordinates (first slant that reads any)."""
    for angle in angles:
        found = [_mapped(r, m) for r, m in _read_turned(rgb, angle)]
        found = [r for r in found if _inside(r.polygon, rgb.shape[:2])]
        if found:
            return found
    return []


def merged(upright: list[TextRegion], slanted: list[TextRegion]) -> list[TextRegion]:
    """Upright and slanted lines with each line kept once: where they overlap, the one read with
    more characters (a slanted "SAMPLE" over the upright "图" that was part of it); with as many,
    the slanted one over a reading of the saturation image ("样图" over "样月"). A line that replaces
    such a reading stays removable only by un-blending, as that reading was (TextRegion.recover_only)."""
    kept = list(upright)
    for line in sorted(slanted, key=_char_count, reverse=True):
        clashes = [other for other in kept if _overlap(line.polygon, other.polygon) >= _SAME_LINE_OVERLAP]
        if all(_reads_more(line, other) for other in clashes):
            if any(other.recover_only for other in clashes):
                line = replace(line, recover_only=True)
            kept = [other for other in kept if not any(other is c for c in clashes)] + [line]
    return kept


def _reads_more(line: TextRegion, other: TextRegion) -> bool:
    count, other_count = _char_count(line), _char_count(other)
    return count > other_count or (count == other_count and other.recover_only and not line.recover_only)


def _read_turned(rgb: np.ndarray, angle: float) -> list[tuple[TextRegion, np.ndarray]]:
    """(line in the turned copy, 2x3 matrix from the copy back to the photo) for each line read."""
    turned, to_copy = _turned(rgb, -angle)
    back = cv2.invertAffineTransform(to_copy)
    lines = detect_faint(turned, desaturation=False)
    return [(r, back) for r in lines if r.score >= _MIN_SCORE and _char_count(r) >= _MIN_CHARS]


def _turned(rgb: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """The photo rotated by `angle` (degrees, counter-clockwise) on a canvas holding all of it, scaled
    to about the photo's area; with the 2x3 matrix from photo to copy."""
    h, w = rgb.shape[:2]
    cos, sin = abs(np.cos(np.radians(angle))), abs(np.sin(np.radians(angle)))
    full_w, full_h = w * cos + h * sin, w * sin + h * cos
    scale = min(1.0, max(np.sqrt(h * w / (full_w * full_h)), _DETECTOR_MIN_SIDE / min(full_w, full_h)))
    out_w, out_h = round(full_w * scale), round(full_h * scale)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[:, 2] += (out_w / 2 - w / 2, out_h / 2 - h / 2)
    turned = cv2.warpAffine(rgb, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return turned, matrix


def _mapped(region: TextRegion, back: np.ndarray) -> TextRegion:
    polygon = (region.polygon @ back[:, :2].T + back[:, 2]).astype(np.float32)
    return TextRegion(polygon, region.text, region.score, region.script, faint=True)


def _inside(polygon: np.ndarray, shape: tuple[int, int]) -> bool:
    """Whether the line's centre lies in the photo (not in the replicated edges of the canvas)."""
    x, y = polygon.mean(axis=0)
    return 0 <= x < shape[1] and 0 <= y < shape[0]


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller area."""
    inter, _ = cv2.intersectConvexConvex(a.astype(np.float32), b.astype(np.float32))
    smaller = min(abs(cv2.contourArea(a)), abs(cv2.contourArea(b)))
    return float(inter) / smaller if smaller > 0 else 0.0


def _char_count(region: TextRegion) -> int:
    return sum(1 for ch in region.text if not ch.isspace())
