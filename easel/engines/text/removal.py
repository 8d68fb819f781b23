"""remove_watermark: find the text the prompt asks for, mask it, inpaint it away.

Semi-transparent marks are not inpainted but un-blended (blend.py): a mark tiled over the photo is
found by its repeats (periodic.py) once OCR has read any of its copies; a single faint mark by the
characters OCR read, rendered and registered on the line (glyph.py: the shape is then known over
skin and texture too), else by its colour shift over smooth ground (local.py); and a logo's ring or
star next to such a line by strokes implying the same opacity (emblem.py). The photo under them
comes back with its detail.
Opaque text, and marks whose blend cannot be estimated, keep the inpainting path. A slanted line
that upright OCR reads only in pieces is looked for on rotated copies (rotated.py).

Honest scope: what is removed is text (Chinese, Latin, digits), including faint semi-transparent
watermark text, which the sensitive detection pass finds. A logo or watermark that is purely
graphic (no letters) is not detected: nothing on CPU here recognises arbitrary brand marks, so such
a request removes the text that is there and leaves the mask empty where there is none. Callers can
tell from the returned mask (all zero = nothing found) and say so.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from easel.engines.inpaint import inpaint
from easel.engines.text.blend import Blend, invert, mark_left, unrecoverable_share
from easel.engines.text.detect import TextRegion, detect_text
from easel.engines.text.emblem import emblem_blend
from easel.engines.text.glyph import glyph_blend, matched_share, unmatched_mask
from easel.engines.text.local import region_blend
from easel.engines.text.mask import grown_quad, selected_regions, text_mask
from easel.engines.text.periodic import find_lattice, tiled_blend
from easel.engines.text.rotated import ANGLES as SLANTS
from easel.engines.text.rotated import merged, rotated_regions
from easel.engines.text.target import RemovalTarget, removal_target

# When the upright passes read no line this long (nothing, or a piece such as "图" of a diagonal
# "SAMPLE 样图"), slanted text is looked for on rotated copies (rotated.py; one pass per slant).
_SLANT_SEARCH_BELOW_CHARS = 3

# Ghost glyphs that survive the first fill are found again by detection on the result; their boxes
# are added to the mask with a wider margin and the fill is redone once.
_SECOND_GROW_FRACTION = 0.35

# A single mark estimated more opaque than this is treated as opaque text (inpainted): semi-
# transparent marks sit at 20-60 %, and a higher reading is more often the photo misread as mark.
_MAX_SINGLE_OPACITY = 0.7
# A tiled lattice is the mark's when its α support covers this share of at least half of the lines
# OCR read (periodic photo textures repeat too, but carry no text).
_MIN_TILED_COVER = 0.05
# A single mark's inversion is kept only when it leaves the glyphs neither carved in (correlation of
# the result's deviation from its background with α below the first bound: α over-estimated, or
# photo detail taken for strokes) nor mostly standing (above the second), and when few of its pixels
# would recover outside 0-255. Set on constructed marks over scikit-image photos (astronaut, coffee,
# chelsea): wrong readings scored -0.23 and a gamut share of 0.56, kept ones -0.0 to +0.49 and ≤ 0.13.
_MIN_MARK_LEFT = -0.15
_MAX_MARK_LEFT = 0.6
_MAX_UNRECOVERABLE = 0.3
# A line's rendered glyphs are trusted when they match the α evidence this well on average (unread
# characters count as 0) and this share of its characters registered on their own.
_MIN_GLYPH_LINE_SCORE = 0.5
_MIN_GLYPH_MATCHED_SHARE = 0.6

# (rgb, mask 255 = fill, seed) -> rgb: the deployment's erase engine; coherence transport by default.
Eraser = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def remove_text(rgb: np.ndarray, prompt: str = "", *, seed: int = 0,
                erase: Eraser | None = None, unblend: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Remove the text that `prompt` asks for; returns (result, mask of changed pixels, 255).

    Pixels where the mask is 0 are returned unchanged, bit for bit. unblend=False skips the
    semi-transparent path (every line is inpainted) and the search on rotated copies, as before
    they existed.
    """
    target = removal_target(prompt)
    found = selected_regions(detect_text(rgb, sensitive=True), target)
    if unblend and _longest_line(found) < _SLANT_SEARCH_BELOW_CHARS:
        # A piece read upright hints at a slanted line: every slant is tried; with no piece at all
        # (most photos without marks) only the diagonals, to bound the cost.
        angles = SLANTS if found else SLANTS[:2]
        found = merged(found, selected_regions(rotated_regions(rgb, angles), target))
    none = np.zeros(rgb.shape[:2], np.uint8)
    if not found:
        return rgb.copy(), none
    base, recovered, holes, to_fill = _unblend(rgb, found) if unblend else (rgb, none, none, found)
    # Lines un-blended only over smooth ground keep their strokes over texture for the inpainter;
    # lines seen only on the saturation image are never inpainted (TextRegion.recover_only).
    to_fill = [r for r in to_fill if not r.recover_only]
    mask = (text_mask(rgb, to_fill, target) & ~_grown(recovered)) | holes
    result = fill(base, mask, seed=seed, erase=erase)
    leftover = _leftover_text(result, mask | recovered, target)
    if leftover:
        # A re-read on a filled image can also see text in the fill's smears; the second mask may only
        # widen the first one around the lines found at the start, never open new areas.
        inpainted = [r for r in found if not r.recover_only]
        limit = _box_mask(rgb.shape[:2], inpainted, _SECOND_GROW_FRACTION) | _grown(recovered)
        mask = mask | (_box_mask(rgb.shape[:2], leftover, _SECOND_GROW_FRACTION) & limit)
        result = fill(base, mask, seed=seed, erase=erase)
    return result, mask | recovered


def _unblend(rgb: np.ndarray, regions: list[TextRegion]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[TextRegion]]:
    """Undo the blend of the semi-transparent marks among `regions`.

    Returns (image with those marks un-blended, uint8 mask of the un-blended pixels, uint8 mask of
    their pixels too opaque to recover, the regions still to inpaint).
    """
    blends: list[Blend] = []
    remaining = regions
    lattice = find_lattice(rgb)
    tiled = tiled_blend(rgb, lattice) if lattice is not None else None
    if tiled is not None and _covers(tiled, regions) >= 0.5:
        blends.append(tiled)
        remaining = [r for r in regions if _cover(tiled, r) < _MIN_TILED_COVER]
    opaque: list[TextRegion] = []
    doubtful = np.zeros(rgb.shape[:2], np.uint8)
    for region in remaining:
        glyphs = _glyph_line(rgb, region, blends)
        if glyphs is not None:
            blends.append(glyphs[0])
            if not region.recover_only:  # its unregistered characters are not inpainted either
                doubtful |= glyphs[1]
            continue
        single = region_blend(rgb, region.polygon)
        if single is not None and _single_inversion_holds(rgb, single):
            blends.append(single)
            _add_emblem(rgb, region, single, blends)
        opaque.append(region)
    out = rgb
    recovered = np.zeros(rgb.shape[:2], np.uint8)
    holes = np.zeros_like(recovered)
    for blend in blends:
        out, hole = invert(out, blend)
        recovered |= (blend.support & (hole == 0)).astype(np.uint8) * 255
        holes |= hole
    return out, recovered, holes | doubtful, opaque


def _add_emblem(rgb: np.ndarray, region: TextRegion, line: Blend, blends: list[Blend]) -> None:
    """A logo's ring or star next to the line: only strokes that imply the line's own opacity over
    smooth ground (emblem.py), and only if their inversion holds too."""
    emblem = _apart(emblem_blend(rgb, region.polygon, line), blends)
    if emblem is not None and _single_inversion_holds(rgb, emblem):
        blends.append(emblem)


def _glyph_line(rgb: np.ndarray, region: TextRegion, others: list[Blend]) -> tuple[Blend, np.ndarray] | None:
    """The line's blend with its shape from the rendered characters (glyph.py), and the mask of its
    characters that did not register (left to the inpainter); None when the registration or the
    inversion is not convincing (the line then takes the smooth-ground path, or is inpainted)."""
    found = glyph_blend(rgb, region.polygon, region.text)
    if found is None:
        return None
    blend, fit = found
    if fit.score < _MIN_GLYPH_LINE_SCORE or matched_share(fit) < _MIN_GLYPH_MATCHED_SHARE:
        return None
    blend = _apart(blend, others)
    if blend is None or not _single_inversion_holds(rgb, blend):
        return None
    return blend, unmatched_mask(fit, region.polygon, rgb.shape[:2])


def _apart(blend: Blend | None, others: list[Blend]) -> Blend | None:
    """`blend` without the pixels another blend already un-blends (each pixel is inverted once)."""
    if blend is None:
        return None
    taken = np.zeros(blend.alpha.shape, bool)
    for other in others:
        taken |= other.support
    alpha = np.where(taken, 0.0, blend.alpha).astype(np.float32)
    return Blend(alpha, blend.colour) if alpha.any() else None


def _longest_line(regions: list[TextRegion]) -> int:
    """Characters in the longest line read on the photo itself or its grey contrast image (readings of
    the saturation image misread more, so they do not spare the search on rotated copies)."""
    return max((sum(1 for ch in r.text if not ch.isspace()) for r in regions if not r.recover_only), default=0)


def _grown(mask: np.ndarray) -> np.ndarray:
    return cv2.dilate(mask, np.ones((3, 3), np.uint8))


def _single_inversion_holds(rgb: np.ndarray, blend: Blend) -> bool:
    """Whether un-blending this single mark removes it without carving the photo (else inpaint it:
    the old path, never worse than before)."""
    if float(blend.alpha.max()) > _MAX_SINGLE_OPACITY or unrecoverable_share(rgb, blend) > _MAX_UNRECOVERABLE:
        return False
    recovered, _ = invert(rgb, blend)
    return _MIN_MARK_LEFT <= mark_left(recovered, blend) <= _MAX_MARK_LEFT


def _covers(blend: Blend, regions: list[TextRegion]) -> float:
    """Share of the regions that the blend's support covers enough to be their mark."""
    return sum(_cover(blend, r) >= _MIN_TILED_COVER for r in regions) / max(1, len(regions))


def _cover(blend: Blend, region: TextRegion) -> float:
    inside = np.zeros(blend.alpha.shape, np.uint8)
    cv2.fillPoly(inside, [np.round(region.polygon).astype(np.int32)], 1)
    area = int(inside.sum())
    return float((blend.support & (inside > 0)).sum()) / max(1, area)


def fill(rgb: np.ndarray, mask: np.ndarray, *, seed: int = 0, erase: Eraser | None = None) -> np.ndarray:
    """Inpaint where mask != 0; every other pixel is returned unchanged."""
    if not mask.any():
        return rgb.copy()
    filled = erase(rgb, mask, seed) if erase else inpaint(rgb, mask, seed=seed)
    # The contract is exact: whatever the inpainter does outside the hole is discarded.
    return np.where(mask[..., None] > 0, filled, rgb)


def _leftover_text(result: np.ndarray, mask: np.ndarray, target: RemovalTarget) -> list[TextRegion]:
    """Target-script text found again on the result where the mask was (remnants of glyph edges)."""
    leftover = []
    # The second pass inpaints, and lines seen only on the saturation image are never inpainted:
    # that image is not read here.
    for region in detect_text(result, sensitive=True, desaturation=False):
        if region.script not in target.scripts:
            continue
        inside = np.zeros_like(mask)
        cv2.fillPoly(inside, [np.round(region.polygon).astype(np.int32)], 255)
        if (inside & mask).any():
            leftover.append(region)
    return leftover


def _box_mask(shape: tuple[int, int], regions: list[TextRegion], grow_fraction: float) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for region in regions:
        height = float(np.linalg.norm(region.polygon[3] - region.polygon[0]))
        quad = grown_quad(region.polygon, round(max(4.0, grow_fraction * height)))
        cv2.fillPoly(mask, [np.round(quad).astype(np.int32)], 255)
    return mask
