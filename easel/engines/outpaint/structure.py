"""The coarse structure of the new border: colours and edges continued outward, smoothly.

Two fills are blended by distance from the original: near it, Navier-Stokes inpainting at low
resolution carries colours and edges that cross the border onward along their direction (a table
edge, a flagpole); far from it, a push-pull membrane (normalised pyramid interpolation) settles to
the average colours of the nearest part of the photo's edge band, where continuing an edge further
would be a guess. Both read only the pixels `band.py` allows (salient objects left out), so a cut
object is not smeared outward. Texture is added on top by `texture.py`.
"""

from __future__ import annotations

import cv2
import numpy as np

# Navier-Stokes works on a grid of about this many pixels across the original's short side: fine
# enough to follow the main edges, coarse enough that its smearing stays soft.
_STRUCTURE_GRID = 128
_NS_RADIUS = 5
# Weight of the edge-continuing fill falls off as exp(-distance / (this x border width)).
_EDGE_REACH = 0.5
# Far colours are the edge band smoothed along the edge with this sigma (share of the short side).
_PROFILE_SIGMA = 0.12


def push_pull(canvas: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill unknown pixels by normalised pyramid interpolation (float32 out, known pixels kept)."""
    weight = known.astype(np.float32)
    levels = [(canvas.astype(np.float32) * weight[..., None], weight)]
    while min(levels[-1][1].shape) > 2:
        image, w = levels[-1]
        levels.append((cv2.pyrDown(image), cv2.pyrDown(w)))
    filled: np.ndarray | None = None
    for image, w in reversed(levels):
        level = image / np.maximum(w, 1e-6)[..., None]
        if filled is None:
            # The coarsest level of a long canvas (a banner doubled sideways) still has cells no known
            # pixel reaches; dividing there gives black or blown-out white, so they take the mean.
            empty = w < 1e-3 * max(float(w.max()), 1e-12)
            level[empty] = image.reshape(-1, image.shape[-1]).sum(0) / max(float(w.sum()), 1e-12)
        else:
            coarse = cv2.resize(filled, (w.shape[1], w.shape[0]), interpolation=cv2.INTER_LINEAR)
            alpha = np.clip(w, 0.0, 1.0)[..., None]
            level = level * alpha + coarse * (1.0 - alpha)
        filled = level
    assert filled is not None
    return np.where(known[..., None] > 0, canvas.astype(np.float32), filled)


def edge_profile(canvas: np.ndarray, known: np.ndarray, source: np.ndarray, short_side: int) -> np.ndarray:
    """The source's colours smoothed along the photo's edges and stretched straight outward (float32).

    A banner doubled sideways keeps its sky above and its water below out to the canvas edge, where
    an isotropic average would grey them into one colour. Pixels the smoothing does not reach take
    the push-pull fill of the source.
    """
    sigma = max(1.0, _PROFILE_SIGMA * short_side)
    # Blurs this wide are as good, and much cheaper, a few times smaller.
    factor = max(1, int(sigma // 4))
    smooth = _upsampled(_normalized_blur(canvas, source, sigma, factor), known.shape)
    h, w = known.shape
    small_size = (max(1, w // factor), max(1, h // factor))
    small_source = cv2.resize(source.astype(np.float32), small_size, interpolation=cv2.INTER_AREA) > 0.5
    if not small_source.any():
        small_source = cv2.resize(source.astype(np.uint8), small_size, interpolation=cv2.INTER_NEAREST) > 0
    small_canvas = cv2.resize(canvas, small_size, interpolation=cv2.INTER_AREA)
    fallback = _upsampled(push_pull(small_canvas, small_source), known.shape)
    reached = _upsampled(_normalized_blur(np.ones_like(canvas[..., :1]), source, sigma, factor), known.shape)
    smooth = np.where(reached[..., :1] > 0.5, smooth, fallback)
    ys, xs = np.nonzero(known)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    inner = np.ascontiguousarray(smooth[y0:y1, x0:x1])
    stretched = cv2.copyMakeBorder(inner, y0, h - y1, x0, w - x1, cv2.BORDER_REPLICATE)
    # The corners meet where two stretches do; a blur of the same scale rounds that seam off.
    small = cv2.resize(stretched, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    return _upsampled(cv2.GaussianBlur(small, (0, 0), sigma / factor), known.shape)


def _normalized_blur(image: np.ndarray, weight: np.ndarray, sigma: float, factor: int) -> np.ndarray:
    """Gaussian mean of `image` over the pixels where `weight` is set, at 1/factor resolution; NaN-free
    (pixels with no weight nearby come out 0)."""
    h, w = weight.shape
    size = (max(1, w // factor), max(1, h // factor))
    wt = cv2.resize(weight.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    values = cv2.resize(image.astype(np.float32) * weight[..., None], size, interpolation=cv2.INTER_AREA)
    values = values.reshape((*wt.shape, -1))
    num = cv2.GaussianBlur(values, (0, 0), sigma / factor).reshape(values.shape)
    den = cv2.GaussianBlur(wt, (0, 0), sigma / factor)
    return num / np.maximum(den, 1e-6)[..., None] * (den > 1e-3)[..., None]


def _upsampled(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return out.reshape(shape[0], shape[1], -1)


def edge_fill(canvas: np.ndarray, known: np.ndarray, factor: int) -> np.ndarray:
    """Navier-Stokes inpainting at 1/factor resolution, scaled back up (float32)."""
    h, w = known.shape
    small_size = (max(1, w // factor), max(1, h // factor))
    small = cv2.resize(canvas, small_size, interpolation=cv2.INTER_AREA)
    coverage = cv2.resize(known.astype(np.float32), small_size, interpolation=cv2.INTER_AREA)
    # Cells only partly inside the photo average in the black canvas, so they are filled too.
    hole = (coverage < 0.999).astype(np.uint8)
    filled = cv2.inpaint(small, hole, _NS_RADIUS, cv2.INPAINT_NS)
    return cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)


def structure(
    canvas: np.ndarray, known: np.ndarray, usable: np.ndarray, source: np.ndarray, border_width: float, short_side: int
) -> np.ndarray:
    """Smooth continuation of the photo into the unknown pixels (float32, known pixels kept).

    Edges are continued from the `usable` pixels (the photo less its salient objects), far colours
    are averaged from the `source` pixels (the edge band less its salient objects).
    """
    factor = max(2, round(short_side / _STRUCTURE_GRID))
    far = edge_profile(canvas, known, source if source.any() else known, short_side)
    near = edge_fill(canvas, usable if usable.any() else known, factor)
    distance = cv2.distanceTransform((known == 0).astype(np.uint8), cv2.DIST_L2, 5)
    near_weight = np.exp(-distance / max(1.0, _EDGE_REACH * border_width))[..., None]
    blended = near * near_weight + far * (1.0 - near_weight)
    return np.where(known[..., None] > 0, canvas.astype(np.float32), blended)
