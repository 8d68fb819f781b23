"""Classical (weight-free) inpainting: coherence transport on crops around the holes, with
PatchMatch texture on wide holes in textured surroundings (texture.py).

Measured against OpenCV Telea/NS, xphoto FSR, PatchMatch (pypatchmatch and a multi-scale EM
version), Laplacian-pyramid and coarse-guided variants, and structure + PatchMatch texture blends:
single-scale coherence transport had the best SSIM and PSNR inside the hole on every bench case,
and every texture layer added on top lowered SSIM (bench/results/inpaint.md has the numbers). SSIM
rewards a smooth guess, though: on wide holes in grass or gravel the smooth fill reads as a blurred
patch, so there the surroundings' texture is laid over it (bench_inpaint.py's texture cases).
"""

from __future__ import annotations

import cv2
import numpy as np

from easel.engines.inpaint import coherence, texture
from easel.engines.inpaint.coherence import CoherenceParams
from easel.engines.inpaint.regions import Box, hole_crops, validated

_PARAMS = CoherenceParams()
# Known pixels around a hole that the fill reads: the averaging radius plus the reach of the
# structure-tensor smoothing (about 3 sigma), plus a few pixels of slack.
CONTEXT_MARGIN = _PARAMS.radius + int(np.ceil(3 * _PARAMS.tensor_sigma)) + 4
# Grey used where the hole covers the whole image: there is nothing to continue.
_NO_CONTEXT_FILL = 128


def inpaint(rgb: np.ndarray, hole: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Fill the `hole` (HxW bool or uint8, nonzero = fill) of an HxWx3 uint8 RGB image.

    Returns a new HxWx3 uint8 image whose pixels outside the hole are exactly the input's. Wide
    holes on textured ground get PatchMatch texture over the coherence fill (texture.py), whose
    random search starts from `seed`; same inputs and seed, same output.
    """
    image, mask = validated(rgb, hole)
    out = image.copy()
    if not mask.any():
        return out
    if mask.all():
        out[:] = _NO_CONTEXT_FILL
        return out
    for (y0, y1, x0, x1), own in hole_crops(mask, CONTEXT_MARGIN):
        crop_hole = mask[y0:y1, x0:x1]
        crop = image[y0:y1, x0:x1].astype(np.float32)
        if crop_hole.all():  # only possible when the known pixels lie outside every margin
            crop[:] = image[~mask].mean(axis=0)
            filled = crop
        else:
            filled = coherence.fill(crop, crop_hole, _PARAMS)
        out[y0:y1, x0:x1][own] = np.clip(filled[own] + 0.5, 0, 255).astype(np.uint8)
        _add_texture(image, mask, out, (y0, y1, x0, x1), own, seed)
    return out


def _add_texture(image: np.ndarray, mask: np.ndarray, out: np.ndarray, box: Box, own: np.ndarray, seed: int) -> None:
    """Lay texture over the coherence fill of the wide holes on textured ground among `own`, in place."""
    count, labels = cv2.connectedComponents(own.astype(np.uint8), connectivity=8)
    crop_image, crop_mask = image[box[0] : box[1], box[2] : box[3]], mask[box[0] : box[1], box[2] : box[3]]
    for label in range(1, count):
        blob = labels == label
        if not texture.wants_texture(crop_image, blob, crop_mask):
            continue
        ys, xs = np.nonzero(blob)
        grow = texture.source_margin(blob)
        h, w = mask.shape
        y0, y1 = max(0, box[0] + ys.min() - grow), min(h, box[0] + ys.max() + 1 + grow)
        x0, x1 = max(0, box[2] + xs.min() - grow), min(w, box[2] + xs.max() + 1 + grow)
        owned = np.zeros(mask.shape, bool)
        owned[box[0] : box[1], box[2] : box[3]] = blob
        owned = owned[y0:y1, x0:x1]
        region = out[y0:y1, x0:x1]
        filled = texture.textured(image[y0:y1, x0:x1], owned, mask[y0:y1, x0:x1], region.astype(np.float32), seed)
        region[owned] = np.clip(filled[owned] + 0.5, 0, 255).astype(np.uint8)
