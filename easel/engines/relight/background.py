"""What lies behind the subject: the photo's own background graded to the new light (RGB input), or
a studio backdrop lit by the same lights (RGBA input). Nothing here invents scene content."""

from __future__ import annotations

import math

import cv2
import numpy as np

from easel.engines.relight.prompt import Light, LightPlan

STUDIO_GREY = 0.2  # linear reflectance of the default backdrop (sRGB about 124)
_BACKGROUND_SHARE = 0.85  # the background follows the new light less than the subject does


def light_field(plan: LightPlan, shape: tuple[int, int], mask: np.ndarray) -> np.ndarray:
    """Linear RGB light falling on a wall behind the subject, channel mean about 1 on average.

    Each light brightens the side of the frame it comes from; lights from behind the subject add a
    glow around its outline; the ambient light is flat."""
    h, w = shape
    u = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    v = np.linspace(1.0, -1.0, h, dtype=np.float32)[:, None]
    glow = _glow(mask)
    field = np.zeros((h, w, 3), np.float32)
    for light in plan.lights:
        colour = np.asarray(light.colour, np.float32) * light.intensity
        field += _spread(light, u, v, glow)[..., None] * colour
    mean = float(field.mean())
    return field / max(mean, 1e-6)


def _spread(light: Light, u: np.ndarray, v: np.ndarray, glow: np.ndarray) -> np.ndarray:
    if light.role == "ambient":
        return np.ones(glow.shape, np.float32)
    lx, ly, lz = light.direction
    slope = np.clip(0.55 + 0.45 * (lx * u + ly * v), 0.1, 1.0)
    spread = np.broadcast_to(slope, glow.shape).astype(np.float32)
    if lz < 0:
        spread = spread * (1.0 + lz) + glow * (-lz) * 2.0
    return spread


def _glow(mask: np.ndarray) -> np.ndarray:
    outside = (~mask).astype(np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 3)
    return np.exp(-distance / (0.12 * max(mask.shape))).astype(np.float32)


def grade_gain(plan: LightPlan, mask: np.ndarray, strength: float) -> np.ndarray:
    """Per-pixel RGB gain for the photo's own background."""
    field = light_field(plan, mask.shape, mask)
    gain = np.power(np.maximum(field, 1e-3), _BACKGROUND_SHARE * strength) * plan.exposure**strength
    return gain.astype(np.float32)


def studio_backdrop(plan: LightPlan, matte: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Linear RGB backdrop: a plain wall lit by the plan's lights, with the subject's soft shadow on it."""
    albedo = np.asarray(plan.backdrop_colour or (STUDIO_GREY,) * 3, np.float32)
    field = light_field(plan, mask.shape, mask) * plan.exposure
    backdrop = field * albedo * _vignette(mask.shape)[..., None]
    return backdrop * _cast_shadow(plan, matte)[..., None]


def _vignette(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    u = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    v = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    return 1.0 - 0.25 * np.clip(u * u + v * v, 0.0, 2.0) / 2.0


def _cast_shadow(plan: LightPlan, matte: np.ndarray) -> np.ndarray:
    """Darkening of the wall by the subject: a shadow thrown away from the key and a faint contact shade."""
    size = max(matte.shape)
    contact = cv2.GaussianBlur(matte, (0, 0), 0.04 * size)
    shade = 1.0 - 0.2 * contact
    key = plan.key
    lx, ly, lz = key.direction
    planar = math.hypot(lx, ly)
    if lz <= 0.05 or planar < 0.05:
        return shade
    offset = 0.06 * size * min(planar / lz, 2.0)
    shift = np.float32([[1, 0, -lx / planar * offset], [0, 1, ly / planar * offset]])
    shadow = cv2.warpAffine(matte, shift, (matte.shape[1], matte.shape[0]), borderMode=cv2.BORDER_CONSTANT)
    shadow = cv2.GaussianBlur(shadow, (0, 0), (0.01 + 0.05 * key.softness) * size)
    share = key.intensity / max(sum(light.intensity for light in plan.lights), 1e-6)
    return shade * (1.0 - 0.8 * share * (1.0 - 0.5 * key.softness) * shadow)
