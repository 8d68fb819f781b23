"""Texture for large holes on textured ground: PatchMatch detail over the coherence structure.

Coherence transport continues edges and colours but leaves a smooth patch where a bench stood on
grass or boxes stood on a shelf. Where the hole is wide and its surroundings are textured, the
detail layer (image minus a Gaussian blur) of an exemplar fill (PatchMatch, Barnes et al. 2009, via
pypatchmatch) drawn from the surroundings is laid over the blur of the coherence fill: the coarse
colours and edges stay those of the structure pass, the grain is the surroundings' own. Thin holes
(strokes, text) and holes on smooth ground keep the coherence fill alone, which scores higher there
(bench/bench_inpaint.py).
"""

from __future__ import annotations

import cv2
import numpy as np

# A hole is wide when some hole pixel lies at least this far (px) from the known pixels, and compact
# (an object's outline, not brush strokes across the photo, which coherence fills better and faster)
# when its bounding box is at most this many times its area...
_MIN_INRADIUS = 8.0
_MAX_BOX_SHARE = 3.0
# ...and on texture when the median absolute high-pass (grey minus Gaussian sigma 2) of the ring around
# it reaches this level (0-255 scale; skies and bokeh score under 1, fur, grass, wood grain 4 to 11)...
_MIN_RING_TEXTURE = 3.0
# ...spread evenly: a ring crossed by a few strong edges (a collar, a cup's rim) has a mean far above
# its median (2 to 8 on the bench), a textured one not (1.1 to 1.5); there the edge-continuing
# coherence fill wins and copied patches read as noise.
_MAX_MEAN_OVER_MEDIAN = 1.7
_RING_PX = 12
# Detail is what lies finer than this Gaussian; coarser content comes from the structure pass.
_DETAIL_SIGMA = 3.0
_PATCH_RADIUS = 3
# PatchMatch reads known pixels up to this multiple of the hole's inradius around it (at least the ring).
_SOURCE_REACH = 3.0


def high_pass(rgb: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 2))


def ring(hole: np.ndarray, width: int = _RING_PX) -> np.ndarray:
    """Known pixels within `width` of the hole (bool)."""
    grown = cv2.dilate(hole.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1,) * 2))
    return (grown > 0) & ~hole


def inradius(hole: np.ndarray) -> float:
    padded = cv2.copyMakeBorder(hole.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    return float(cv2.distanceTransform(padded, cv2.DIST_L2, 5).max())


def wants_texture(image: np.ndarray, hole: np.ndarray, unknown: np.ndarray) -> bool:
    """Whether `hole` (one connected hole) is a wide, compact blob on textured ground, the measured
    case for texture; `unknown` (all holes) is left out of the ring around it."""
    ys, xs = np.nonzero(hole)
    box_area = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    if box_area > _MAX_BOX_SHARE * len(ys) or inradius(hole) < _MIN_INRADIUS:
        return False
    around = ring(hole) & ~unknown
    if not around.any():
        return False
    values = high_pass(image)[around]
    median = float(np.median(values))
    return median >= _MIN_RING_TEXTURE and float(values.mean()) <= _MAX_MEAN_OVER_MEDIAN * median


def source_margin(hole: np.ndarray) -> int:
    return max(_RING_PX, round(_SOURCE_REACH * inradius(hole)))


def textured(image: np.ndarray, hole: np.ndarray, unknown: np.ndarray, structure: np.ndarray, seed: int) -> np.ndarray:
    """Blur of `structure` plus PatchMatch detail in `hole` (float32 HxWx3; elsewhere: `structure`).

    `image` is uint8 with the known pixels the exemplars come from, `unknown` every hole pixel (the
    other holes are neither filled nor copied from here), `structure` the coherence fill.
    """
    import patchmatch

    patchmatch.set_random_seed(seed)
    others = (unknown & ~hole).astype(np.uint8) * 255
    exemplar = patchmatch.inpaint(
        np.ascontiguousarray(image), hole.astype(np.uint8) * 255, global_mask=others, patch_size=_PATCH_RADIUS
    )
    exemplar = exemplar.astype(np.float32)
    detail = exemplar - cv2.GaussianBlur(exemplar, (0, 0), _DETAIL_SIGMA)
    base = cv2.GaussianBlur(structure, (0, 0), _DETAIL_SIGMA)
    return np.where(hole[..., None], base + detail, structure)
