"""A single semi-transparent mark over skin or texture: the glyph shape from the text OCR read.

With one copy of a mark over detail, the glyph shape cannot be read off the colour shift (the photo's
own highlights shift too), which is why local.py un-blends a line only over smooth ground. But OCR
knows what the line says, and mark text is set in ordinary fonts: each recognised character is
rendered (Noto Sans CJK, the project's own typeface, Regular and Bold) and registered on the line's α
evidence (normalised cross-correlation; the characters' best peaks are chained in reading order; the
font size, weight and mark colour under which the chain scores best win), so the strokes are known
wherever a character matched, texture or not. With the shape known, the line's one opacity is the
median of the α its stroke interiors imply: texture under some of them pulls both ways and the
median stays. α = opacity × rendered coverage (on the strokes' rim over steady ground, the measured
α, which also absorbs the rendering's sub-pixel differences), and J = (I − α·W) / (1 − α).

Characters that do not match well (a different typeface, OCR misreadings such as "Y" before
"SAMPLE") are not un-blended; the caller leaves them to the inpainter. Whether the result is used
at all is decided by the caller's inversion check, as for local.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw

from easel.engines.text.blend import Blend, alpha_of_shift, background_without, stroke_sigma
from easel.engines.text.local import dilated, ground_rms, padded_rect
from easel.engines.typeset.fonts import SANS, load_font

# The strip around the line, in line heights, on each side: room for the registration to move.
_MARGIN = 0.6
# Font sizes tried, as multiples of the OCR box height (the box hugs the ink, the em is larger).
_SIZE_FACTORS = tuple(float(f) for f in np.geomspace(0.7, 1.5, 14))
_WEIGHTS = ("Regular", "Bold")
_COLOURS = (np.full(3, 255.0, np.float32), np.full(3, 0.0, np.float32))
# A character is taken as registered at this normalised cross-correlation with the α evidence.
MIN_CHAR_MATCH = 0.5
# The evidence for registration is read where the ground is this far from the mark colour (0-255):
# lower than for the opacity, since a faint mark on a pale sky still has the glyphs' shape.
_REGISTER_CONTRAST = 12.0
# A match window must be mostly readable and show some contrast in α.
_MIN_READABLE = 0.6
_MIN_EVIDENCE_SPREAD = 0.03
# Peaks kept per character and the lowest worth considering; placed characters overlap by at
# most this share of the narrower one's width (glyph boxes overlap a little, "AV").
_PEAKS_PER_CHAR = 4
_MIN_PEAK = 0.2
_MAX_OVERLAP = 0.35
# On the strokes' rim the measured α replaces the rendered one where the ground's own noise reads as
# at most this much α (ground RMS over the distance to the mark colour): dark cloth under a white
# mark qualifies, skin and petals do not.
_RIM_ALPHA_NOISE = 0.05
# Opacity readings only from stroke interiors (rendered coverage at least this).
_INTERIOR_COVERAGE = 0.9
# ... and only where the ground is this far from the mark colour (0-255, RGB distance). Lower than
# local.py's threshold: there the shape itself is read from the shift; here it is known, and the
# noise of a reading near the mark colour (a white mark on a pale sky) averages out in the median.
_OPACITY_CONTRAST = 40.0
_MIN_OPACITY_PIXELS = 30
# The stroke interiors of a real mark agree on its opacity: median absolute deviation of their α
# at most this share of it. Held-out bench lines over petals, skin and sky: 0.03-0.22; a black serif
# mark misread as white sans letters (constructed, astronaut): 0.56.
_MAX_ALPHA_SPREAD = 0.3


@dataclass(frozen=True)
class Placed:
    """A registered character: its text, match score and top-left corner in the strip."""

    char: str
    score: float
    x: float
    y: float


@dataclass(frozen=True)
class GlyphFit:
    """What the registration found on one line: the placed characters, font and mark colour."""

    placed: list[Placed]
    size: int
    weight: str
    colour: np.ndarray
    score: float
    opacity: float
    chars: int


def glyph_blend(rgb: np.ndarray, polygon: np.ndarray, text: str) -> tuple[Blend, GlyphFit] | None:
    """The blend of the mark line `polygon` reading `text`, its shape from the rendered characters."""
    strip, to_image = line_strip(rgb, polygon)
    line_height = float(np.linalg.norm(polygon[3] - polygon[0]))
    fit = register(strip, text, line_height)
    if fit is None:
        return None
    coverage = placed_coverage(fit, to_image, rgb.shape[:2])
    if not coverage.any():
        return None
    x, y, w, h = padded_rect((coverage > 0).astype(np.uint8), round(line_height))
    measured = line_opacity(rgb[y : y + h, x : x + w].astype(np.float32), coverage[y : y + h, x : x + w], fit.colour)
    if measured is None:
        return None
    opacity, alpha = measured
    full = np.zeros(rgb.shape[:2], np.float32)
    full[y : y + h, x : x + w] = alpha
    full[full < 0.01] = 0.0
    return Blend(full, fit.colour), replace(fit, opacity=opacity)


def unmatched_mask(fit: GlyphFit, polygon: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """uint8 mask (255) of the characters placed below the match threshold (their rendering widened
    by a fifth of the line height): left to the inpainter rather than inverted with a doubtful shape."""
    doubtful = replace(fit, placed=[p for p in fit.placed if p.score < MIN_CHAR_MATCH])
    coverage = placed_coverage(doubtful, line_strip_map(polygon), shape, min_score=-1.0)
    line_height = float(np.linalg.norm(polygon[3] - polygon[0]))
    return dilated(coverage > 0.05, max(2, round(0.2 * line_height))).astype(np.uint8) * 255


def matched_share(fit: GlyphFit) -> float:
    """Share of the line's characters that registered well (misread or missing ones count against)."""
    return sum(p.score >= MIN_CHAR_MATCH for p in fit.placed) / max(1, fit.chars)


def line_strip(rgb: np.ndarray, polygon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The line turned flat (strip, float32 RGB) with a margin, and the 2x3 map from strip to photo."""
    to_image = line_strip_map(polygon)
    tl, tr, br, bl = np.asarray(polygon, np.float32)
    length = float(np.linalg.norm((tr - tl) + (br - bl))) / 2
    height = float(np.linalg.norm((bl - tl) + (br - tr))) / 2
    margin = _MARGIN * height
    size = (round(length + 2 * margin), round(height + 2 * margin))
    strip = cv2.warpAffine(rgb, to_image, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    return strip.astype(np.float32), to_image


def line_strip_map(polygon: np.ndarray) -> np.ndarray:
    """2x3 map from the flat strip along the line (margin included) to the photo."""
    tl, tr, br, bl = np.asarray(polygon, np.float32)
    along, across = (tr - tl) + (br - bl), (bl - tl) + (br - tr)
    u = along / max(float(np.linalg.norm(along)), 1e-6)
    v = across / max(float(np.linalg.norm(across)), 1e-6)
    margin = _MARGIN * float(np.linalg.norm(across)) / 2
    origin = tl - margin * u - margin * v
    return np.array([[u[0], v[0], origin[0]], [u[1], v[1], origin[1]]], np.float32)


def register(strip: np.ndarray, text: str, line_height: float) -> GlyphFit | None:
    """The font size, weight and mark colour under which the line's characters match best."""
    chars = [ch for ch in text if not ch.isspace()]
    if not chars:
        return None
    k = min(255, max(3, int(0.6 * line_height) | 1))
    rough = cv2.medianBlur(np.clip(strip, 0, 255).astype(np.uint8), k).astype(np.float32)
    best: GlyphFit | None = None
    for colour in _COLOURS:
        alpha = alpha_of_shift(strip, rough, colour, min_contrast=_REGISTER_CONTRAST)
        readable = np.isfinite(alpha).astype(np.float32)
        evidence = np.clip(np.nan_to_num(alpha), -1.0, 1.0).astype(np.float32)
        for weight in _WEIGHTS:
            fit = _best_size(evidence, readable, chars, line_height, weight, colour)
            if best is None or fit.score > best.score:
                best = fit
    return best


def _best_size(evidence: np.ndarray, readable: np.ndarray, chars: list[str], line_height: float, weight: str,
               colour: np.ndarray) -> GlyphFit:
    """The best-matching font size over the whole range. (A coarse-then-fine search was tried: it
    found sizes 1-2 px off the full sweep's on some lines, and the line then passed or failed the
    acceptance rules differently, three development cases ending below the previous code.)"""
    best: GlyphFit | None = None
    for factor in _SIZE_FACTORS:
        size = max(6, round(factor * line_height))
        placed = _place(evidence, readable, chars, size, weight)
        fit = GlyphFit(placed, size, weight, colour, sum(p.score for p in placed) / len(chars), 0.0, len(chars))
        if best is None or fit.score > best.score:
            best = fit
    assert best is not None  # _SIZE_FACTORS is not empty
    return best


def _place(evidence: np.ndarray, readable: np.ndarray, chars: list[str], size: int, weight: str) -> list[Placed]:
    """The characters at their best matches on the evidence, in reading order and not overlapping.

    Each character's few best peaks are candidates; the chain of candidates (one per character, or
    none) that keeps the reading order, overlaps by at most a third of a width, and scores highest in
    sum is chosen (dynamic programming over the characters). So a misread "Y" before "SAMPLE" cannot
    take the "S"'s place, nor the first "A" of "WATERMARK" the second's. Windows that are mostly
    unreadable (ground too close to the mark colour) or flat score nothing: the correlation of a
    constant window is meaningless.
    """
    peaks: dict[str, list[tuple[float, float, float, int]]] = {}
    for char in dict.fromkeys(chars):
        template = glyph(char, size, weight)
        th, tw = template.shape
        if th >= evidence.shape[0] or tw >= evidence.shape[1] or template.std() < 1e-3:
            peaks[char] = []
            continue
        scores = cv2.matchTemplate(evidence, template, cv2.TM_CCOEFF_NORMED)
        scores[~_informative(evidence, readable, (th, tw))] = -1.0
        peaks[char] = _peaks(scores, (th, tw))
    nodes = [(i, peak) for i, char in enumerate(chars) for peak in peaks[char]]
    total = [0.0] * len(nodes)
    before: list[int | None] = [None] * len(nodes)
    for n, (i, (score, x, _, width)) in enumerate(nodes):
        total[n] = score
        for m in range(n):
            j, (_, other_x, _, other_width) = nodes[m]
            if j < i and _follows(other_x, other_width, x, width) and total[m] + score > total[n]:
                total[n], before[n] = total[m] + score, m
    if not nodes:
        return []
    chain: list[Placed] = []
    n: int | None = int(np.argmax(total))
    while n is not None:
        i, (score, x, y, _) = nodes[n]
        chain.append(Placed(chars[i], score, x, y))
        n = before[n]
    return chain[::-1]


def _peaks(scores: np.ndarray, window: tuple[int, int]) -> list[tuple[float, float, float, int]]:
    """(score, x, y, template width) of the best few distinct peaks of a match map, sub-pixel."""
    th, tw = window
    scores = scores.copy()
    peaks = []
    for _ in range(_PEAKS_PER_CHAR):
        y, x = np.unravel_index(int(np.argmax(scores)), scores.shape)
        best = float(scores[y, x])
        if best < _MIN_PEAK:
            break
        dx, dy = _subpixel(scores[y, max(0, x - 1) : x + 2]), _subpixel(scores[max(0, y - 1) : y + 2, x])
        peaks.append((best, x + dx, y + dy, tw))
        scores[max(0, y - th // 2) : y + th // 2 + 1, max(0, x - tw // 2) : x + tw // 2 + 1] = -1.0
    return peaks


def _follows(x: float, width: int, next_x: float, next_width: int) -> bool:
    """Whether a character at next_x can come after one at x: further along, overlapping by at most
    a third of the narrower width (glyph boxes overlap a little, "AV")."""
    overlap = x + width - next_x
    return next_x > x and overlap <= _MAX_OVERLAP * min(width, next_width)


def _informative(evidence: np.ndarray, readable: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """Per match position: whether the window under the template is mostly readable and not flat."""
    count = float(window[0] * window[1])
    mean = _window_sums(evidence, window) / count
    spread = np.sqrt(np.maximum(_window_sums(evidence * evidence, window) / count - mean**2, 0.0))
    return (_window_sums(readable, window) / count >= _MIN_READABLE) & (spread >= _MIN_EVIDENCE_SPREAD)


def _window_sums(image: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """Sums over every th x tw window, indexed by its top-left corner (matchTemplate's layout)."""
    th, tw = window
    total = cv2.integral(image.astype(np.float64))
    return (total[th:, tw:] - total[:-th, tw:] - total[th:, :-tw] + total[:-th, :-tw]).astype(np.float32)


def _subpixel(around: np.ndarray) -> float:
    """Offset of a peak from the middle of three samples (parabola through them); 0 at an edge."""
    if around.size != 3:
        return 0.0
    left, mid, right = (float(v) for v in around)
    curvature = left - 2 * mid + right
    return 0.0 if curvature >= 0 else float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))


@lru_cache(maxsize=512)
def glyph(char: str, size: int, weight: str) -> np.ndarray:
    """The character's coverage (float32 0-1), cropped to its ink with a 2-px margin."""
    font = load_font(SANS, weight, size)
    x0, y0, x1, y1 = font.getbbox(char)
    pad = 2
    canvas = Image.new("L", (max(1, x1 - x0) + 2 * pad, max(1, y1 - y0) + 2 * pad), 0)
    ImageDraw.Draw(canvas).text((pad - x0, pad - y0), char, font=font, fill=255)
    return np.asarray(canvas, np.float32) / 255.0


def placed_coverage(fit: GlyphFit, to_image: np.ndarray, shape: tuple[int, int],
                    min_score: float = MIN_CHAR_MATCH) -> np.ndarray:
    """Rendered coverage of the characters that matched, in the photo (one resampling per glyph:
    its place in the strip and the strip's place in the photo are composed first)."""
    coverage = np.zeros(shape, np.float32)
    for p in fit.placed:
        if p.score < min_score:
            continue
        template = glyph(p.char, fit.size, fit.weight)
        to_strip = np.float64([[1, 0, p.x], [0, 1, p.y], [0, 0, 1]])
        matrix = (np.vstack([to_image, [0, 0, 1]]).astype(np.float64) @ to_strip)[:2]
        corners = np.float64([[0, 0, 1], [template.shape[1], 0, 1], [0, template.shape[0], 1],
                              [template.shape[1], template.shape[0], 1]]) @ matrix.T
        x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 2, (shape[1], shape[0]))
        if x1 <= x0 or y1 <= y0:
            continue
        matrix[:, 2] -= (x0, y0)
        moved = cv2.warpAffine(template, matrix, (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR)
        np.maximum(coverage[y0:y1, x0:x1], moved, out=coverage[y0:y1, x0:x1])
    return coverage


def line_opacity(crop: np.ndarray, coverage: np.ndarray, colour: np.ndarray) -> tuple[float, np.ndarray] | None:
    """(opacity, α map) of the rendered coverage on a crop of the photo; None when the stroke
    interiors do not agree on one opacity.

    The opacity is the median α the stroke interiors imply over a background interpolated from around
    the strokes (only where the ground is far enough from the mark colour to read). α = opacity ×
    rendered coverage, except on the strokes' rim over steady ground, where the measured α (capped at
    the opacity) is exact and the rendering's anti-aliasing or a fraction of a pixel of
    misregistration would show as a thin outline."""
    strokes = coverage > 0.05
    if not strokes.any():
        return None
    background = background_without(crop, dilated(strokes, 1), stroke_sigma(strokes))
    alpha = alpha_of_shift(crop, background, colour)
    contrast = np.linalg.norm(colour[None, None, :] - background, axis=2)
    far = contrast >= _OPACITY_CONTRAST
    readings = alpha[(coverage >= _INTERIOR_COVERAGE) & far & np.isfinite(alpha)]
    if readings.size < _MIN_OPACITY_PIXELS:
        return None
    opacity = float(np.median(readings))
    if float(np.median(np.abs(readings - opacity))) > _MAX_ALPHA_SPREAD * opacity:
        # The rendered strokes do not lie on one see-through mark: a wrong colour, or glyphs placed
        # on photo detail (a black serif mark read as white sans letters between its strokes).
        return None
    steady = ground_rms(crop, background, dilated(strokes, 2)) < _RIM_ALPHA_NOISE * contrast
    rim = dilated(strokes, 1) & (coverage < _INTERIOR_COVERAGE) & steady & np.isfinite(alpha)
    shaped = (opacity * coverage).astype(np.float32)
    shaped[rim] = np.clip(alpha[rim], 0.0, opacity)
    return opacity, shaped

