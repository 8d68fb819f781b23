"""Classical (weight-free) inpainting: coherence transport on crops around the holes.

Measured against OpenCV Telea/NS, xphoto FSR, PatchMatch (pypatchmatch and a multi-scale EM
version), Laplacian-pyramid and coarse-guided variants, and structure + PatchMatch texture blends:
single-scale coherence transport had the best SSIM and PSNR inside the hole on every bench case,
and every texture layer added on top lowered SSIM (bench/results/inpaint.md has the numbers).
"""

from __future__ import annotations

import numpy as np

from easel.engines.inpaint import coherence
from easel.engines.inpaint.coherence import CoherenceParams
from easel.engines.inpaint.regions import hole_crops, validated

_PARAMS = CoherenceParams()
# Known pixels around a hole that the fill reads: the averaging radius plus the reach of the
# structure-tensor smoothing (about 3 sigma), plus a few pixels of slack.
CONTEXT_MARGIN = _PARAMS.radius + int(np.ceil(3 * _PARAMS.tensor_sigma)) + 4
# Grey used where the hole covers the whole image: there is nothing to continue.
_NO_CONTEXT_FILL = 128


def inpaint(rgb: np.ndarray, hole: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Fill the `hole` (HxW bool or uint8, nonzero = fill) of an HxWx3 uint8 RGB image.

    Returns a new HxWx3 uint8 image whose pixels outside the hole are exactly the input's. The
    pipeline has no random stage, so the result depends only on `rgb` and `hole`; `seed` is
    accepted so that callers can pass a task seed uniformly to every inpainter.
    """
    del seed  # deterministic: see the docstring
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
    return out
