"""Semi-transparent marks: estimate the blend and undo it instead of inpainting a hole.

A stamped mark is the blend I = (1 - α)·J + α·W of the photo J with one mark colour W (white or
black, mostly) through a per-pixel α (the mark's opacity times its glyph coverage). Where α and W
are known the photo under the mark comes back exactly, J = (I - α·W) / (1 - α), detail included;
only where α is close to 1 (an opaque mark) is nothing left to recover, and those pixels go to the
inpainter.

The pieces here are shared by the two estimators (periodic.py for tiled marks, local.py for a single
mark): the photo's smooth background under a mark (interpolated from around the strokes), the
per-pixel α that a colour shift towards the mark colour implies, and the inversion itself. The mark
colour is chosen by each estimator: the grey under which a tiled mark's copies agree on α, or white
or black for a single mark. (The least-squares meeting point of the colour shifts was tried for
both and drifts towards the photo's own colours over detail: orange for a mark on the flower.)
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Above this α the inversion amplifies noise and α errors more than 1/(1 - 0.85) ≈ 7 times: fill instead.
MAX_INVERTIBLE_ALPHA = 0.85
# A colour shift only tells α where the mark colour is far enough from the photo (0-255 units):
# a white mark over a white sky says nothing.
MIN_CONTRAST = 30.0
# Levels past 0-255 a recovered channel may reach before the blend is taken to over-explain it
# (rounding and JPEG noise, divided by 1 - α, reach a few levels).
_GAMUT_SLACK = 12.0


@dataclass(frozen=True)
class Blend:
    """alpha: HxW float32 in [0, 1] (0 off the mark); colour: the mark colour W, RGB 0-255."""

    alpha: np.ndarray
    colour: np.ndarray

    @property
    def support(self) -> np.ndarray:
        return self.alpha > 0


def background_without(rgb: np.ndarray, exclude: np.ndarray, sigma: float) -> np.ndarray:
    """The photo smoothed (Gaussian `sigma`) from the pixels outside `exclude` only (normalised
    convolution): the background a mark's strokes lie over, without the strokes. float32 HxWx3."""
    keep = (~exclude).astype(np.float32)
    image = rgb.astype(np.float32)
    num = cv2.GaussianBlur(image * keep[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(keep, (0, 0), sigma)[..., None]
    # Inside wide excluded areas the weights vanish: widen the blur there rather than divide by ~0.
    wide_num = cv2.GaussianBlur(image * keep[..., None], (0, 0), 4 * sigma)
    wide_den = cv2.GaussianBlur(keep, (0, 0), 4 * sigma)[..., None]
    narrow_ok = den > 0.05
    return np.where(narrow_ok, num / np.maximum(den, 1e-6), wide_num / np.maximum(wide_den, 1e-6)).astype(np.float32)


def alpha_of_shift(rgb: np.ndarray, background: np.ndarray, colour: np.ndarray,
                   min_contrast: float = MIN_CONTRAST) -> np.ndarray:
    """Per-pixel α implied by the colour shift from the background towards W; NaN where W is closer
    than `min_contrast` to the background (too close to tell)."""
    towards = colour[None, None, :] - background
    reach = np.einsum("hwc,hwc->hw", towards, towards)
    shift = rgb.astype(np.float32) - background
    alpha = np.einsum("hwc,hwc->hw", shift, towards) / np.maximum(reach, 1e-6)
    return np.where(reach >= min_contrast**2, alpha, np.nan).astype(np.float32)


def invert(rgb: np.ndarray, blend: Blend) -> tuple[np.ndarray, np.ndarray]:
    """(recovered rgb, hole): the blend undone where α is invertible; `hole` (uint8, 255) marks the
    pixels too opaque to recover, left for the inpainter. Pixels with α = 0 are returned unchanged."""
    alpha = blend.alpha
    invertible = (alpha > 0) & (alpha <= MAX_INVERTIBLE_ALPHA)
    a = alpha[invertible][:, None]
    out = rgb.copy()
    recovered = (rgb[invertible].astype(np.float32) - a * blend.colour[None, :]) / (1.0 - a)
    out[invertible] = np.clip(recovered + 0.5, 0, 255).astype(np.uint8)
    hole = ((alpha > MAX_INVERTIBLE_ALPHA) * 255).astype(np.uint8)
    return out, hole


def stroke_sigma(support: np.ndarray) -> float:
    """A blur wide enough to bridge the mark's strokes: twice their typical half-width, plus 2 px."""
    if not support.any():
        return 3.0
    distance = cv2.distanceTransform(support.astype(np.uint8), cv2.DIST_L2, 3)
    half_width = float(np.percentile(distance[support], 90))
    return 2.0 * half_width + 2.0


def unrecoverable_share(rgb: np.ndarray, blend: Blend) -> float:
    """Share of the invertible mark pixels whose recovery falls clearly outside 0-255: the blend
    over-explains them (α or the colour is wrong), and clipping would hide it."""
    invertible = (blend.alpha > 0) & (blend.alpha <= MAX_INVERTIBLE_ALPHA)
    if not invertible.any():
        return 0.0
    a = blend.alpha[invertible][:, None]
    recovered = (rgb[invertible].astype(np.float32) - a * blend.colour[None, :]) / (1.0 - a)
    outside = (recovered < -_GAMUT_SLACK) | (recovered > 255.0 + _GAMUT_SLACK)
    return float(outside.any(axis=1).mean())


def mark_left(recovered: np.ndarray, blend: Blend) -> float:
    """Correlation, around the mark, between α and what the recovered photo still deviates from its
    smooth background towards the mark colour.

    A right estimate leaves no trace of the glyphs (≈ 0; the photo under a mark owes nothing to its
    shape); a positive value is mark left (α under-estimated), a negative one a carved "negative"
    glyph (α over-estimated). Over texture the two errors mix and can cancel, so this check is
    no substitute for estimating from smooth ground only (local.py).
    """
    support = blend.support
    if not support.any():
        return 0.0
    sigma = stroke_sigma(support)
    x, y, w, h = cv2.boundingRect(support.astype(np.uint8))
    pad = int(3 * sigma) + 3
    y0, x0 = max(0, y - pad), max(0, x - pad)
    y1, x1 = min(support.shape[0], y + h + pad), min(support.shape[1], x + w + pad)
    alpha = blend.alpha[y0:y1, x0:x1]
    crop = recovered[y0:y1, x0:x1].astype(np.float32)
    strokes = alpha > 0
    exclude = cv2.dilate(strokes.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    background = background_without(crop, exclude, sigma)
    towards = blend.colour[None, None, :] - background
    unit = towards / np.maximum(np.linalg.norm(towards, axis=2, keepdims=True), 1e-3)
    deviation = np.einsum("hwc,hwc->hw", crop - background, unit)
    around = cv2.dilate(strokes.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    a, d = alpha[around].astype(np.float64), deviation[around].astype(np.float64)
    if a.std() < 1e-6 or d.std() < 1e-6:
        return 0.0
    return float(np.corrcoef(a, d)[0, 1])
