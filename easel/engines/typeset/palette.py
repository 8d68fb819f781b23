"""Colours for text: a palette from the picture, and palette hues made readable (WCAG 2.x >= 4.5:1).

Readability is judged against the whole region under the text, not its average: dark text must
clear the region's lightest-but-2% ... darkest-but-2% luminance range on the right side, so text
over a patchy background stays readable everywhere, not only on average.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from PIL import Image

from easel.engines.compose.colour import (
    RGB,
    SRGB8_TO_LINEAR,
    contrast_ratio,
    oklab_to_rgb,
    relative_luminance,
    rgb_to_oklab,
    to_rgb,
)

Polarity = Literal["dark", "light"]

WCAG_MIN = 4.5
# Chosen colours clear this, so rounding and resampling can never take them under 4.5.
TARGET = 4.8
_TEXT_CHROMA = 0.11
_LUMA = np.float32([0.2126, 0.7152, 0.0722])


def palette(pixels: np.ndarray, count: int = 6) -> list[tuple[RGB, float]]:
    """Main colours of (N, 3) uint8 pixels with their shares, largest share first (median cut)."""
    if len(pixels) == 0:
        return []
    strip = Image.fromarray(np.ascontiguousarray(pixels.reshape(1, -1, 3)))
    quantized = strip.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    lookup = quantized.getpalette() or []
    counts = quantized.getcolors() or []
    total = float(sum(n for n, _ in counts)) or 1.0
    colours = [((lookup[3 * i], lookup[3 * i + 1], lookup[3 * i + 2]), n / total) for n, i in counts]
    return sorted(colours, key=lambda item: -item[1])


def chroma(rgb: RGB) -> float:
    lab = rgb_to_oklab(np.float32(rgb))
    return float(np.hypot(lab[1], lab[2]))


def accent_colour(palettes: list[list[tuple[RGB, float]]], min_share: float = 0.08) -> RGB | None:
    """The most colourful substantial colour, searched palette by palette (subject first)."""
    for colours in palettes:
        candidates = [(chroma(c), c) for c, share in colours if share >= min_share and chroma(c) > 0.04]
        if candidates:
            return max(candidates)[1]
    return None


def luminance_range(region: np.ndarray) -> tuple[float, float]:
    """2nd and 98th percentile of WCAG relative luminance over an RGB uint8 region."""
    lum = SRGB8_TO_LINEAR[region.reshape(-1, 3)] @ _LUMA
    low, high = np.percentile(lum, [2, 98])
    return float(low), float(high)


def worst_contrast(colour: RGB, low: float, high: float) -> float:
    lum = float(relative_luminance(colour))
    return float(min(contrast_ratio(lum, low), contrast_ratio(lum, high)))


def readable_colour(hue_from: RGB | None, low: float, high: float, polarity: Polarity,
                    target: float = TARGET) -> RGB | None:
    """The colour nearest in OKLab lightness to hue_from, on the polarity side of the region
    (luminance range low..high), whose contrast with every part of that range is >= target.
    None when even black (dark) or white (light) cannot reach it."""
    lab = rgb_to_oklab(np.float32(hue_from if hue_from is not None else (128, 128, 128)))
    ab = lab[1:]
    size = float(np.hypot(*ab))
    if size > _TEXT_CHROMA:
        ab = ab * (_TEXT_CHROMA / size)
    def colour_at(lightness: float) -> RGB:
        return to_rgb(oklab_to_rgb(np.float32([lightness, ab[0], ab[1]])))
    def passes(lightness: float) -> bool:
        return worst_contrast(colour_at(lightness), low, high) >= target
    start = float(lab[0])
    if passes(start):
        return colour_at(start)
    end = 0.0 if polarity == "dark" else 1.0
    if not passes(end):
        return None
    near, far = start, end  # near fails, far passes: bisect to the passing colour nearest the hue
    for _ in range(24):
        middle = (near + far) / 2
        if passes(middle):
            far = middle
        else:
            near = middle
    return colour_at(far)


def natural_polarity(low: float, high: float) -> Polarity:
    """Dark text on regions that are mostly light, light text otherwise."""
    middle = (low + high) / 2
    return "dark" if contrast_ratio(middle, 0.0) >= contrast_ratio(middle, 1.0) else "light"


def text_colour(hue_from: RGB | None, region: np.ndarray) -> tuple[RGB, Polarity] | None:
    """A readable text colour for a region: natural polarity first, the other if that fails."""
    low, high = luminance_range(region)
    first = natural_polarity(low, high)
    for polarity in (first, "light" if first == "dark" else "dark"):
        colour = readable_colour(hue_from, low, high, polarity)
        if colour is not None:
            return colour, polarity
    return None


def ground_colour(region: np.ndarray, tint_from: RGB | None, polarity: Polarity) -> RGB:
    """A backing colour (band or label) for text of the given polarity: very light under dark text,
    deep under light text, faintly tinted by tint_from (else the region's median)."""
    tint = tint_from if tint_from is not None else to_rgb(np.median(region.reshape(-1, 3), axis=0))
    return tinted(tint, 0.97 if polarity == "dark" else 0.25)


def tinted(tint_from: RGB | None, lightness: float, max_chroma: float = 0.035) -> RGB:
    """A colour of the given OKLab lightness carrying a faint version of tint_from's hue."""
    lab = rgb_to_oklab(np.float32(tint_from if tint_from is not None else (128, 128, 128)))
    ab = lab[1:]
    size = float(np.hypot(*ab))
    if size > max_chroma:
        ab = ab * (max_chroma / size)
    return to_rgb(oklab_to_rgb(np.float32([lightness, ab[0], ab[1]])))
