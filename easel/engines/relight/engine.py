"""relight(): the subject relit by the light a prompt describes, on CPU, from an RGB photo and a mask
or from an RGBA cut-out."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from easel.engines.relight.background import grade_gain, studio_backdrop
from easel.engines.relight.colour import linear_to_srgb, luminance, srgb_to_linear
from easel.engines.relight.matte import is_hard, refine_edges, subject_matte
from easel.engines.relight.prompt import LightPlan, parse_light_prompt
from easel.engines.relight.shading import frontal_reference, old_shading, render_shading, shading_ratio
from easel.engines.relight.shape import estimate_shape

GUIDANCE_RANGE = (1.0, 20.0)
STEPS_RANGE = (15, 50)
_WORK_BASE = 256  # working side (px) at 0 steps; each step adds _WORK_PER_STEP
_WORK_PER_STEP = 8
_PERCEIVED = 1.0 / 2.2
_FALLOFF = 0.45
_MAX_GAIN = 6.0  # as shading's cap: deep shadows must not be amplified into noise


@dataclass
class RelightResult:
    image: np.ndarray  # HxWx3 uint8 RGB, the input's size
    plan: LightPlan
    notes: list[str]  # what was assumed or not done, for the caller to show


def guidance_to_strength(guidance_scale: float) -> float:
    """How much of the old shading the new one replaces: 0.39 at 1, 0.83 at 3.5, 0.97 at 7, 1 at 20."""
    return 1.0 - math.exp(-guidance_scale / 2.0)


def working_side(steps: int) -> int:
    """More steps, finer shape and shading: 376 px at 15 steps, 416 at 20, 656 at 50."""
    return _WORK_BASE + _WORK_PER_STEP * steps


def relight(
    rgb: np.ndarray,
    subject_mask: np.ndarray | None,
    prompt: str,
    *,
    guidance_scale: float = 3.5,
    steps: int = 20,
    seed: int = 0,
    alpha: np.ndarray | None = None,
) -> RelightResult:
    """Relight the subject (mask 255, or alpha) with the prompt's light.

    guidance_scale (1..20) sets how strongly the new light replaces the photo's; steps (15..50) the
    working resolution and the shadow rays per pixel; seed a reproducible small variation of the
    lights. An RGB input keeps its background, graded to the new light; passing `alpha` (an RGBA
    input) puts the subject on a studio backdrop lit the same way. Raises ValueError on bad input."""
    _check_inputs(rgb, guidance_scale, steps)
    plan = parse_light_prompt(prompt)
    notes = list(plan.notes)
    matte = subject_matte(rgb.shape[:2], subject_mask, alpha)
    if subject_mask is not None and is_hard(matte):
        matte = refine_edges(rgb, matte)
    strength = guidance_to_strength(guidance_scale)
    linear = srgb_to_linear(rgb)
    work = _Work.build(linear, matte, steps)

    shape = estimate_shape(rgb, work.mask, work.log_lum)
    notes.append(_shape_note(shape.faces))
    new = render_shading(shape, plan, samples=steps, rng=np.random.default_rng(seed))
    old = old_shading(work.log_lum, shape.normals, work.mask)
    reference = frontal_reference(shape.normals, plan)
    ratio = shading_ratio(new, old, reference, work.mask, exposure=plan.exposure, strength=strength)
    ratio *= light_falloff(work.mask, plan)[..., None]
    ratio = keep_exposure(ratio, work.log_lum, work.mask, plan.exposure)
    subject = work.to_full(_extend_outward(ratio, work.mask))
    subject *= linear

    if alpha is not None:
        background = work.to_full(studio_backdrop(plan, work.matte, work.mask))
        notes.append(_backdrop_note(plan))
    else:
        background = work.to_full(_extend_outward(grade_gain(plan, work.mask, strength), ~work.mask))
        background *= linear
        notes += _kept_background_notes(plan)
    del linear
    # out = background + matte * (subject - background), in place: full-size float images take
    # 200 MB each at 4096², so the composite reuses the subject's buffer.
    subject -= background
    subject *= matte[..., None]
    subject += background
    return RelightResult(linear_to_srgb(subject), plan, notes)


@dataclass
class _Work:
    """The photo at the working resolution, where shape and shading are computed."""

    full_size: tuple[int, int]  # (width, height)
    matte: np.ndarray
    mask: np.ndarray
    log_lum: np.ndarray

    @classmethod
    def build(cls, linear: np.ndarray, matte: np.ndarray, steps: int) -> _Work:
        h, w = matte.shape
        scale = min(1.0, working_side(steps) / max(h, w))
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        work_linear = cv2.resize(linear, size, interpolation=cv2.INTER_AREA)
        work_matte = cv2.resize(matte, size, interpolation=cv2.INTER_AREA)
        # A subject thinner than a working pixel still gets at least its strongest pixels.
        mask = work_matte >= min(0.5, float(work_matte.max()))
        log_lum = np.log(luminance(work_linear) + 1e-3).astype(np.float32)
        return cls((w, h), work_matte, mask, log_lum)

    def to_full(self, values: np.ndarray) -> np.ndarray:
        return cv2.resize(values, self.full_size, interpolation=cv2.INTER_LINEAR)


def light_falloff(mask: np.ndarray, plan: LightPlan) -> np.ndarray:
    """A gain ramp across the subject toward the key light's side (1 +- FALLOFF at its two ends): the side a
    light comes from is brighter however well the shape was guessed. The estimated shape alone left a top
    light with the upper half darker than the lower (hair and a cap shade the face in the height field)."""
    keys = [light for light in plan.lights if light.role == "key" and light.direction[2] > -0.2]
    ys, xs = np.nonzero(mask)
    if not keys or xs.size == 0:
        return np.ones(mask.shape, np.float32)
    lx, ly, _ = keys[0].direction
    planar = math.hypot(lx, ly)
    if planar < 0.1:  # a light from the camera's side has no side to brighten
        return np.ones(mask.shape, np.float32)
    rows, cols = np.mgrid[0:mask.shape[0], 0:mask.shape[1]].astype(np.float32)
    # position along the light's direction across the subject's box, -1 (far side) .. 1 (lit side); rows grow down
    cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    half = max(float(xs.max() - xs.min()), float(ys.max() - ys.min()), 1.0) / 2
    along = ((cols - cx) * lx - (rows - cy) * ly) / (planar * half)
    return (1.0 + _FALLOFF * min(1.0, planar) * np.clip(along, -1.0, 1.0)).astype(np.float32)


def keep_exposure(ratio: np.ndarray, log_lum: np.ndarray, mask: np.ndarray, exposure: float) -> np.ndarray:
    """The gain rescaled so that the relit subject's mean perceived brightness is the photo's times the plan's
    exposure: a named light moves brightness from the far side to the lit side, it does not darken the
    picture (measured before this: every prompt made the subject 10-50 % darker). Perceived = luminance
    to the 1/2.2, the way a viewer (and an sRGB histogram) sees it."""
    inside = mask > 0
    if not inside.any():
        return ratio
    old = np.exp(log_lum[inside]).astype(np.float32)
    gain = luminance(ratio)[inside]
    before = float(np.mean(old ** _PERCEIVED))
    after = float(np.mean((gain * old) ** _PERCEIVED))
    if after <= 1e-6:
        return ratio
    scale = (exposure ** _PERCEIVED * before / after) ** (1.0 / _PERCEIVED)
    return np.clip(ratio * scale, 1e-3, _MAX_GAIN).astype(np.float32)


def _check_inputs(rgb: np.ndarray, guidance_scale: float, steps: int) -> None:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be HxWx3 uint8, got {rgb.dtype} {rgb.shape}")
    if min(rgb.shape[:2]) < 16:
        raise ValueError("the image is too small to relight (under 16 px)")
    if not GUIDANCE_RANGE[0] <= guidance_scale <= GUIDANCE_RANGE[1]:
        raise ValueError(f"guidance_scale must be in {GUIDANCE_RANGE}, got {guidance_scale}")
    if not STEPS_RANGE[0] <= steps <= STEPS_RANGE[1]:
        raise ValueError(f"steps must be in {STEPS_RANGE}, got {steps}")


def _extend_outward(values: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Values inside a region, continued smoothly past its edge, so that upsampling and the soft
    full-size matte never mix in values from the other side of the outline."""
    weight = inside.astype(np.float32)
    sigma = max(2.0, 0.02 * max(inside.shape))
    spread = cv2.GaussianBlur(values * weight[..., None], (0, 0), sigma)
    norm = cv2.GaussianBlur(weight, (0, 0), sigma)[..., None]
    fallback = values[inside].mean(axis=0) if inside.any() else np.ones(values.shape[2], np.float32)
    filled = np.where(norm > 1e-3, spread / np.maximum(norm, 1e-6), fallback)
    return np.where(inside[..., None], values, filled).astype(np.float32)


def _shape_note(faces: int) -> str:
    if faces:
        return f"shape: face mesh for {faces} face(s), silhouette inflation and luminance relief elsewhere"
    return "shape: no face found; normals from the silhouette and the luminance only"


def _kept_background_notes(plan: LightPlan) -> list[str]:
    notes = []
    if plan.backdrop_colour is not None:
        notes.append("a plain backdrop colour applies to transparent (RGBA) input only; kept the photo's background")
    notes.append("kept the photo's background, graded to the new light")
    return notes


def _backdrop_note(plan: LightPlan) -> str:
    colour = "the requested colour" if plan.backdrop_colour is not None else "neutral grey"
    return f"transparent input: subject placed on a studio backdrop ({colour}) lit by the same lights"
