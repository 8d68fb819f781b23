"""expand (outpainting): grow the canvas on any side and fill the new border.

Scales follow DashScope's wanx2.1-imageedit: top=1.5 adds half the photo's height above it, so the
new height is h * (top + bottom - 1); likewise for the width. The photo's pixels are kept exactly at
their place. The border is a smooth structure layer (colours and edges continued outward, see
structure.py) plus texture copied from the photo in overlapping windows (texture.py), both drawn
from the photo's edge band less its salient objects (band.py). Without a generative model nothing
new is invented: the border continues what the photo's edges show, and no object is repeated.
"""

from __future__ import annotations

import cv2
import numpy as np

from easel.engines.outpaint.band import band_width, edge_band, salient
from easel.engines.outpaint.structure import structure
from easel.engines.outpaint.texture import block_size, synthesize

MIN_SCALE = 1.0
MAX_SCALE = 2.0
# Up to this scale per side the border is mostly the photo's own edge band continued; beyond it the
# far part is a stretched, calmed average of that band, which reads as filler rather than scene.
CREDIBLE_SCALE = 1.5
# Canvases with a longer side above this are filled at a reduced scale (then enlarged), which keeps
# memory (about a dozen float32 canvas-sized arrays at the peak) and time bounded for large photos
# doubled on every side.
MAX_WORK_SIDE = 3072
# The structure layer is blurry at this many of its grid cells; texture adds what lies finer.
_DETAIL_SIGMA_CELLS = 1.0
# The first pixels outside the photo lean toward its edge pixels, so that the photo does not end in a
# visible line where the texture begins.
_EDGE_BLEND_PX = 2.0


def border_sizes(
    height: int, width: int, top: float, bottom: float, left: float, right: float
) -> tuple[int, int, int, int]:
    """Pixels added (top, bottom, left, right) for DashScope-style scales in [1, 2].

    The canvas is h * (top + bottom - 1) by w * (left + right - 1), rounded half up; the top and
    left borders are rounded and the bottom and right ones take the rest.
    """
    for name, value in (("top", top), ("bottom", bottom), ("left", left), ("right", right)):
        if not MIN_SCALE <= value <= MAX_SCALE:
            raise ValueError(f"{name} scale must be between {MIN_SCALE} and {MAX_SCALE}, got {value}")
    pad_top = _half_up(height * (top - 1.0))
    pad_left = _half_up(width * (left - 1.0))
    pad_bottom = _half_up(height * (top + bottom - 1.0)) - height - pad_top
    pad_right = _half_up(width * (left + right - 1.0)) - width - pad_left
    return pad_top, max(0, pad_bottom), pad_left, max(0, pad_right)


def scale_note(top: float, bottom: float, left: float, right: float) -> str | None:
    """What to tell the user when a side is expanded beyond what the CPU fill does credibly, or None."""
    wide = [
        name for name, v in (("top", top), ("bottom", bottom), ("left", left), ("right", right)) if v > CREDIBLE_SCALE
    ]
    if not wide:
        return None
    return (
        f"expand beyond {CREDIBLE_SCALE}x per side ({', '.join(wide)}) with the CPU engine: the far border only"
        " continues the colours and texture of the photo's edge band, no new content is drawn; configure a"
        ' fill backend in engines.toml (an [outpaint] or [fill] table, e.g. backend = "flux-fill") for a'
        " credible scene"
    )


def _half_up(value: float) -> int:
    # Python's round() goes to even on .5, which would make 1.25 x 150 px borders 38 + 38 = 76, not 75.
    return int(np.floor(value + 0.5 + 1e-9))


def expand(
    rgb: np.ndarray,
    top: float = 1.0,
    bottom: float = 1.0,
    left: float = 1.0,
    right: float = 1.0,
    *,
    seed: int = 0,
) -> np.ndarray:
    """The photo on a larger canvas with the new border filled (RGB uint8).

    The photo sits at (border top, border left) unchanged, bit for bit. Same seed, same output.
    """
    h, w = rgb.shape[:2]
    pad_top, pad_bottom, pad_left, pad_right = border_sizes(h, w, top, bottom, left, right)
    canvas_h, canvas_w = h + pad_top + pad_bottom, w + pad_left + pad_right
    if (canvas_h, canvas_w) == (h, w):
        return rgb.copy()
    scale = min(1.0, MAX_WORK_SIDE / max(canvas_h, canvas_w))
    if scale < 1.0:
        filled = _fill_reduced(rgb, (pad_top, pad_bottom, pad_left, pad_right), scale, seed)
    else:
        filled = _fill(rgb, (pad_top, pad_bottom, pad_left, pad_right), seed)
    filled[pad_top : pad_top + h, pad_left : pad_left + w] = rgb
    return filled


def _fill(rgb: np.ndarray, pads: tuple[int, int, int, int], seed: int) -> np.ndarray:
    pad_top, pad_bottom, pad_left, pad_right = pads
    h, w = rgb.shape[:2]
    canvas = cv2.copyMakeBorder(rgb, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_CONSTANT, value=0)
    known = np.zeros(canvas.shape[:2], np.uint8)
    known[pad_top : pad_top + h, pad_left : pad_left + w] = 1
    border_width = float(max(pads))
    width = band_width(min(h, w), block_size(min(h, w)))
    band = edge_band(known, width)
    objects = salient(canvas, known, band, width, seed)
    source = band & ~objects
    coarse = structure(canvas, known, known.astype(bool) & ~objects, source, border_width, min(h, w))
    cell = max(2, round(min(h, w) / 128))
    photo_source = source[pad_top : pad_top + h, pad_left : pad_left + w]
    detail = synthesize(
        rgb,
        known,
        (pad_top, pad_left),
        coarse,
        _DETAIL_SIGMA_CELLS * cell,
        border_width,
        np.random.default_rng(seed),
        photo_source,
    )
    out = coarse + detail
    edge = cv2.copyMakeBorder(rgb, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE).astype(np.float32)
    distance = cv2.distanceTransform((known == 0).astype(np.uint8), cv2.DIST_L2, 3)
    lean = np.exp(-distance / _EDGE_BLEND_PX)[..., None]
    out = edge * lean + out * (1.0 - lean)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _fill_reduced(rgb: np.ndarray, pads: tuple[int, int, int, int], scale: float, seed: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    top, bottom, left, right = (round(p * scale) for p in pads)
    filled = _fill(small, (top, bottom, left, right), seed)
    canvas_size = (w + pads[2] + pads[3], h + pads[0] + pads[1])
    return cv2.resize(filled, canvas_size, interpolation=cv2.INTER_CUBIC)
