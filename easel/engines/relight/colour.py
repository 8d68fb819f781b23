"""sRGB <-> linear conversion through lookup tables: light adds up in linear RGB, not in sRGB."""

from __future__ import annotations

import numpy as np

_KNEE = 0.9  # linear values above this roll off smoothly toward 1 instead of clipping
_LUT_SCALE = 4096  # entries per unit of linear light; 4 units of headroom before hard white
_SRGB_TO_LINEAR = np.where(
    np.arange(256) / 255.0 <= 0.04045,
    np.arange(256) / 255.0 / 12.92,
    ((np.arange(256) / 255.0 + 0.055) / 1.055) ** 2.4,
).astype(np.float32)


def _build_linear_to_srgb() -> np.ndarray:
    x = np.arange(4 * _LUT_SCALE, dtype=np.float64) / _LUT_SCALE
    toned = np.where(x <= _KNEE, x, _KNEE + (1 - _KNEE) * (1 - np.exp(-(x - _KNEE) / (1 - _KNEE))))
    srgb = np.where(toned <= 0.0031308, toned * 12.92, 1.055 * np.power(toned, 1 / 2.4) - 0.055)
    return np.clip(np.round(srgb * 255.0), 0, 255).astype(np.uint8)


_LINEAR_TO_SRGB = _build_linear_to_srgb()


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB -> float32 linear in [0, 1]."""
    return _SRGB_TO_LINEAR[rgb]


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """float32 linear (any non-negative value) -> uint8 sRGB, with a soft shoulder above 0.9."""
    out = np.empty(linear.shape, np.uint8)
    # In strips: the float and index temporaries of a whole 4096² image would take 400 MB.
    for top in range(0, linear.shape[0], 256):
        strip = linear[top : top + 256] * np.float32(_LUT_SCALE)
        np.clip(strip, 0, _LINEAR_TO_SRGB.size - 1, out=strip)
        out[top : top + 256] = _LINEAR_TO_SRGB[strip.astype(np.int32)]
    return out


def luminance(linear: np.ndarray) -> np.ndarray:
    """Rec. 709 luminance of linear RGB."""
    return linear @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
