"""Colour arithmetic shared by the compositing and typesetting engines.

sRGB <-> linear light for physically sensible shading and blending, OKLab for perceptually even
gradients and lightness ladders, and the WCAG 2.x contrast ratio.
"""

from __future__ import annotations

import numpy as np

RGB = tuple[int, int, int]


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 1] to linear light."""
    srgb = np.asarray(srgb, dtype=np.float32)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light to sRGB values in [0, 1] (clipped)."""
    linear = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055).astype(np.float32)


_LMS_FROM_LINEAR = np.array(
    [[0.4122214708, 0.5363325363, 0.0514459929],
     [0.2119034982, 0.6806995451, 0.1073969566],
     [0.0883024619, 0.2817188376, 0.6299787005]], dtype=np.float32)
_OKLAB_FROM_LMS = np.array(
    [[0.2104542553, 0.7936177850, -0.0040720468],
     [1.9779984951, -2.4285922050, 0.4505937099],
     [0.0259040371, 0.7827717662, -0.8086757660]], dtype=np.float32)
_LMS_FROM_OKLAB = np.linalg.inv(_OKLAB_FROM_LMS.astype(np.float64)).astype(np.float32)
_LINEAR_FROM_LMS = np.linalg.inv(_LMS_FROM_LINEAR.astype(np.float64)).astype(np.float32)


def rgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """uint8-scale sRGB (..., 3) to OKLab (..., 3); L is in [0, 1]."""
    lms = srgb_to_linear(np.asarray(rgb, dtype=np.float32) / 255.0) @ _LMS_FROM_LINEAR.T
    return (np.cbrt(lms) @ _OKLAB_FROM_LMS.T).astype(np.float32)


def oklab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """OKLab (..., 3) to float sRGB on the 0..255 scale, clipped to the gamut box."""
    lms = (np.asarray(lab, dtype=np.float32) @ _LMS_FROM_OKLAB.T) ** 3
    return linear_to_srgb(lms @ _LINEAR_FROM_LMS.T) * 255.0


def relative_luminance(rgb: np.ndarray | RGB) -> np.ndarray:
    """WCAG relative luminance of uint8-scale sRGB colours (..., 3)."""
    linear = srgb_to_linear(np.asarray(rgb, dtype=np.float32) / 255.0)
    return (linear @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)).astype(np.float32)


def contrast_ratio(lum_a: np.ndarray | float, lum_b: np.ndarray | float) -> np.ndarray:
    """WCAG contrast ratio between two relative luminances (order does not matter)."""
    high = np.maximum(lum_a, lum_b)
    low = np.minimum(lum_a, lum_b)
    return (high + 0.05) / (low + 0.05)


def mix(colour_a: RGB, colour_b: RGB, amount: float) -> RGB:
    """Linear-light mix: amount 0 gives colour_a, 1 gives colour_b."""
    lin = srgb_to_linear(np.array([colour_a, colour_b], dtype=np.float32) / 255.0)
    out = linear_to_srgb(lin[0] * (1 - amount) + lin[1] * amount) * 255.0
    return to_rgb(out)


def to_rgb(values: np.ndarray) -> RGB:
    r, g, b = (round(float(v)) for v in np.clip(values, 0, 255))
    return (r, g, b)


def hex_colour(rgb: RGB, alpha: int | None = None) -> str:
    """'#rrggbb', or '#rrggbbaa' when alpha (0..255) is given."""
    text = "#{:02x}{:02x}{:02x}".format(*rgb)
    return text if alpha is None else f"{text}{alpha:02x}"


def parse_hex_colour(text: str) -> tuple[RGB, int]:
    """'#rgb', '#rrggbb' or '#rrggbbaa' to ((r, g, b), alpha 0..255)."""
    digits = text.strip().lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    if len(digits) not in (6, 8):
        raise ValueError(f"not a hex colour: {text!r}")
    rgb = (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    alpha = int(digits[6:8], 16) if len(digits) == 8 else 255
    return rgb, alpha


# Lookup tables for whole images: exact for uint8 input, 1/4096 steps for linear light output.
SRGB8_TO_LINEAR = srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0)
_LINEAR_LUT_SIZE = 4096
_LINEAR_TO_SRGB255 = np.minimum(
    linear_to_srgb(np.linspace(0.0, 1.0, _LINEAR_LUT_SIZE, dtype=np.float32)) * 255.0, 254.999
).astype(np.float32)


def linear_to_srgb255(linear: np.ndarray) -> np.ndarray:
    """Linear light to float sRGB on the 0..255 scale through a table (fast for whole images)."""
    index = (np.clip(linear, 0.0, 1.0) * (_LINEAR_LUT_SIZE - 1) + 0.5).astype(np.int32)
    return _LINEAR_TO_SRGB255[index]
