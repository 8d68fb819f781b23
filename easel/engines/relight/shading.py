"""New shading from normals and lights; the old shading the photo already carries.

The photo is I = albedo x old shading. The relit subject is albedo x new shading, that is
I x (new / old): a smooth ratio at the working resolution, multiplied into the full-size photo, so
every pixel of the subject's own detail survives the relighting.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from easel.engines.relight.prompt import Light, LightPlan
from easel.engines.relight.shape import Shape

# Shadow rays march this fraction of the working image's longer side: far enough for a nose or a chin,
# not so far that the inflated body (whose depth ordering is a guess) shades the face.
_SHADOW_REACH = 0.1
_MAX_RATIO = 6.0  # cap on how much a pixel may brighten, so noise in deep shadows is not amplified
_RIM_GAIN = 4.0  # a rim light is usually the brightest light in the frame, on a thin edge
_SHADOW_FLOOR = 0.3  # the least of a key light that still reaches into its cast shadows
_MAX_OLD_LIGHT = 1.5  # cap on the fitted old light (log units per unit normal), against a bad fit


def old_shading(log_lum: np.ndarray, normals: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The photo's own shading as a function of the normals (linear, mean 1 over the subject).

    A first-order spherical-harmonic light is fitted to the log-luminance by least squares, as in
    ratio-image face relighting: shading explained by the shape is removed, and everything the
    shape cannot explain (skin against hair, a dark helmet against an orange suit) stays in the
    albedo. A low-pass (Retinex) estimate would instead call a bright face "lit" and darken it."""
    valid = mask & (log_lum > math.log(0.01)) & (log_lum < math.log(0.95))
    if np.count_nonzero(valid) < 16:
        return np.ones(mask.shape, np.float32)
    n = normals[valid]
    design = np.column_stack([np.ones(len(n), np.float32), n])
    coefficients, *_ = np.linalg.lstsq(design, log_lum[valid], rcond=None)
    direction = np.clip(coefficients[1:], -_MAX_OLD_LIGHT, _MAX_OLD_LIGHT).astype(np.float32)
    shading = np.exp(normals @ direction)
    return (shading / float(shading[mask].mean())).astype(np.float32)


def render_shading(shape: Shape, plan: LightPlan, *, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Linear RGB shading (hxwx3) of the subject under the plan's lights."""
    shading = np.zeros((*shape.normals.shape[:2], 3), np.float32)
    for light in plan.lights:
        light = jitter_light(light, rng)
        term = _light_term(shape.normals, light)
        if light.role == "key":
            term = term * _cast_shadow(shape.normals, shape.height, light, samples=samples, rng=rng)
        if light.direction[2] < 0:
            term = term + _rim_term(shape, light)
        shading += term[..., None] * np.asarray(light.colour, np.float32) * light.intensity
    return shading


def _rim_term(shape: Shape, light: Light) -> np.ndarray:
    """A light behind the subject as the bright edge it draws along the outline, strongest on the
    side it comes from, all around for a light straight behind."""
    lx, ly, lz = light.direction
    planar = math.hypot(lx, ly)
    if planar < 0.1:
        facing = np.ones(shape.rim_band.shape, np.float32)
    else:
        facing = np.clip(0.2 + (shape.outline_dir @ np.float32([lx / planar, ly / planar])), 0.0, 1.0)
    return _RIM_GAIN * min(1.0, -lz + 0.3) * shape.rim_band * facing


def jitter_light(light: Light, rng: np.random.Generator) -> Light:
    """The seed's small variation: a light turned by about a degree and a couple of percent brighter or dimmer."""
    if light.role == "ambient":
        return light
    direction = np.asarray(light.direction, np.float64) + rng.normal(0.0, 0.02, 3)
    direction /= np.linalg.norm(direction)
    intensity = light.intensity * float(1.0 + rng.normal(0.0, 0.02))
    return Light(light.role, tuple(direction.tolist()), light.colour, intensity, light.softness)


def _light_term(normals: np.ndarray, light: Light) -> np.ndarray:
    if light.role == "ambient":
        # A sky above and a darker floor below: surfaces facing up catch more of the ambient light.
        return 0.8 + 0.2 * normals[..., 1]
    n_dot_l = normals @ np.asarray(light.direction, np.float32)
    # Soft lights wrap past the terminator (half-Lambert blend), hard ones less so; a little wrap
    # always stays, as skin and cloth scatter light past the geometric terminator.
    wrap = 0.15 + 0.5 * light.softness
    return np.clip((n_dot_l + wrap) / (1.0 + wrap), 0.0, 1.0)


def _cast_shadow(
    normals: np.ndarray, height: np.ndarray, light: Light, *, samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Shadow multiplier for a light's diffuse term. Past the terminator a convex surface shadows
    itself, and the diffuse term already fades there; applying the march's hard verdict there too
    would cut the wrapped light off along a line. So the shadow counts only on surfaces facing the light."""
    visible = soft_shadow(height, light, samples=samples, rng=rng)
    facing = np.clip((normals @ np.asarray(light.direction, np.float32)) / 0.35, 0.0, 1.0)
    facing = facing * facing * (3.0 - 2.0 * facing)
    return 1.0 - (1.0 - visible) * facing


def soft_shadow(height: np.ndarray, light: Light, *, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Visibility (0..1) of a light over a height field, by marching toward it from every pixel at once.

    A pixel is shadowed when the terrain along the light's direction rises above the ray; the
    steepest such rise, compared with a penumbra width set by the light's softness, gives a soft edge."""
    lx, ly, lz = light.direction
    planar = math.hypot(lx, ly)
    if lz <= 0.02 or planar < 0.05:
        return np.ones(height.shape, np.float32)  # a light behind or straight ahead casts no visible shadow
    ux, uy = lx / planar, -ly / planar  # image rows grow downward
    rise = lz / planar  # ray height gained per pixel travelled
    reach = _SHADOW_REACH * max(height.shape)
    distances = np.geomspace(1.0, reach, samples) * rng.uniform(0.9, 1.1, samples)
    occlusion = np.full(height.shape, -np.inf, np.float32)
    h, w = height.shape
    for t in distances:
        shift = np.float32([[1, 0, ux * t], [0, 1, uy * t]])
        ahead = cv2.warpAffine(
            height, shift, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT
        )
        np.maximum(occlusion, (ahead - height - t * rise) / t, out=occlusion)
    penumbra = 0.15 + 0.6 * light.softness
    visible = np.clip(1.0 - occlusion / penumbra, 0.0, 1.0)
    visible = visible * visible * (3.0 - 2.0 * visible)
    # Real lights have size and skin scatters light under its surface: no shadow is fully black.
    return (_SHADOW_FLOOR + (1.0 - _SHADOW_FLOOR) * visible).astype(np.float32)


def frontal_reference(normals: np.ndarray, plan: LightPlan) -> np.ndarray:
    """The shading the plan would give with its key light beside the camera (a little above): the
    exposure yardstick. Normalising by it, not by the new shading itself, lets a side light leave the
    far side dark and a back light leave the front dark, as they should, instead of brightening the
    whole subject back to its old average."""
    frontal = (0.0, 0.3, 0.954)
    lights = [
        Light(lt.role, frontal, lt.colour, lt.intensity, lt.softness) if lt.role == "key" else lt for lt in plan.lights
    ]
    reference = np.zeros((*normals.shape[:2], 3), np.float32)
    for light in lights:
        reference += _light_term(normals, light)[..., None] * np.asarray(light.colour, np.float32) * light.intensity
    return reference


def shading_ratio(
    new: np.ndarray, old: np.ndarray, reference: np.ndarray, mask: np.ndarray, *, exposure: float, strength: float
) -> np.ndarray:
    """Per-pixel RGB gain (new / old) ** strength. The new shading is scaled so that the frontal
    reference would keep the subject's overall brightness (times the plan's exposure)."""
    inside = mask > 0
    level = 0.5 * (reference @ np.float32([0.2126, 0.7152, 0.0722])) + 0.5 * reference.mean(axis=2)
    scale = exposure * float(old[inside].mean()) / max(float(level[inside].mean()), 1e-6)
    ratio = np.clip(new * scale / np.maximum(old, 1e-4)[..., None], 1e-3, _MAX_RATIO)
    return np.power(ratio, strength).astype(np.float32)
