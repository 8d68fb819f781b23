"""The subject's matte: from the mask or the alpha channel, with hard mask edges snapped to the image."""

from __future__ import annotations

import cv2
import numpy as np

_STRIP_ROWS = 512


def subject_matte(shape: tuple[int, int], subject_mask: np.ndarray | None, alpha: np.ndarray | None) -> np.ndarray:
    """float32 HxW in [0, 1]: 1 = subject. A given mask wins over alpha (as the relight API documents);
    with both, transparent pixels stay out of the subject because they hold no picture."""
    if subject_mask is None and alpha is None:
        raise ValueError("relight needs a subject mask or an alpha channel")
    matte = _as_unit(subject_mask if subject_mask is not None else alpha, shape)
    if subject_mask is not None and alpha is not None:
        matte = matte * _as_unit(alpha, shape)
    if float(matte.max()) < 0.5:
        raise ValueError("the subject mask is empty (no pixel is 255)")
    return matte


def _as_unit(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if mask.shape[:2] != shape:
        raise ValueError(f"mask is {mask.shape[1]}x{mask.shape[0]}, image is {shape[1]}x{shape[0]}")
    if mask.ndim == 3:
        mask = mask[:, :, 0]
    if mask.dtype == bool:
        return mask.astype(np.float32)
    return mask.astype(np.float32) / 255.0


def is_hard(matte: np.ndarray) -> bool:
    """True for a binary mask (at most a trace of in-between values), which needs its edges refined."""
    soft = np.count_nonzero((matte > 0.02) & (matte < 0.98))
    return soft < 0.002 * matte.size


def refine_edges(rgb: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """Snap a hard mask's edge to the picture's edges with a colour-guided filter, in a thin band only,
    so hair and soft outlines composite without a cut-out line and the interior is left untouched."""
    radius = max(2, round(min(matte.shape) / 256))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (4 * radius + 1, 4 * radius + 1))
    binary = (matte > 0.5).astype(np.uint8)
    band = cv2.dilate(binary, kernel) != cv2.erode(binary, kernel)
    refined = matte.copy()
    # The colour-guided filter keeps about twenty float images of its input's size; in strips it
    # stays small at 4096², and a strip's margin of a few radii makes the result the same.
    margin = 4 * radius
    for top in range(0, matte.shape[0], _STRIP_ROWS):
        bottom = min(matte.shape[0], top + _STRIP_ROWS)
        if not band[top:bottom].any():
            continue
        lo, hi = max(0, top - margin), min(matte.shape[0], bottom + margin)
        guided = cv2.ximgproc.guidedFilter(rgb[lo:hi], matte[lo:hi], radius, 1e-3 * 255.0**2)
        rows = slice(top - lo, bottom - lo)
        strip_band = band[top:bottom]
        refined[top:bottom][strip_band] = np.clip(guided[rows][strip_band], 0.0, 1.0)
    return refined.astype(np.float32)
