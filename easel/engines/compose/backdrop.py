"""Studio backdrops painted from a BackdropSpec: flat colour, gradient, or a lit seamless sweep.

The sweep is a wall that curves into a floor (a cyclorama): the key light falls off from behind the
subject towards the corners, the cove where wall meets floor is a touch darker, and the floor runs
under the subject's base so its shadows land on it. Shading is done in linear light, so a coloured
backdrop darkens the way paper does rather than going grey. A little seeded dither stops banding
in 8-bit output.
"""

from __future__ import annotations

import cv2
import numpy as np

from easel.engines.compose.colour import RGB, linear_to_srgb255, mix, oklab_to_rgb, rgb_to_oklab, srgb_to_linear
from easel.engines.compose.geometry import SubjectGeometry, subject_geometry
from easel.engines.compose.prompt import WHITE, BackdropSpec

_WORK_SIDE = 512
_DITHER_SEED = 20240917


def studio_backdrop(
    size: tuple[int, int],
    spec: BackdropSpec,
    *,
    seed: int = 0,
    variation: float = 0.0,
    subject_alpha: np.ndarray | None = None,
) -> np.ndarray:
    """An RGB uint8 backdrop of size (width, height).

    solid: exactly the asked colour everywhere (pure white stays 255; shadows come from compositing).
    gradient: an OKLab gradient through the spec's colours (one colour: from a pale tint of it).
    studio: a lit sweep; with subject_alpha the floor line and key light are placed behind the subject.
    variation in [0, 1] scales seeded changes of light position, falloff, horizon and gradient angle;
    at 0 the seed has no effect.
    """
    width, height = size
    if spec.kind == "solid":
        return np.full((height, width, 3), spec.colours[0], dtype=np.uint8)
    rng = np.random.default_rng(seed)
    amount = float(np.clip(variation, 0.0, 1.0))
    geometry = subject_geometry(subject_alpha) if subject_alpha is not None else None
    # Backdrop light is smooth: paint it at a reduced size and enlarge; only the dither is full-size.
    scale = min(1.0, _WORK_SIDE / max(width, height))
    work = (max(2, round(width * scale)), max(2, round(height * scale)))
    paint = _gradient if spec.kind == "gradient" else _sweep
    linear = paint(*work, spec.colours, geometry, rng, amount)
    if work != (width, height):
        linear = cv2.resize(linear, (width, height), interpolation=cv2.INTER_LINEAR)
    return _to_uint8(linear)


def _gradient(
    width: int, height: int, colours: tuple[RGB, ...], geometry: SubjectGeometry | None,
    rng: np.random.Generator, amount: float,
) -> np.ndarray:
    stops = (mix(colours[0], WHITE, 0.55), colours[0]) if len(colours) == 1 else colours
    angle = np.deg2rad(90.0 + amount * rng.uniform(-30.0, 30.0))
    ys, xs = _grid(width, height)
    direction = np.array([np.cos(angle), np.sin(angle)], dtype=np.float32)
    projection = (xs - 0.5) * direction[0] * (width / height) + (ys - 0.5) * direction[1]
    span = 0.5 * (abs(direction[0]) * width / height + abs(direction[1]))
    t = np.clip(projection / (2 * span) + 0.5, 0.0, 1.0)
    ramp = _oklab_ramp(stops)
    linear = srgb_to_linear(ramp[(t * (len(ramp) - 1)).astype(np.int32)] / 255.0)
    centre_x, centre_y = _light_centre(width, height, geometry, rng, amount)
    glow = 0.10 * np.exp(-(((xs - centre_x) / 0.45) ** 2 + ((ys - centre_y) / 0.45) ** 2))
    return linear + (1.0 - linear) * glow[..., None]


def _sweep(
    width: int, height: int, colours: tuple[RGB, ...], geometry: SubjectGeometry | None,
    rng: np.random.Generator, amount: float,
) -> np.ndarray:
    wall = srgb_to_linear(np.array(colours[0], dtype=np.float32) / 255.0)
    floor_rgb = colours[1] if len(colours) > 1 else mix(colours[0], (0, 0, 0), 0.06)
    floor = srgb_to_linear(np.array(floor_rgb, dtype=np.float32) / 255.0)
    ys, xs = _grid(width, height)
    horizon = _horizon(height, geometry) + amount * rng.uniform(-0.04, 0.04)
    cove = 0.09
    t = np.clip((ys - (horizon - cove)) / (2 * cove), 0.0, 1.0)
    t = t * t * (3 - 2 * t)
    centre_x, _ = _light_centre(width, height, geometry, rng, amount)
    falloff = 0.32 + amount * rng.uniform(-0.08, 0.10)
    dx2 = ((xs - centre_x) * (width / height)) ** 2
    # One key light above and in front of the subject: the wall darkens upwards and to the sides,
    # the floor towards the sides and, a little, towards the camera.
    wall_shade = 1.0 - falloff * (dx2 + (1.2 * (ys - (horizon - 0.12))) ** 2) ** 0.75
    floor_shade = 1.0 - 0.8 * falloff * (dx2 + (0.6 * np.clip(ys - horizon, 0.0, None)) ** 2) ** 0.75
    cove_shade = 1.0 - 0.025 * 4 * t * (1 - t)
    shade = np.clip((wall_shade * (1 - t) + floor_shade * t) * cove_shade, 0.35, 1.0)
    base = wall[None, None, :] * (1 - t[..., None]) + floor[None, None, :] * t[..., None]
    return (base * shade[..., None]).astype(np.float32)


def _horizon(height: int, geometry: SubjectGeometry | None) -> float:
    """Wall-to-floor line as a fraction of the height: behind the subject's base when it stands."""
    if geometry is None:
        return 0.66
    if geometry.touches_bottom:
        return 0.93
    line = (geometry.base_y - 0.22 * geometry.height) / height
    return float(np.clip(line, 0.3, 0.85))


def _light_centre(
    width: int, height: int, geometry: SubjectGeometry | None, rng: np.random.Generator, amount: float
) -> tuple[float, float]:
    centre_x = geometry.centre_x / width if geometry is not None else 0.5
    centre_y = (geometry.top + 0.4 * geometry.height) / height if geometry is not None else 0.45
    return centre_x + amount * rng.uniform(-0.15, 0.15), centre_y + amount * rng.uniform(-0.1, 0.1)


def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised pixel-centre coordinates, broadcastable to (height, width)."""
    ys = ((np.arange(height, dtype=np.float32) + 0.5) / height)[:, None]
    xs = ((np.arange(width, dtype=np.float32) + 0.5) / width)[None, :]
    return ys, xs


def _oklab_ramp(stops: tuple[RGB, ...], samples: int = 1024) -> np.ndarray:
    lab = rgb_to_oklab(np.array(stops, dtype=np.float32))
    positions = np.linspace(0.0, 1.0, len(stops))
    t = np.linspace(0.0, 1.0, samples)
    ramp = np.stack([np.interp(t, positions, lab[:, k]) for k in range(3)], axis=1)
    return oklab_to_rgb(ramp)


def _to_uint8(linear: np.ndarray) -> np.ndarray:
    """Linear light to sRGB uint8 through a lookup table, with one level of random dither against banding.

    The dither pattern is fixed, so it never makes two seeds differ at variation 0."""
    rng = np.random.default_rng(_DITHER_SEED)
    srgb = linear_to_srgb255(linear)
    # Adding U[0, 1) and truncating is rounding with dither; LUT values stay within 0..255.
    srgb += rng.random(srgb.shape[:2], dtype=np.float32)[..., None]
    return srgb.astype(np.uint8)
