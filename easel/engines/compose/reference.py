"""A reference picture made into a background: cover-fit to the canvas, transparent parts filled.

A reference may be RGBA; where its alpha is 0 it holds something to leave out (another product),
so those pixels are replaced. PatchMatch at a reduced size borrows real texture from the rest of
the picture; a push-pull (pyramid) membrane fill underneath gives the smooth low frequencies, so
large holes do not end up as repeated patches.
"""

from __future__ import annotations

import cv2
import numpy as np

# Holes are filled at this long side at most; the fill is then enlarged and feathered in.
_FILL_SIDE = 320
# Pixels next to a cut-out carry its colour fringe; they are filled too.
_FRINGE_PX = 2


def fit_reference(reference: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """RGB uint8 background of size (width, height): the reference scaled to cover it, centred.

    An RGBA reference has its alpha < 50% parts (and a 2-px fringe) filled from the rest of the picture.
    """
    width, height = size
    rgb = np.ascontiguousarray(reference[..., :3])
    fitted = cover_fit(rgb, width, height)
    if reference.ndim == 3 and reference.shape[2] == 4:
        alpha = cover_fit(reference[..., 3], width, height)
        hole = alpha < 128
        if hole.all():
            raise ValueError("the reference image is fully transparent")
        if hole.any():
            fitted = fill_holes(fitted, hole)
    return fitted


def cover_fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale so the image covers (width, height), then crop the centre."""
    src_h, src_w = image.shape[:2]
    scale = max(width / src_w, height / src_h)
    new_w, new_h = max(width, round(src_w * scale)), max(height, round(src_h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    x0, y0 = (new_w - width) // 2, (new_h - height) // 2
    return np.ascontiguousarray(resized[y0:y0 + height, x0:x0 + width])


def fill_holes(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Replace hole pixels (bool HxW) of an RGB uint8 image with plausible background."""
    height, width = hole.shape
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _FRINGE_PX + 1, 2 * _FRINGE_PX + 1))
    hole_u8 = cv2.dilate(hole.astype(np.uint8) * 255, kernel)
    scale = min(1.0, _FILL_SIDE / max(width, height))
    small_size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small = cv2.resize(rgb, small_size, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole_u8, small_size, interpolation=cv2.INTER_AREA) > 0
    smooth = push_pull_fill(small.astype(np.float32), ~small_hole)
    textured = _patchmatch(small, small_hole, smooth)
    fill = cv2.resize(textured, (width, height), interpolation=cv2.INTER_CUBIC)
    # Feather the seam by a couple of pixels; everything well outside the hole stays untouched.
    weight = cv2.GaussianBlur(hole_u8.astype(np.float32) / 255.0, (0, 0), 1.2)
    weight = np.maximum(weight, hole_u8.astype(np.float32) / 255.0)[..., None]
    out = rgb.astype(np.float32) * (1 - weight) + fill * weight
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def push_pull_fill(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill unknown pixels with a smooth membrane from the known ones (pyramid down, then back up)."""
    weight = known.astype(np.float32)
    levels: list[tuple[np.ndarray, np.ndarray]] = []
    current, current_w = values * weight[..., None], weight
    while min(current.shape[:2]) > 2:
        levels.append((current, current_w))
        size = (max(1, current.shape[1] // 2), max(1, current.shape[0] // 2))
        current = cv2.resize(current, size, interpolation=cv2.INTER_AREA)
        current_w = cv2.resize(current_w, size, interpolation=cv2.INTER_AREA)
    estimate = current / np.maximum(current_w, 1e-6)[..., None]
    for premultiplied, level_w in reversed(levels):
        upsampled = cv2.resize(estimate, (level_w.shape[1], level_w.shape[0]), interpolation=cv2.INTER_LINEAR)
        own = premultiplied / np.maximum(level_w, 1e-6)[..., None]
        trust = np.clip(level_w * 2.0, 0.0, 1.0)[..., None]
        estimate = own * trust + upsampled * (1 - trust)
    return estimate


def _patchmatch(small: np.ndarray, small_hole: np.ndarray, smooth: np.ndarray) -> np.ndarray:
    """PatchMatch texture over the smooth fill, low frequencies taken from the membrane."""
    from patchmatch import patch_match

    seeded = small.copy()
    seeded[small_hole] = np.clip(smooth[small_hole] + 0.5, 0, 255).astype(np.uint8)
    textured = patch_match.inpaint(seeded, small_hole.astype(np.uint8) * 255, patch_size=3).astype(np.float32)
    # Keep PatchMatch's detail but the membrane's local mean, so a wrong patch cannot change the tone.
    detail = textured - cv2.GaussianBlur(textured, (0, 0), 6)
    return np.where(small_hole[..., None], smooth + detail, small.astype(np.float32)).astype(np.float32)
