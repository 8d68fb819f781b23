"""remove_watermark: find the text the prompt asks for, mask it, inpaint it away.

Honest scope: what is removed is text (Chinese, Latin, digits), including faint semi-transparent
watermark text, which the sensitive detection pass finds. A logo or watermark that is purely
graphic (no letters) is not detected: nothing on CPU here recognises arbitrary brand marks, so such
a request removes the text that is there and leaves the mask empty where there is none. Callers can
tell from the returned mask (all zero = nothing found) and say so.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from easel.engines.inpaint import inpaint
from easel.engines.text.detect import TextRegion, detect_text
from easel.engines.text.mask import grown_quad, selected_regions, text_mask
from easel.engines.text.target import RemovalTarget, removal_target

# Ghost glyphs that survive the first fill are found again by detection on the result; their boxes
# are added to the mask with a wider margin and the fill is redone once.
_SECOND_GROW_FRACTION = 0.35

# (rgb, mask 255 = fill, seed) -> rgb: the deployment's erase engine; coherence transport by default.
Eraser = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def remove_text(rgb: np.ndarray, prompt: str = "", *, seed: int = 0,
                erase: Eraser | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Remove the text that `prompt` asks for; returns (result, mask used, 255 = filled).

    Pixels where the mask is 0 are returned unchanged, bit for bit.
    """
    target = removal_target(prompt)
    regions = selected_regions(detect_text(rgb, sensitive=True), target)
    mask = text_mask(rgb, regions, target)
    if not mask.any():
        return rgb.copy(), mask
    result = fill(rgb, mask, seed=seed, erase=erase)
    leftover = _leftover_text(result, mask, target)
    if leftover:
        # A re-read on a filled image can also see text in the fill's smears; the second mask may only
        # widen the first one around the lines found at the start, never open new areas.
        limit = _box_mask(rgb.shape[:2], regions, _SECOND_GROW_FRACTION)
        mask = mask | (_box_mask(rgb.shape[:2], leftover, _SECOND_GROW_FRACTION) & limit)
        result = fill(rgb, mask, seed=seed, erase=erase)
    return result, mask


def fill(rgb: np.ndarray, mask: np.ndarray, *, seed: int = 0, erase: Eraser | None = None) -> np.ndarray:
    """Inpaint where mask != 0; every other pixel is returned unchanged."""
    if not mask.any():
        return rgb.copy()
    filled = erase(rgb, mask, seed) if erase else inpaint(rgb, mask, seed=seed)
    # The contract is exact: whatever the inpainter does outside the hole is discarded.
    return np.where(mask[..., None] > 0, filled, rgb)


def _leftover_text(result: np.ndarray, mask: np.ndarray, target: RemovalTarget) -> list[TextRegion]:
    """Target-script text found again on the result where the mask was (remnants of glyph edges)."""
    leftover = []
    for region in detect_text(result, sensitive=True):
        if region.script not in target.scripts:
            continue
        inside = np.zeros_like(mask)
        cv2.fillPoly(inside, [np.round(region.polygon).astype(np.int32)], 255)
        if (inside & mask).any():
            leftover.append(region)
    return leftover


def _box_mask(shape: tuple[int, int], regions: list[TextRegion], grow_fraction: float) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for region in regions:
        height = float(np.linalg.norm(region.polygon[3] - region.polygon[0]))
        quad = grown_quad(region.polygon, round(max(4.0, grow_fraction * height)))
        cv2.fillPoly(mask, [np.round(quad).astype(np.int32)], 255)
    return mask
