"""The coarse structure of the new border: colours and edges continued outward, smoothly.

Two fills are blended by distance from the original: near it, Navier-Stokes inpainting at low
resolution carries colours and edges that cross the border onward along their direction (a table
edge, a flagpole); far from it, a push-pull membrane (normalised pyramid interpolation) settles to
the average colours of the nearest part of the photo, where continuing an edge further would be a
guess. Texture is added on top by `texture.py`.
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
        if filled is not None:
            coarse = cv2.resize(filled, (w.shape[1], w.shape[0]), interpolation=cv2.INTER_LINEAR)
            alpha = np.clip(w, 0.0, 1.0)[..., None]
            level = level * alpha + coarse * (1.0 - alpha)
        filled = level
    assert filled is not None
    return np.where(known[..., None] > 0, canvas.astype(np.float32), filled)


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


def structure(canvas: np.ndarray, known: np.ndarray, border_width: float, short_side: int) -> np.ndarray:
    """Smooth continuation of the photo into the unknown pixels (float32, known pixels kept)."""
    factor = max(2, round(short_side / _STRUCTURE_GRID))
    far = push_pull(canvas, known)
    near = edge_fill(canvas, known, factor)
    distance = cv2.distanceTransform((known == 0).astype(np.uint8), cv2.DIST_L2, 5)
    near_weight = np.exp(-distance / max(1.0, _EDGE_REACH * border_width))[..., None]
    blended = near * near_weight + far * (1.0 - near_weight)
    return np.where(known[..., None] > 0, canvas.astype(np.float32), blended)
