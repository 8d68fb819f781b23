"""What the new border may draw from: the photo's edge band, less its salient objects.

A border continues the part of the photo it touches, so colours and texture come from a band of
known pixels along the expanded sides only (the photo's centre, a face or a pagoda, never reaches
the border). Within that band, objects that stand out from the background (a name tag near the
edge, a flower cut by the frame) are left out: copying or smearing them outward duplicates them.
They are found as colours that are rare in the band or in the photo and far from its common
colours (k-means in Lab), which holds for a subject on a plainer background and leaves uniform textures (grass, sky,
foliage) whole.
"""

from __future__ import annotations

import cv2
import numpy as np

# Band width: this share of the photo's short side, at least this many texture blocks.
_BAND_SHARE = 0.15
_BAND_BLOCKS = 1.5
_PALETTE_SIZE = 5
_PALETTE_SAMPLES = 20000
# The most common colour clusters that together cover this share of the photo are its background...
_COMMON_SHARE = 0.75
# ...or lies within this Lab distance of a common cluster (shading of the same surface).
_NEAR_COMMON = 22.0
# Salient regions are grown by this share of the band width so their halos go too.
_GROW_SHARE = 0.15
# Never leave out more than this share of one side's band: beyond it the "object" is the background.
_MAX_SALIENT_SHARE = 0.7


def band_width(short_side: int, block: int) -> int:
    return max(2, round(max(_BAND_SHARE * short_side, _BAND_BLOCKS * block)))


def edge_band(known: np.ndarray, width: int) -> np.ndarray:
    """Known canvas pixels within `width` of the unknown border (bool)."""
    distance = cv2.distanceTransform(known.astype(np.uint8), cv2.DIST_L2, 5)
    return (known > 0) & (distance <= width)


def salient(canvas: np.ndarray, known: np.ndarray, band: np.ndarray, width: int, seed: int = 0) -> np.ndarray:
    """Band pixels of objects that stand out from the background (bool, canvas-sized).

    A colour counts as an object's when it is rare in the band (a name tag on a plain banner) or
    rare in the photo as a whole (a flower cut by the frame may fill half the band it crosses).
    """
    found = np.zeros(band.shape, bool)
    ys, xs = np.nonzero(known)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    photo_band = band[y0:y1, x0:x1]  # the band lies in the photo: work there, not on the canvas
    by, bx = np.nonzero(photo_band)
    if len(by) < 4 * _PALETTE_SIZE:
        return found
    lab = cv2.cvtColor(np.ascontiguousarray(canvas[y0:y1, x0:x1]), cv2.COLOR_RGB2LAB).astype(np.float32)
    # OpenCV's 8-bit Lab scales L to 0..255; back to CIE units so distances are in Delta E.
    lab[..., 0] *= 100.0 / 255.0
    values = lab[by, bx]
    in_band = _object_mask(photo_band, by, bx, _rare(values, values, seed), width)
    in_photo = _object_mask(photo_band, by, bx, _rare(values, lab.reshape(-1, 3), seed), width)
    # the sides are judged on the canvas, where "expanded" is visible
    found[y0:y1, x0:x1] = in_band | in_photo
    fallback = np.zeros_like(found)
    fallback[y0:y1, x0:x1] = in_band
    return _per_side(found, fallback, band, known, width)


def _object_mask(band: np.ndarray, by: np.ndarray, bx: np.ndarray, rare: np.ndarray, width: int) -> np.ndarray:
    mask = np.zeros(band.shape, np.uint8)
    mask[by, bx] = rare
    # Solid objects, not speckles: drop isolated rare pixels, grow over the object's soft outline.
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    grow = max(1, round(_GROW_SHARE * width))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return (mask > 0) & band


def _rare(values: np.ndarray, population: np.ndarray, seed: int) -> np.ndarray:
    """Which of `values` (N x 3 Lab) have a colour that is rare in `population` and far from its
    common colours (k-means palette; the most common clusters covering _COMMON_SHARE are common)."""
    rng = np.random.default_rng(seed)
    sample = np.ascontiguousarray(
        population[rng.choice(len(population), min(len(population), _PALETTE_SAMPLES), replace=False)]
    )
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, centres = cv2.kmeans(sample, _PALETTE_SIZE, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    share = np.bincount(labels.ravel(), minlength=_PALETTE_SIZE) / len(labels)
    order = np.argsort(-share)
    needed = int(np.searchsorted(np.cumsum(share[order]), _COMMON_SHARE)) + 1
    common = np.zeros(_PALETTE_SIZE, bool)
    common[order[:needed]] = True
    gaps = np.sqrt(((centres[:, None, :] - centres[None, common]) ** 2).sum(axis=2)).min(axis=1)
    rare = (~common) & (gaps > _NEAR_COMMON)
    nearest = np.argmin(((values[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    return rare[nearest]


def _per_side(found: np.ndarray, fallback: np.ndarray, band: np.ndarray, known: np.ndarray, width: int) -> np.ndarray:
    """`found` on each side whose band it leaves mostly free, else `fallback` there, else nothing: a
    side mostly "object" is the ground the border has to continue (a beach below a sea, a flag
    filling one side of a portrait)."""
    ys, xs = np.nonzero(known)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    h, w = known.shape
    sides = []
    if y0 > 0:
        sides.append(np.s_[y0 : y0 + width, :])
    if y1 < h:
        sides.append(np.s_[max(0, y1 - width) : y1, :])
    if x0 > 0:
        sides.append(np.s_[:, x0 : x0 + width])
    if x1 < w:
        sides.append(np.s_[:, max(0, x1 - width) : x1])
    out = found.copy()
    for side in sides:
        in_band = band[side]
        if not in_band.any() or found[side][in_band].mean() <= _MAX_SALIENT_SHARE:
            continue
        ok = fallback[side][in_band].mean() <= _MAX_SALIENT_SHARE
        out[side] = fallback[side] if ok else False
    return out
