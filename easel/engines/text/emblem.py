"""The graphic part of a semi-transparent logo (ring, star) next to its text.

OCR finds only the logo's letters. Once their line has a reliable blend (local.py: one opacity and
one colour read over smooth ground, and an inversion that passed its check), the rest of the logo
was stamped at the same opacity in the same colour. Around the line (a few line heights) the
strokes are the connected components of the colour shift towards that colour whose pixels over
smooth ground imply the SAME opacity (within a tolerance), and that are thin (outlines, not areas).
Everything else is the photo's: highlights on petals or skin imply α that drifts with the ground,
so they fail the opacity test. α stays 0 over textured ground (as for the line), and the caller
keeps the result only if the inversion check passes.
"""

from __future__ import annotations

import cv2
import numpy as np

from easel.engines.text.blend import Blend, alpha_of_shift, background_without, stroke_sigma
from easel.engines.text.local import (
    ESTIMATE_CONTRAST,
    SMOOTH_RMS,
    dilated,
    ground_rms,
    padded_rect,
    quad_mask,
    shaped_alpha,
)
from easel.engines.text.mask import grown_quad

# How far around the line the logo's emblem is looked for, in line heights.
_REACH_LINES = 3.0
# A stroke pixel's implied α agrees with the line's opacity within this share of it.
_OPACITY_TOLERANCE = 0.2
# ... and at least this share of a component's smooth-ground interior pixels must agree, from at
# least this many pixels.
_MIN_AGREEING_SHARE = 0.7
_MIN_AGREEING_PIXELS = 40
# Strokes are thin: the 90th percentile of a component's half-width at most this share of the line
# height (a ring or star outline; a sunlit area is wide).
_MAX_HALF_WIDTH_SHARE = 0.3
# Components smaller than this share of the line height squared are specks.
_MIN_COMPONENT_SHARE = 0.1


def emblem_blend(rgb: np.ndarray, polygon: np.ndarray, line: Blend) -> Blend | None:
    """The blend of the logo strokes near the text line `polygon` whose blend is `line`, outside the
    line itself; None when no component is consistent with the line's opacity and colour."""
    opacity, colour = float(line.alpha.max()), line.colour
    line_height = float(np.linalg.norm(polygon[3] - polygon[0]))
    shape = rgb.shape[:2]
    reach = quad_mask(shape, grown_quad(polygon, round(_REACH_LINES * line_height)))
    x, y, w, h = padded_rect(reach, round(line_height))
    crop = rgb[y : y + h, x : x + w]
    text_box = quad_mask(shape, grown_quad(polygon, round(max(3.0, 0.25 * line_height))))[y : y + h, x : x + w] > 0
    search = (reach[y : y + h, x : x + w] > 0) & ~text_box
    k = min(255, max(3, int(line_height) | 1))
    rough = np.nan_to_num(alpha_of_shift(crop, cv2.medianBlur(crop, k).astype(np.float32), colour))
    candidates = (rough > 0.5 * opacity) & search
    if not candidates.any():
        return None
    background = background_without(crop, dilated(candidates, 1), stroke_sigma(candidates))
    smooth = ground_rms(crop, background, dilated(candidates, 2)) < SMOOTH_RMS
    far = np.linalg.norm(colour[None, None, :] - background, axis=2) >= ESTIMATE_CONTRAST
    measured = np.nan_to_num(alpha_of_shift(crop, background, colour))
    strokes = _consistent_components(measured > 0.5 * opacity, measured, opacity, smooth & far, search, line_height)
    if not strokes.any():
        return None
    over_smooth = cv2.erode(smooth.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    full = np.zeros(shape, np.float32)
    full[y : y + h, x : x + w] = np.where(over_smooth, shaped_alpha(strokes, measured, opacity), 0.0)
    full[y : y + h, x : x + w][text_box] = 0.0
    return Blend(full, colour) if full.any() else None


def _consistent_components(
    shifted: np.ndarray,
    measured: np.ndarray,
    opacity: float,
    readable: np.ndarray,
    search: np.ndarray,
    line_height: float,
) -> np.ndarray:
    """The thin components of `shifted` inside `search` whose readable interior pixels imply `opacity`."""
    closed = cv2.morphologyEx((shifted & search).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    interior = cv2.erode(closed, np.ones((3, 3), np.uint8)) > 0
    half_width = cv2.distanceTransform(closed, cv2.DIST_L2, 3)
    keep = np.zeros(count, bool)
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] < _MIN_COMPONENT_SHARE * line_height**2:
            continue
        part = labels == label
        if float(np.percentile(half_width[part], 90)) > _MAX_HALF_WIDTH_SHARE * line_height:
            continue
        values = measured[part & interior & readable]
        agreeing = np.abs(values - opacity) <= _OPACITY_TOLERANCE * opacity
        keep[label] = values.size >= _MIN_AGREEING_PIXELS and float(agreeing.mean()) >= _MIN_AGREEING_SHARE
    return keep[labels] & search
