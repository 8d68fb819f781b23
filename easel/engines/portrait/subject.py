"""The subject's matte: the person plus whatever they hold or stand with (tripods, instruments, bikes, pets).

The person model gives near-zero probability to everything that is not a person, so a style that
replaces the background through it cuts away a tripod, half a camera or a guitar. The rule here is the
reverse one: replace only what is clearly background and keep everything else that is joined to the
person. "Clearly background" means that the pixel's colour is common along the nearby part of the
image border, away from the person: photos are framed with the subject inside and the background
running out of the frame. Objects that cross the border too (tripod feet, a guitar neck) cover only a
small share of it, so their colours stay outside the background's model.
"""

from __future__ import annotations

import cv2
import numpy as np

from easel.engines.relight.matte import refine_edges

ANALYSIS_SHORT_SIDE = 320  # the matte's decisions are made on a copy this size; edges are refined at full size
# Tuned on the cameraman and the skimage composites of bench/bench_portrait_matte.py (the development set).
_SEGMENTS_PER_SIDE = 6  # the border is read in pieces so that a pixel is compared with the background near it
_BORDER_SHARE = 0.035  # width of the border band, as a share of the short side
_SPREAD = 0.25  # how far (share of the short side) a border piece speaks for the colours around it
_CORE_MASS = 0.95  # the most common colours covering this share of a border piece are its background ...
_MIN_RUN = 0.025  # ... if they also run this far (share of the short side) along the border, unbroken
_GAP = 2  # pixels: a gap this short in a textured background does not end a run
_L_BINS, _AB_BINS = 24, 20  # colour histogram: about 4 units of CIELAB lightness and 10 of a and b per bin
_SMOOTH_STEP = 2.5  # CIELAB units per pixel: below this the picture is a smooth run (a backdrop, sky, a wall)
_SMOOTH_SHARE = 0.3  # a smooth region this much background by colour is background all over
_BLEND_TOLERANCE = 1.0  # CIELAB units


def subject_matte(rgb: np.ndarray, person: np.ndarray) -> np.ndarray:
    """float32 HxW in 0..1: the person matte (HxW float, 0..1) widened by everything joined to the person
    that is not clearly background. The person's own soft edges are kept as they are."""
    extension = _joined_objects(rgb, person)
    if not extension.any():
        return person
    h, w = person.shape
    added = cv2.resize(extension.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    added = refine_edges(np.ascontiguousarray(rgb), (added >= 0.5).astype(np.float32))
    return np.maximum(person, added).astype(np.float32)


def _joined_objects(rgb: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Boolean mask at analysis size: not clearly background, not the person, joined to the person."""
    small_rgb, small_person = _analysis_copy(rgb, person)
    core = small_person >= 0.5
    if not core.any():
        return np.zeros(core.shape, bool)
    lab = _smoothed_lab(small_rgb)
    background = background_likeness(_lab_bins(lab), small_person) >= 0.5
    background |= _smooth_regions_reaching(background, lab, core)
    background |= _between_background_colours(background, lab) & ~core
    candidate = ~background | core
    count, labels = cv2.connectedComponents(candidate.astype(np.uint8), connectivity=8)
    joined = np.zeros(count, bool)
    joined[np.unique(labels[core])] = True
    joined[0] = False
    return joined[labels] & ~core


def _analysis_copy(rgb: np.ndarray, person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = person.shape
    scale = min(1.0, ANALYSIS_SHORT_SIDE / min(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small_rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    small_person = cv2.resize(person.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    return small_rgb, small_person


def _smoothed_lab(rgb: np.ndarray) -> np.ndarray:
    smooth = cv2.GaussianBlur(rgb.astype(np.float32) / 255.0, (0, 0), 0.8)
    return cv2.cvtColor(smooth, cv2.COLOR_RGB2Lab)


def _smooth_regions_reaching(background: np.ndarray, lab: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Smooth regions (no edge inside) that are largely background by colour: backdrops shaded by
    light or vignetting drift away from the border's colours but have no edge between."""
    gx = cv2.Sobel(lab, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(lab, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    step = np.sqrt((gx**2 + gy**2).sum(axis=2))
    smooth = (step < _SMOOTH_STEP) & ~core
    count, labels = cv2.connectedComponents(smooth.astype(np.uint8), connectivity=4)
    sizes = np.bincount(labels.ravel(), minlength=count)
    hits = np.bincount(labels.ravel(), weights=background.ravel(), minlength=count)
    is_background = hits >= _SMOOTH_SHARE * np.maximum(sizes, 1)
    is_background[0] = False
    return is_background[labels] & smooth


def _between_background_colours(background: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """Pixels whose colour lies between the colours of the background right around them: the blurred
    line where two backgrounds meet (a horizon, a skyline's edge) rather than a thing of its own, which
    is darker, brighter or more colourful than its surroundings (a tripod leg on grass)."""
    window = np.ones((5, 5), np.uint8)
    inside = np.ones(background.shape, bool)
    for channel in range(3):
        values = lab[:, :, channel]
        highest = cv2.dilate(np.where(background, values, -1e3).astype(np.float32), window)
        lowest = cv2.erode(np.where(background, values, 1e3).astype(np.float32), window)
        inside &= (values >= lowest - _BLEND_TOLERANCE) & (values <= highest + _BLEND_TOLERANCE)
    return inside


def _lab_bins(lab: np.ndarray) -> np.ndarray:
    """HxW int: the index of each pixel's CIELAB colour in a coarse 3-D histogram."""
    l_bin = np.clip(lab[:, :, 0] * (_L_BINS / 100.0), 0, _L_BINS - 1).astype(np.int32)
    a_bin = np.clip((lab[:, :, 1] + 100.0) * (_AB_BINS / 200.0), 0, _AB_BINS - 1).astype(np.int32)
    b_bin = np.clip((lab[:, :, 2] + 100.0) * (_AB_BINS / 200.0), 0, _AB_BINS - 1).astype(np.int32)
    return (l_bin * _AB_BINS + a_bin) * _AB_BINS + b_bin


def background_likeness(bins: np.ndarray, person: np.ndarray) -> np.ndarray:
    """HxW float 0..1: how many of the nearby border pieces hold this colour among their common ones,
    each piece weighted by its closeness to the pixel. Pieces covered by the person do not vote."""
    h, w = bins.shape
    band = max(2, round(min(h, w) * _BORDER_SHARE))
    free = cv2.dilate((person > 0.05).astype(np.uint8), np.ones((2 * band + 1, 2 * band + 1), np.uint8)) == 0
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    spread = _SPREAD * min(h, w)
    min_run = max(3, round(_MIN_RUN * min(h, w)))
    votes = np.zeros((h, w), np.float32)
    weights = np.zeros((h, w), np.float32)
    for rows, cols in _border_pieces(h, w, band):
        piece, piece_free = bins[rows, cols], free[rows, cols]
        if piece_free.mean() < 0.25:
            continue
        along = 1 if piece.shape[1] > piece.shape[0] else 0  # the axis that runs along the border
        common = _common_colours(piece, piece_free, along, min_run)
        cy, cx = (rows.start + rows.stop) / 2, (cols.start + cols.stop) / 2
        weight = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * spread**2))
        votes += weight * common[bins]
        weights += weight
    return np.where(weights > 0, votes / np.maximum(weights, 1e-6), 0.0).astype(np.float32)


def _border_pieces(h: int, w: int, band: int) -> list[tuple[slice, slice]]:
    pieces = []
    for k in range(_SEGMENTS_PER_SIDE):
        x0, x1 = k * w // _SEGMENTS_PER_SIDE, (k + 1) * w // _SEGMENTS_PER_SIDE
        y0, y1 = k * h // _SEGMENTS_PER_SIDE, (k + 1) * h // _SEGMENTS_PER_SIDE
        pieces += [
            (slice(0, band), slice(x0, x1)),
            (slice(h - band, h), slice(x0, x1)),
            (slice(y0, y1), slice(0, band)),
            (slice(y0, y1), slice(w - band, w)),
        ]
    return pieces


def _common_colours(piece: np.ndarray, free: np.ndarray, along: int, min_run: int) -> np.ndarray:
    """Float per histogram bin: 1 for the piece's background colours, else 0. Those are the most common
    colours that together cover _CORE_MASS of its free pixels, and that also run unbroken along the
    border for `min_run` pixels: a tripod foot or a guitar neck crossing the border is only as long
    there as it is wide. Neighbouring bins count with each colour, so near colours match too."""
    n_bins = _L_BINS * _AB_BINS * _AB_BINS
    samples = piece[free]
    counts = np.bincount(samples, minlength=n_bins).astype(np.float32)[_NEIGHBOURS].mean(axis=1)
    order = np.argsort(counts)[::-1]
    mass = np.cumsum(counts[order]) / max(float(counts.sum()), 1e-6)
    candidates = order[: int(np.searchsorted(mass, _CORE_MASS)) + 1]
    lines = np.moveaxis(piece, along, 0)  # one row per position along the border
    line_free = np.moveaxis(free, along, 0)
    present = np.zeros((lines.shape[0], n_bins), bool)
    line_index = np.broadcast_to(np.arange(lines.shape[0])[:, None], lines.shape)
    present[line_index[line_free], lines[line_free]] = True
    present = present[:, _NEIGHBOURS[candidates]].any(axis=2)  # lines x candidates
    # Textured or mottled backgrounds skip a colour for a pixel or two; such gaps do not end a run
    # (a closing along the border: it fills gaps without making any run longer).
    bridged = _along(present, np.logical_or, True)
    bridged = _along(bridged, np.logical_and, False)
    run = np.zeros(candidates.size, np.int32)
    longest = np.zeros(candidates.size, np.int32)
    for line in bridged:
        run = (run + 1) * line
        np.maximum(longest, run, out=longest)
    common = np.zeros(n_bins, np.float32)
    common[candidates[longest >= min_run]] = 1.0
    return common


def _bin_neighbours() -> np.ndarray:
    """(bins, 27) int: each histogram bin and its neighbours along L, a and b (clipped at the ends)."""
    lightness, a, b = np.unravel_index(np.arange(_L_BINS * _AB_BINS * _AB_BINS), (_L_BINS, _AB_BINS, _AB_BINS))
    steps = np.array([(dl, da, db) for dl in (-1, 0, 1) for da in (-1, 0, 1) for db in (-1, 0, 1)])
    nl = np.clip(lightness[:, None] + steps[:, 0], 0, _L_BINS - 1)
    na = np.clip(a[:, None] + steps[:, 1], 0, _AB_BINS - 1)
    nb = np.clip(b[:, None] + steps[:, 2], 0, _AB_BINS - 1)
    return (nl * _AB_BINS + na) * _AB_BINS + nb


_NEIGHBOURS = _bin_neighbours()


def _along(present: np.ndarray, combine: np.ufunc, grow: bool) -> np.ndarray:
    """Dilate (or erode) boolean rows over _GAP rows either side; erosion treats the ends as set."""
    out = present.copy()
    for shift in range(1, _GAP + 1):
        before = np.vstack([np.full((shift, present.shape[1]), not grow), present[:-shift]])
        after = np.vstack([present[shift:], np.full((shift, present.shape[1]), not grow)])
        out = combine(out, combine(before, after))
    return out
