"""Putting a cut-out subject onto a background so it looks photographed there.

- Matte-aware edge: in the soft part of the matte the cut-out's colours still hold the old
  background; the foreground colour is re-estimated there (blur-fusion, Forte & Pitié 2021) before
  compositing, and a little of the new background wraps into that edge. A hard (binary) matte is
  anti-aliased outwards only. Pixels with alpha 255 are never touched by either step.
- Shadows from the alpha alone: a subject standing in the frame gets a tight contact shadow under
  its base and a soft cast shadow laid on the floor, blurring and fading with distance from the
  base; a subject cut by the bottom edge (a portrait) gets a soft shadow on the wall behind it.
  Shadows darken the backdrop multiplicatively in linear light, so they take the backdrop's hue.
- Harmonisation: one per-channel gain and offset, applied to the whole subject and returned, so
  callers can measure or undo it: the backdrop's tint as ambient light, a slight exposure match,
  and a black-level match.
- Variation (0..1, from noise_level): seeded changes of framing (zoom and pan of the background
  about the subject's base; the subject stays where it is), shadow direction/length/softness/
  strength, and background grade. At 0 the seed has no effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from easel.engines.compose.colour import SRGB8_TO_LINEAR, linear_to_srgb255
from easel.engines.compose.geometry import SubjectGeometry, subject_geometry

ShadowMode = Literal["floor", "wall"]

# Shadows are soft: they are computed with the long side at most this, then enlarged.
_SHADOW_SIDE = 640
# A backdrop this flat is an exact colour the user asked for (pure white): it is not graded.
_FLAT_STD = 1.5


@dataclass(frozen=True)
class Harmonization:
    """subject_out = clip(round(subject_in * gain + offset)), per RGB channel on the 0..255 scale."""

    gain: tuple[float, float, float]
    offset: tuple[float, float, float]

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """Float32 result, unclipped."""
        return rgb.astype(np.float32) * np.float32(self.gain) + np.float32(self.offset)

    def apply_uint8(self, rgb: np.ndarray) -> np.ndarray:
        return _round_uint8(self.apply(rgb))

    def invert(self, rgb: np.ndarray) -> np.ndarray:
        """Float32 estimate of the original colours (exact up to rounding and clipping)."""
        return (rgb.astype(np.float32) - np.float32(self.offset)) / np.float32(self.gain)


IDENTITY = Harmonization((1.0, 1.0, 1.0), (0.0, 0.0, 0.0))


@dataclass(frozen=True)
class Look:
    """One drawn variation. zoom/shift_* reframe the background about anchor_*; the subject stays put."""

    zoom: float
    shift_x: float
    shift_y: float
    light_angle: float  # degrees: 0 throws the shadow straight back, positive to the right
    shadow_length: float  # cast shadow reach as a share of the subject's height
    shadow_softness: float
    shadow_opacity: float
    exposure: float
    temperature: float
    saturation: float


@dataclass(frozen=True)
class CompositeResult:
    image: np.ndarray  # RGB uint8, same size as the input
    alpha: np.ndarray  # uint8 matte actually used (the input's, anti-aliased outwards if it was hard)
    harmonization: Harmonization
    look: Look
    shadow_mode: ShadowMode
    background_graded: bool  # False for flat backdrops, whose exact colour is kept


def variation_from_noise_level(noise_level: int) -> float:
    """DashScope noise_level (0..999) to variation; 0 still leaves a small spread so n>1 differ."""
    return float(0.1 + 0.9 * np.clip(noise_level, 0, 999) / 999.0)


def sample_look(seed: int, variation: float) -> Look:
    """The seeded variation; every draw is scaled by variation, so 0 gives the canonical look."""
    rng = np.random.default_rng(seed)
    amount = float(np.clip(variation, 0.0, 1.0))
    draws = rng.uniform(-1.0, 1.0, size=9)
    zoom = 1.0 + amount * 0.18 * abs(draws[0])
    return Look(
        zoom=zoom,
        shift_x=float(draws[1]),
        shift_y=float(0.3 * draws[2]),
        light_angle=30.0 + amount * 45.0 * float(draws[3]),
        shadow_length=0.5 * (1.0 + amount * 0.55 * float(draws[4])),
        shadow_softness=1.0 + amount * (0.7 * float(draws[5]) + 0.3),
        shadow_opacity=0.55 * (1.0 + amount * 0.35 * float(draws[6])),
        exposure=1.0 + amount * 0.08 * float(draws[7]),
        temperature=amount * 0.06 * float(draws[8]),
        saturation=1.0 + amount * 0.15 * float(draws[7] * draws[8]),
    )


def composite_subject(
    background: np.ndarray,
    subject_rgba: np.ndarray,
    *,
    seed: int = 0,
    variation: float = 0.0,
    harmonize: float = 0.3,
) -> CompositeResult:
    """Composite an RGBA uint8 subject onto an RGB uint8 background of the same size.

    Where the subject's alpha is 255 the output equals harmonization.apply_uint8(subject rgb).
    """
    if background.shape[:2] != subject_rgba.shape[:2] or subject_rgba.shape[2] != 4:
        raise ValueError("background must be HxWx3 and subject HxWx4 of the same size")
    alpha_in = subject_rgba[..., 3]
    geometry = subject_geometry(alpha_in)
    if geometry is None:
        raise ValueError("the subject image is fully transparent")
    look = sample_look(seed, variation)
    flat = bool(background[::4, ::4].reshape(-1, 3).std(axis=0).max() < _FLAT_STD)
    backdrop = _reframe(background, look, geometry)
    if not flat:
        backdrop = _grade(backdrop, look)
    alpha = _widen_hard_matte(alpha_in)
    unit_alpha = alpha.astype(np.float32) / 255.0
    foreground = estimate_foreground(subject_rgba[..., :3], unit_alpha)
    harmonization = compute_harmonization(subject_rgba[..., :3], unit_alpha, backdrop, harmonize)
    mode: ShadowMode = "wall" if geometry.touches_bottom else "floor"
    density = shadow_density(unit_alpha, geometry, look, mode)
    shadowed = _darken(backdrop, density)
    image = _blend(foreground, unit_alpha, shadowed, harmonization)
    solid = alpha_in == 255
    image[solid] = harmonization.apply_uint8(subject_rgba[..., :3][solid])
    return CompositeResult(image, alpha, harmonization, look, mode, not flat)


def estimate_foreground(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colours (float32 0..255) freed of the old background in the soft part of the matte.

    Two blur-fusion passes (a wide one for the trend, a narrow one for detail) over the subject's
    box; pixels with alpha 1 keep their colour exactly; pixels with alpha 0 near the subject get the
    nearby foreground colour, which the outward anti-aliasing and the edge use.
    """
    foreground = rgb.astype(np.float32)
    side = max(alpha.shape)
    radii = (max(3, round(0.045 * side)), max(2, round(0.004 * side)))
    ys, xs = np.nonzero(alpha > 0)
    if ys.size == 0:
        return foreground
    margin = radii[0]
    top, bottom = max(0, ys.min() - margin), min(alpha.shape[0], ys.max() + 1 + margin)
    left, right = max(0, xs.min() - margin), min(alpha.shape[1], xs.max() + 1 + margin)
    window = (slice(top, bottom), slice(left, right))
    foreground[window] = _blur_fusion(rgb[window], alpha[window], radii) * 255.0
    return foreground


def _blur_fusion(rgb: np.ndarray, alpha: np.ndarray, radii: tuple[int, int]) -> np.ndarray:
    image = rgb.astype(np.float32) / 255.0
    foreground, background = image.copy(), image.copy()
    a3 = alpha[..., None]
    for radius in radii:
        mean_a = _box_mean(alpha, radius)[..., None]
        fg_mean = _box_mean(foreground * a3, radius) / np.maximum(mean_a, 1e-5)
        bg_mean = _box_mean(background * (1 - a3), radius) / np.maximum(1 - mean_a, 1e-5)
        residual = image - a3 * fg_mean - (1 - a3) * bg_mean
        foreground = np.clip(fg_mean + a3 * residual, 0.0, 1.0)
        background = np.clip(bg_mean + (1 - a3) * residual, 0.0, 1.0)
    return np.where(a3 >= 1.0, image, foreground)


def compute_harmonization(
    rgb: np.ndarray, alpha: np.ndarray, backdrop: np.ndarray, strength: float
) -> Harmonization:
    """The gain/offset that lets the backdrop's light colour the subject a little (strength 0: none)."""
    strength = float(np.clip(strength, 0.0, 1.0))
    subject_px = _sample(rgb, alpha >= 0.98)
    around_px = _sample(backdrop, _surroundings(alpha))
    if strength == 0.0 or len(subject_px) < 16 or len(around_px) < 16:
        return IDENTITY
    around_mean = around_px.mean(axis=0) + 1.0
    tint = (around_mean / around_mean.mean()) ** (0.35 * strength)
    tint = tint / float(tint @ np.array([0.2126, 0.7152, 0.0722]))
    exposure = (_luma(around_px).mean() + 8.0) / (_luma(subject_px).mean() + 8.0)
    exposure = float(np.clip(exposure ** (0.08 * strength), 0.96, 1.04))
    gain = np.clip(tint * exposure, 0.85, 1.15)
    black_gap = np.percentile(around_px, 2, axis=0) - np.percentile(subject_px, 2, axis=0) * gain
    offset = np.clip(0.2 * strength * black_gap, -12.0 * strength, 12.0 * strength)
    return Harmonization(tuple(round(float(g), 5) for g in gain), tuple(round(float(o), 3) for o in offset))


def shadow_density(alpha: np.ndarray, geometry: SubjectGeometry, look: Look, mode: ShadowMode) -> np.ndarray:
    """Shadow darkness 0..1 (float32 HxW) thrown by the matte onto the backdrop."""
    height, width = alpha.shape
    scale = min(1.0, _SHADOW_SIDE / max(height, width))
    small = cv2.resize(alpha, (max(2, round(width * scale)), max(2, round(height * scale))),
                       interpolation=cv2.INTER_AREA)
    density = _floor_shadow(small, geometry, look, scale) if mode == "floor" else _wall_shadow(small, look)
    if scale < 1.0:
        density = cv2.resize(density, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(density, 0.0, 1.0)


def _floor_shadow(alpha: np.ndarray, geometry: SubjectGeometry, look: Look, scale: float) -> np.ndarray:
    size = (alpha.shape[1], alpha.shape[0])
    subject_h = max(4.0, geometry.height * scale)
    base = (geometry.base_y + 0.5) * scale
    rows = np.arange(alpha.shape[0], dtype=np.float32)[:, None]
    # Contact: the lowest few percent of the silhouette, pressed flat onto the base line.
    foot = alpha * (rows > base - 0.05 * subject_h)
    squash = np.float32([[1, 0, 0], [0, 0.3, 0.7 * base + 0.008 * subject_h]])
    contact = cv2.warpAffine(foot, squash, size, flags=cv2.INTER_LINEAR)
    contact = cv2.GaussianBlur(contact, (0, 0), max(0.8, 0.011 * subject_h * look.shadow_softness))
    # Cast: every point at height h above the base lands (dx, dy) * h / subject_h away on the floor.
    angle = np.deg2rad(look.light_angle)
    reach = look.shadow_length
    dx, dy = reach * np.sin(angle), -0.45 * reach * np.cos(angle) - 0.1
    lay = np.float32([[1, -dx, dx * base], [0, -dy, base * (1 + dy)]])
    cast = cv2.warpAffine(alpha, lay, size, flags=cv2.INTER_LINEAR)
    distance = np.clip((base - rows) / max(1.0, abs(dy) * subject_h), 0.0, 1.0)
    cast = _progressive_blur(cast, distance, subject_h * look.shadow_softness)
    cast *= look.shadow_opacity * (1.0 - 0.8 * distance)
    contact *= min(1.0, 1.45 * look.shadow_opacity)
    return 1.0 - (1.0 - contact) * (1.0 - cast)


def _wall_shadow(alpha: np.ndarray, look: Look) -> np.ndarray:
    side = max(alpha.shape)
    angle = np.deg2rad(look.light_angle)
    shift = np.float32([[1, 0, 0.035 * side * np.sin(angle)], [0, 1, 0.012 * side]])
    moved = cv2.warpAffine(alpha, shift, (alpha.shape[1], alpha.shape[0]), borderMode=cv2.BORDER_REPLICATE)
    soft = cv2.GaussianBlur(moved, (0, 0), 0.03 * side * look.shadow_softness)
    return soft * 0.6 * look.shadow_opacity


def _progressive_blur(mask: np.ndarray, distance: np.ndarray, subject_h: float) -> np.ndarray:
    """Sharp near the contact, wide far from it: a blend of three blur widths by distance."""
    near = cv2.GaussianBlur(mask, (0, 0), max(0.6, 0.006 * subject_h))
    mid = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.03 * subject_h))
    far = cv2.GaussianBlur(mask, (0, 0), max(1.5, 0.07 * subject_h))
    first = np.clip(distance * 2.0, 0.0, 1.0)
    second = np.clip(distance * 2.0 - 1.0, 0.0, 1.0)
    return near * (1 - first) + mid * first * (1 - second) + far * second


def _reframe(background: np.ndarray, look: Look, geometry: SubjectGeometry) -> np.ndarray:
    """Zoom the background about the subject's base and pan it, never showing anything past its edge."""
    if look.zoom <= 1.0 + 1e-6:
        return background
    height, width = background.shape[:2]
    anchor_x, anchor_y = geometry.centre_x, float(geometry.base_y)
    z = look.zoom
    # Allowed pans keep every output pixel inside the source: s in [-(z-1)(w-p), (z-1)p].
    pan_x = _within(look.shift_x, -(z - 1) * (width - anchor_x), (z - 1) * anchor_x)
    pan_y = _within(look.shift_y, -(z - 1) * (height - anchor_y), (z - 1) * anchor_y)
    matrix = np.float32([[z, 0, (1 - z) * anchor_x + pan_x], [0, z, (1 - z) * anchor_y + pan_y]])
    return cv2.warpAffine(background, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


def _within(share: float, low: float, high: float) -> float:
    """share in [-1, 1] to a point of [low, high] (0 is the middle)."""
    return (low + high) / 2 + share * (high - low) / 2


def _grade(backdrop: np.ndarray, look: Look) -> np.ndarray:
    gains = np.float32([1 + look.temperature, 1.0, 1 - look.temperature]) * np.float32(look.exposure)
    graded = backdrop.astype(np.float32) * gains
    luma = _luma(graded)[..., None]
    graded = luma + (graded - luma) * np.float32(look.saturation)
    return _round_uint8(graded)


def _darken(backdrop: np.ndarray, density: np.ndarray) -> np.ndarray:
    """Multiply the backdrop's light by (1 - 0.9 * density); float32 sRGB 0..255 out."""
    linear = SRGB8_TO_LINEAR[backdrop]
    linear *= (1.0 - 0.9 * density)[..., None]
    return linear_to_srgb255(linear)


def _blend(
    foreground: np.ndarray, alpha: np.ndarray, backdrop: np.ndarray, harmonization: Harmonization
) -> np.ndarray:
    fg = harmonization.apply(foreground)
    soft = (alpha > 0) & (alpha < 1)
    if soft.any():
        # Light wrap: the new background's light spills a little over the soft edge only.
        spill = cv2.GaussianBlur(backdrop, (0, 0), max(1.0, 0.002 * max(alpha.shape)))
        wrap = (0.45 * (1.0 - alpha) * soft)[..., None]
        fg = fg * (1 - wrap) + spill * wrap
    a3 = alpha[..., None]
    return _round_uint8(fg * a3 + backdrop * (1 - a3))


def _widen_hard_matte(alpha: np.ndarray) -> np.ndarray:
    """Anti-alias a binary matte outwards by about half a pixel; soft mattes are returned as they are."""
    solid = alpha >= 128
    edge = solid & ~cv2.erode(solid.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    soft_count = int(((alpha > 5) & (alpha < 250)).sum())
    if soft_count >= 0.5 * int(edge.sum()):
        return alpha
    blurred = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), 0.7)
    widened = np.where(alpha == 0, np.minimum(blurred, 160.0), alpha.astype(np.float32))
    return _round_uint8(widened)


def _surroundings(alpha: np.ndarray) -> np.ndarray:
    """Backdrop pixels near the subject: the light that would fall on it (found on a reduced copy)."""
    height, width = alpha.shape
    scale = min(1.0, 256 / max(height, width))
    small = cv2.resize(alpha, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA)
    radius = max(3, round(0.08 * max(small.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    near_small = cv2.dilate((small > 0.5).astype(np.uint8), kernel)
    near = cv2.resize(near_small, (width, height), interpolation=cv2.INTER_NEAREST).astype(bool) & (alpha < 0.02)
    return near if near.sum() >= 64 else alpha < 0.02


def _sample(rgb: np.ndarray, mask: np.ndarray, limit: int = 200_000) -> np.ndarray:
    pixels = rgb[mask].astype(np.float32)
    step = max(1, len(pixels) // limit)
    return pixels[::step]


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.float32([0.2126, 0.7152, 0.0722])


def _box_mean(values: np.ndarray, radius: int) -> np.ndarray:
    """Box mean over a (2r+1) square; wide boxes run on a reduced copy (the result is smooth anyway)."""
    factor = max(1, radius // 12)
    if factor == 1:
        return cv2.blur(values, (2 * radius + 1, 2 * radius + 1))
    height, width = values.shape[:2]
    small = cv2.resize(values, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA)
    small_radius = max(1, radius // factor)
    small = cv2.blur(small, (2 * small_radius + 1, 2 * small_radius + 1))
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _round_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(values + 0.5, 0, 255).astype(np.uint8)

