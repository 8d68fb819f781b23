"""Tiled marks: find the repeat lattice, then the mark itself as what all repeats share.

A mark stamped on a grid over the whole photo (stock-photo previews, often rotated 30-45°) adds the
same pattern at every lattice point, while the photo under each copy differs. So:

1. The lattice comes from the autocorrelation of the grey high-pass: the mark makes sharp peaks at
   the repeat vectors, a photo's own structure mostly decays within a few pixels.
2. Shifting the photo by the nearest lattice vectors lines up every copy of the mark over every
   other; the per-pixel median over the copies keeps the mark and drops the photo (Dekel et al.,
   "On the Effectiveness of Visible Watermarks", CVPR 2017, take the median of aligned gradients).
3. The same median over the α each copy's colour shift implies (blend.alpha_of_shift) gives the
   mark's α map, from which the photo under every copy is recovered by inverting the blend.

Periodic photo textures (bricks, tiles, fences) have lattices too; the caller accepts a lattice only
when the recovered mark lies on text that OCR found.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from easel.engines.text.blend import MIN_CONTRAST, Blend, alpha_of_shift, background_without, stroke_sigma

# The autocorrelation is computed at most at this size (longest side), for time.
_AC_SIDE = 768
# A repeat vector is at least this long (working pixels, or 5 % of the longest side): shorter
# peaks are photo texture or letter spacing within one copy.
_MIN_LAG = 24
# Peak height in robust standard deviations of the autocorrelation's far field. Photos without a
# mark peak at 5-8 (rocket, coffee and brick at 11), photo textures like grass at 24, tiled marks at
# 17-54 (bench/results/watermark_tiled.md); textures are rejected later, by OCR.
_MIN_PEAK_Z = 12.0
# Copies of the mark compared per pixel (nearest lattice points): enough for a robust median, few
# enough for time and memory at 1024².
_COPIES = 16
# A tiled mark covers a minority of the pixels (text strokes, 3-12 % in practice); an α support much
# larger than that is photo detail read as mark.
_MAX_MARK_SHARE = 0.25
# Share of the copies that must show the mark at a pixel: photo texture under one copy can lift a
# median, but not most copies at once.
_MIN_AGREEMENT = 0.7
# Fewest copies (the pixel itself included) whose median is trusted.
_MIN_COPIES = 4
# Mark pixels sampled to choose the mark colour, and the grey levels tried (a brightening mark; a
# darkening one tries 255 minus these).
_COLOUR_SAMPLES = 3000
_GREY_CANDIDATES = np.arange(255.0, 119.0, -5.0)
_GREY_HANDICAP = 1.2
# Noise floor of the median α: below it a pixel is off the mark.
_ALPHA_FLOOR = 0.06


@dataclass(frozen=True)
class Lattice:
    """Two repeat vectors (dx, dy) in image pixels, and how sharply the mark repeats (peak z)."""

    first: tuple[float, float]
    second: tuple[float, float]
    strength: float

    def shifts(self, shape: tuple[int, int], count: int) -> list[tuple[float, float]]:
        """The `count` shortest lattice vectors that still overlap the image."""
        h, w = shape
        t1, t2 = np.asarray(self.first), np.asarray(self.second)
        reach = int(np.ceil(np.hypot(h, w) / min(np.linalg.norm(t1), np.linalg.norm(t2)))) + 1
        points = []
        for i in range(-reach, reach + 1):
            for j in range(-reach, reach + 1):
                v = i * t1 + j * t2
                if (i or j) and abs(v[0]) < 0.9 * w and abs(v[1]) < 0.9 * h:
                    points.append((float(np.hypot(*v)), (float(v[0]), float(v[1]))))
        points.sort()
        return [v for _, v in points[:count]]


def find_lattice(rgb: np.ndarray) -> Lattice | None:
    """The repeat lattice of a tiled mark, or None when nothing repeats sharply enough."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    scale = min(1.0, _AC_SIDE / max(grey.shape))
    if scale < 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    z = _autocorrelation_z(grey)
    peaks = _peaks(z, max(_MIN_LAG, 0.05 * max(grey.shape)))
    if not peaks or peaks[0][0] < _MIN_PEAK_Z:
        return None
    strongest = peaks[0][0]
    # Once the lattice is certain, weaker peaks may be its shortest vectors (with few copies in the
    # photo, a shorter vector overlaps less and peaks lower): the shortest basis gives the most copies.
    candidates = sorted((p for p in peaks if p[0] >= 0.5 * strongest), key=lambda p: np.hypot(*p[1]))
    first = candidates[0][1]
    for _, v in candidates[1:]:
        cross = abs(first[0] * v[1] - first[1] * v[0]) / (np.hypot(*first) * np.hypot(*v))
        if cross > 0.3:
            t1, t2 = (_refine(z, first), _refine(z, v))
            return Lattice((t1[0] / scale, t1[1] / scale), (t2[0] / scale, t2[1] / scale), strongest)
    return None


def _autocorrelation_z(grey: np.ndarray) -> np.ndarray:
    """Autocorrelation of the clipped high-pass, per overlapping pixel, as robust z-scores; centred
    (lag 0 at the middle), lags where the overlap is under a quarter of the image set to 0."""
    high = grey - cv2.GaussianBlur(grey, (0, 0), 1.2)
    spread = float(np.median(np.abs(high))) + 1e-3
    high = np.clip(high, -2 * spread, 2 * spread)  # strong photo edges would swamp the faint mark
    high -= high.mean()
    h, w = high.shape
    size = (2 * h, 2 * w)
    power = np.abs(np.fft.rfft2(high, s=size)) ** 2
    overlap = np.abs(np.fft.rfft2(np.ones_like(high), s=size)) ** 2
    ac = np.fft.fftshift(np.fft.irfft2(power, s=size))
    count = np.fft.fftshift(np.fft.irfft2(overlap, s=size))
    valid = count > 0.25 * h * w
    ac = np.where(valid, ac / np.maximum(count, 1.0), 0.0)
    far = valid & (_lag_length(ac.shape) > _MIN_LAG)
    median = float(np.median(ac[far]))
    spread_ac = 1.4826 * float(np.median(np.abs(ac[far] - median))) + 1e-12
    return np.where(valid, (ac - median) / spread_ac, 0.0).astype(np.float32)


def _lag_length(shape: tuple[int, ...]) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.hypot(yy - shape[0] // 2, xx - shape[1] // 2)


def _peaks(z: np.ndarray, min_lag: float) -> list[tuple[float, tuple[int, int]]]:
    """Local maxima above the threshold beyond `min_lag`, strongest first: (z, (dx, dy))."""
    local_max = z == cv2.dilate(z, np.ones((5, 5), np.uint8))
    ys, xs = np.nonzero(local_max & (z >= 0.5 * _MIN_PEAK_Z) & (_lag_length(z.shape) >= min_lag))
    cy, cx = z.shape[0] // 2, z.shape[1] // 2
    found = [(float(z[y, x]), (int(x - cx), int(y - cy))) for y, x in zip(ys, xs, strict=True)]
    return sorted(found, reverse=True)[:24]


def _refine(z: np.ndarray, lag: tuple[int, int]) -> tuple[float, float]:
    """Sub-pixel peak position by a parabola through the neighbours on each axis."""
    cy, cx = z.shape[0] // 2, z.shape[1] // 2
    x, y = lag[0] + cx, lag[1] + cy
    if not (0 < x < z.shape[1] - 1 and 0 < y < z.shape[0] - 1):
        return float(lag[0]), float(lag[1])

    def offset(lo: float, mid: float, hi: float) -> float:
        curve = lo - 2 * mid + hi
        return float(np.clip(0.5 * (lo - hi) / curve, -0.5, 0.5)) if curve < 0 else 0.0

    dx = offset(z[y, x - 1], z[y, x], z[y, x + 1])
    dy = offset(z[y - 1, x], z[y, x], z[y + 1, x])
    return lag[0] + dx, lag[1] + dy


def tiled_blend(rgb: np.ndarray, lattice: Lattice) -> Blend | None:
    """The tiled mark's α map and colour, from the median over its aligned copies; None when the
    copies share no clear mark."""
    shifts = lattice.shifts(rgb.shape[:2], _COPIES)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    high = grey - cv2.GaussianBlur(grey, (0, 0), 3.0)
    shared, _ = _median_over_copies(high, shifts)
    brighter = float(np.percentile(shared, 99.5)) > -float(np.percentile(shared, 0.5))
    signed = shared if brighter else -shared
    noise = 1.4826 * float(np.median(np.abs(signed - np.median(signed)))) + 0.5
    level = max(4.0 * noise, 3.0)
    _, agreeing = _median_over_copies(high if brighter else -high, shifts, above=0.5 * level)
    # Texture can raise the median of a few copies; the mark raises nearly all of them.
    support = (signed > level) & (agreeing >= _MIN_AGREEMENT)
    if support.mean() < 0.002:
        return None
    sigma = stroke_sigma(support)
    alpha, colour = _alpha_and_colour(rgb, support, sigma, brighter, shifts)
    # A second round: the α support is a truer stroke outline (anti-aliased edges included) than the
    # thresholded high-pass, but only near it: elsewhere a raised α is photo detail.
    near = cv2.dilate(support.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    alpha, colour = _alpha_and_colour(rgb, (alpha > _ALPHA_FLOOR) & near, sigma, brighter, shifts)
    alpha = _cleaned(np.where(near, alpha, 0.0))
    if (alpha > 0).mean() > _MAX_MARK_SHARE:
        return None
    return Blend(alpha, colour)


def _alpha_and_colour(
    rgb: np.ndarray, support: np.ndarray, sigma: float, brighter: bool, shifts: list[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    exclude = cv2.dilate(support.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    background = background_without(rgb, exclude, sigma)
    core = cv2.erode(support.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    colour = _consistent_grey(rgb, background, core, shifts, brighter)
    alpha, agreeing = _median_over_copies(alpha_of_shift(rgb, background, colour), shifts, above=_ALPHA_FLOOR)
    alpha = np.where(agreeing >= _MIN_AGREEMENT, alpha, 0.0)
    return np.nan_to_num(alpha, nan=0.0), colour


def _consistent_grey(
    rgb: np.ndarray, background: np.ndarray, core: np.ndarray, shifts: list[tuple[float, float]], brighter: bool
) -> np.ndarray:
    """The grey mark colour under which the copies of each mark pixel agree best on its α.

    Under the true W every copy gives the same α whatever photo lies under it; under a wrong W the
    α a copy implies drifts with its background (a white mark read as light grey looks stronger
    over bright ground). Repeats make this test possible.
    """
    ys, xs = np.nonzero(core)
    if len(ys) < 50:
        return np.full(3, 255.0 if brighter else 0.0, np.float32)
    pick = np.random.default_rng(0).permutation(len(ys))[:_COLOUR_SAMPLES]
    ys, xs = ys[pick], xs[pick]
    offsets = np.array([(0.0, 0.0), *shifts])
    px = np.rint(xs[None, :] + offsets[:, :1]).astype(int)
    py = np.rint(ys[None, :] + offsets[:, 1:]).astype(int)
    h, w = core.shape
    inside = (px >= 0) & (px < w) & (py >= 0) & (py < h)
    px, py = np.clip(px, 0, w - 1), np.clip(py, 0, h - 1)
    observed = rgb[py, px].astype(np.float32)  # (copies, samples, 3)
    under = background[py, px]
    shift = observed - under
    best, best_spread = 255.0 if brighter else 0.0, np.inf
    for grey in _GREY_CANDIDATES if brighter else 255.0 - _GREY_CANDIDATES:
        towards = grey - under
        reach = np.sum(towards * towards, axis=2)
        alpha = np.sum(shift * towards, axis=2) / np.maximum(reach, 1e-6)
        alpha[~inside | (reach < MIN_CONTRAST**2)] = np.nan
        enough = np.sum(~np.isnan(alpha), axis=0) >= 3
        if enough.sum() < 50:
            continue
        level = np.nanmedian(alpha[:, enough], axis=0)
        spread = np.nanmedian(np.abs(alpha[:, enough] - level), axis=0) / np.maximum(np.abs(level), 0.02)
        # Pure white or black unless a grey fits clearly better: most marks are one of the two.
        score = float(np.median(spread)) * (1.0 if grey in (0.0, 255.0) else _GREY_HANDICAP)
        if score < best_spread:
            best, best_spread = float(grey), score
    return np.full(3, best, np.float32)


def _median_over_copies(
    field: np.ndarray, shifts: list[tuple[float, float]], above: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the median of `field` over the pixel itself and its copies at the shifts (NaN
    samples, and copies that fall outside the image, are left out), and the share of those samples
    above `above`."""
    stack = _copies(field, shifts)
    count_above = np.sum(stack > above, axis=0)
    stack.sort(axis=0)  # NaN sorts last, so the valid samples come first (np.nanmedian is 10x slower)
    valid = np.sum(~np.isnan(stack), axis=0)
    valid[valid < _MIN_COPIES] = 0  # a median of two or three copies is still mostly photo
    lo = np.maximum(valid - 1, 0) // 2
    hi = valid // 2
    low = np.take_along_axis(stack, lo[None], axis=0)[0]
    high = np.take_along_axis(stack, np.minimum(hi, len(stack) - 1)[None], axis=0)[0]
    median = np.where(valid > 0, 0.5 * (low + high), np.nan).astype(np.float32)
    return median, (count_above / np.maximum(valid, 1)).astype(np.float32)


def _copies(field: np.ndarray, shifts: list[tuple[float, float]]) -> np.ndarray:
    """(1 + len(shifts), H, W): the field and the field moved by each shift, NaN off the image."""
    h, w = field.shape[:2]
    stack = np.empty((len(shifts) + 1, *field.shape), np.float32)
    stack[0] = field
    for k, (dx, dy) in enumerate(shifts, start=1):
        moved = np.float32([[1, 0, -dx], [0, 1, -dy]])  # out(x) = field(x + shift)
        stack[k] = cv2.warpAffine(field, moved, (w, h), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))
    return stack


def _cleaned(alpha: np.ndarray) -> np.ndarray:
    """α above the noise floor, kept only where connected to clearly marked pixels; capped at the
    mark's opacity (flat-opacity marks: coverage never exceeds 1)."""
    strong = (alpha > 2 * _ALPHA_FLOOR).astype(np.uint8)
    weak = (alpha > _ALPHA_FLOOR).astype(np.uint8)
    count, labels = cv2.connectedComponents(weak, connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(labels[strong > 0])] = True
    keep[0] = False
    inside = keep[labels]
    if not inside.any():
        return np.zeros_like(alpha)
    opacity = float(np.percentile(alpha[inside], 95))
    return np.where(inside, np.clip(alpha, 0.0, opacity), 0.0).astype(np.float32)
