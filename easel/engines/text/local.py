"""A single semi-transparent mark: its blend estimated from the one copy there is.

Mark text is stamped at one opacity in one colour, so the estimate is two numbers for the whole
line plus the glyph shape, never an α per pixel: read off each pixel over skin or texture, α follows
the photo's own detail and the inversion paints that detail as blotches. Both numbers come from the
stroke interiors that lie over smooth ground (low deviation from the background interpolated from
outside the strokes), where the colour shift is the mark's alone. The glyph coverage is the
thresholded, cleaned colour shift along the line, full inside the strokes, and the measured shift
(capped at the opacity) on a 1-px rim for the anti-aliased edges; α = opacity × coverage.

Whether the estimate is good enough to use is decided after the inversion (blend.mark_left): an
estimate that leaves the glyphs, or carves negative ones, sends the line back to the inpainter.
"""

from __future__ import annotations

import cv2
import numpy as np

from easel.engines.text.blend import Blend, alpha_of_shift, background_without, stroke_sigma
from easel.engines.text.mask import grown_quad

# α below which a pixel is taken for photo, before the opacity is known.
_START_ALPHA = 0.12
# Grey RMS (0-255) of the photo around a pixel, measured outside the strokes, below which its ground
# is smooth enough for the colour shift there to be the mark's alone.
SMOOTH_RMS = 6.0
# The ground's deviation from the interpolated background is averaged over this blur (px).
_RMS_SIGMA = 5.0
# At least this many smooth-ground stroke interior pixels to estimate opacity and colour from.
_MIN_SMOOTH_PIXELS = 30
# Stroke interiors over smooth ground agree on α within this relative spread (median absolute
# deviation / opacity) under the right mark colour; a wider spread is photo read as mark.
_MAX_ALPHA_SPREAD = 0.25
# ... and at least this share of the line's stroke interiors must lie over smooth ground.
_MIN_SMOOTH_SHARE = 0.15
# Opacity and colour are read only where the ground is this far (0-255, RGB distance) from the mark
# colour: nearer, a few levels of noise read as a large α (a white mark over a white shirt).
ESTIMATE_CONTRAST = 80.0
# A reading above this opacity is dark or bright photo detail, not a see-through mark (those sit at
# 20-60 %): it does not compete with the other colour's reading.
_MAX_OPACITY = 0.75
# Mark colours tried: white and black, and greys on each side; a grey must fit this much better.
_LIGHT_GREYS = (255.0,)
_DARK_GREYS = (0.0,)
_GREY_HANDICAP = 1.25
# A pixel is stroke where its α is at least this share of the opacity.
_COVERAGE_THRESHOLD = 0.5
# Stroke components smaller than this share of the line height squared are photo specks.
_MIN_COMPONENT_SHARE = 0.02
# Stroke pixels must cover a plausible share of the line's box (glyphs fill about 10-60 % of it).
_MIN_STROKE_SHARE = 0.04
_MAX_STROKE_SHARE = 0.75


def region_blend(rgb: np.ndarray, polygon: np.ndarray) -> Blend | None:
    """The blend of the mark text in `polygon` as a full-size Blend; None when no consistent mark
    (one opacity, one colour over the smooth parts of the line) is found."""
    line_height = float(np.linalg.norm(polygon[3] - polygon[0]))
    h, w = rgb.shape[:2]
    box = quad_mask((h, w), grown_quad(polygon, round(max(3.0, 0.25 * line_height))))
    x, y, bw, bh = padded_rect(box, round(line_height))
    crop = rgb[y : y + bh, x : x + bw]
    estimate = _crop_blend(crop, box[y : y + bh, x : x + bw] > 0, line_height)
    if estimate is None:
        return None
    alpha, colour = estimate
    full = np.zeros((h, w), np.float32)
    full[y : y + bh, x : x + bw] = alpha
    return Blend(full, colour)


def _crop_blend(crop: np.ndarray, box: np.ndarray, line_height: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Tries a light and a dark mark; keeps the one whose strokes agree best on one opacity.

    Over busy ground the sign of the strokes' contrast is no guide (detail is both lighter and
    darker), hence both tries; read with the wrong side, the strokes over smooth ground do not share
    one α.
    """
    k = max(3, int(line_height * 0.6) | 1)
    rough_background = cv2.medianBlur(crop, min(k, 255)).astype(np.float32)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for greys in (_LIGHT_GREYS, _DARK_GREYS):
        found = _blend_for_side(crop, rough_background, greys, box, line_height)
        if found is not None and (best is None or found[0] < best[0]):
            best = found
    return None if best is None else (best[1], best[2])


def _blend_for_side(
    crop: np.ndarray, rough_background: np.ndarray, greys: tuple[float, ...], box: np.ndarray, line_height: float
) -> tuple[float, np.ndarray, np.ndarray] | None:
    """(spread, α map, colour) for a mark of this side (light or dark), or None when none fits."""
    pure = np.full(3, greys[0], np.float32)
    rough = np.nan_to_num(alpha_of_shift(crop, rough_background, pure))
    strokes = (rough > _START_ALPHA) & box
    if not _plausible(strokes, box):
        return None
    exclude = dilated(strokes, 1)
    background = background_without(crop, exclude, stroke_sigma(strokes))
    smooth = ground_rms(crop, background, dilated(strokes, 2)) < SMOOTH_RMS
    interior = cv2.erode(strokes.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if (interior & smooth).sum() < max(_MIN_SMOOTH_PIXELS, _MIN_SMOOTH_SHARE * interior.sum()):
        # Mostly over texture or skin: the glyph shape cannot be told from the photo's own highlights
        # there, and inverting them paints blotches (grace_hopper's face); the inpainter is safer.
        return None
    interior &= smooth
    # Strokes over texture keep α = 0: their shape cannot be told from the photo's highlights, and a
    # wrong shape inverted paints blotches; the caller inpaints what is left of the line there.
    over_smooth = cv2.erode(smooth.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    fit = _best_colour(crop, background, interior, greys)
    if fit is None:
        return None
    spread, opacity, colour = fit
    if spread > _MAX_ALPHA_SPREAD:
        return None
    measured = np.nan_to_num(alpha_of_shift(crop, background, colour))
    glyphs = _glyph_shape(measured, opacity, box, line_height)
    if not _plausible(glyphs, box):
        return None
    return spread, np.where(over_smooth, shaped_alpha(glyphs, measured, opacity), 0.0), colour


def ground_rms(crop: np.ndarray, background: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """Local RMS of the photo's deviation from the background interpolated under the strokes, from
    outside the strokes only (the strokes themselves would read as detail). Both fine texture and an
    edge the interpolation blurs count: either makes the colour shift there the photo's, not the mark's."""
    deviation = crop.astype(np.float32).mean(axis=2) - background.mean(axis=2)
    keep = (~exclude).astype(np.float32)
    power = cv2.GaussianBlur(deviation * deviation * keep, (0, 0), _RMS_SIGMA)
    return np.sqrt(power / np.maximum(cv2.GaussianBlur(keep, (0, 0), _RMS_SIGMA), 1e-3))


def _best_colour(
    crop: np.ndarray, background: np.ndarray, interior: np.ndarray, greys: tuple[float, ...]
) -> tuple[float, float, np.ndarray] | None:
    """(spread, opacity, colour) of the grey under which the smooth-ground stroke interiors agree
    best on one α: under a wrong grey the α a pixel implies drifts with the ground under it."""
    best: tuple[float, float, np.ndarray] | None = None
    best_score = np.inf
    for grey in greys:
        colour = np.full(3, grey, np.float32)
        alpha = alpha_of_shift(crop, background, colour)
        far = np.linalg.norm(colour[None, None, :] - background, axis=2) >= ESTIMATE_CONTRAST
        alpha = alpha[interior & far & np.isfinite(alpha)]
        if alpha.size < _MIN_SMOOTH_PIXELS:
            continue
        opacity = float(np.median(alpha))
        if not _START_ALPHA < opacity <= _MAX_OPACITY:
            continue
        spread = float(np.median(np.abs(alpha - opacity))) / opacity
        # Pure white or black unless a grey fits clearly better: most marks are one of the two.
        score = spread * (1.0 if grey == greys[0] else _GREY_HANDICAP)
        if score < best_score:
            best, best_score = (spread, opacity, colour), score
    return best


def _glyph_shape(measured: np.ndarray, opacity: float, box: np.ndarray, line_height: float) -> np.ndarray:
    """The strokes: where the colour shift reaches half the opacity, closed, specks dropped."""
    strokes = (measured > _COVERAGE_THRESHOLD * opacity) & box
    closed = cv2.morphologyEx(strokes.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= max(4.0, _MIN_COMPONENT_SHARE * line_height**2)
    big[0] = False
    return big[labels] & box


def shaped_alpha(strokes: np.ndarray, measured: np.ndarray, opacity: float) -> np.ndarray:
    """Opacity over the stroke interiors, the measured α (capped) on a 1-px rim inside and out."""
    interior = cv2.erode(strokes.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    rim = dilated(strokes, 1) & ~interior
    alpha = np.zeros(strokes.shape, np.float32)
    alpha[interior] = opacity
    alpha[rim] = np.clip(measured[rim], 0.0, opacity)
    return alpha


def _plausible(strokes: np.ndarray, box: np.ndarray) -> bool:
    share = strokes.sum() / max(1, box.sum())
    return _MIN_STROKE_SHARE <= share <= _MAX_STROKE_SHARE


def dilated(mask: np.ndarray, radius: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def padded_rect(mask: np.ndarray, pad: int) -> tuple[int, int, int, int]:
    """The mask's bounding box grown by `pad` (background context for the crop), inside the image."""
    x, y, w, h = cv2.boundingRect(mask)
    x0, y0 = max(0, x - pad), max(0, y - pad)
    x1, y1 = min(mask.shape[1], x + w + pad), min(mask.shape[0], y + h + pad)
    return x0, y0, x1 - x0, y1 - y0


def quad_mask(shape: tuple[int, int], quad: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(quad).astype(np.int32)], 255)
    return mask
