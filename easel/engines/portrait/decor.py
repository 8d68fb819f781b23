"""Textures and drawn elements: paper, halftone, smoke, light, sunbursts, frames and the shipped artwork."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from easel.engines.portrait.filters import blur, resize

ASSETS = Path(__file__).parent / "assets"


def fbm(shape: tuple[int, int], rng: np.random.Generator, base_cells: int, octaves: int = 4) -> np.ndarray:
    """Cloud-like noise in 0..1: random grids of growing resolution, smoothly upscaled and summed."""
    h, w = shape
    total = np.zeros(shape, np.float32)
    weight_sum = 0.0
    for octave in range(octaves):
        cells = base_cells * 2**octave
        gh, gw = max(2, round(cells * h / max(h, w))), max(2, round(cells * w / max(h, w)))
        grid = rng.random((gh, gw), dtype=np.float32)
        weight = 0.5**octave
        total += cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC) * weight
        weight_sum += weight
    total /= weight_sum
    lo, hi = np.percentile(total[:: max(1, h // 64), :: max(1, w // 64)], (1, 99))
    return np.clip((total - lo) / max(hi - lo, 1e-3), 0.0, 1.0)


def paper(shape: tuple[int, int], rng: np.random.Generator, unit: float, fibres: int = 900) -> np.ndarray:
    """A paper surface as a brightness multiplier around 1: mottling plus fibres."""
    h, w = shape
    surface = 1.0 - 0.06 * fbm(shape, rng, 6)
    strokes = np.zeros(shape, np.float32)
    count = round(fibres * h * w / (768 * 1152))
    starts = rng.random((count, 2)) * (w, h)
    angles = rng.random(count) * math.pi
    lengths = (4 + rng.random(count) * 14) * unit
    for (x, y), angle, length in zip(starts, angles, lengths, strict=True):
        end = (round(x + math.cos(angle) * length), round(y + math.sin(angle) * length))
        cv2.line(strokes, (round(x), round(y)), end, 1.0, 1, cv2.LINE_AA)
    return (surface - 0.05 * blur(strokes, 0.6 * unit)).astype(np.float32)


def grain(shape: tuple[int, int], rng: np.random.Generator, amount: float) -> np.ndarray:
    """Fine zero-mean noise, added at output size so it stays sharp after the upscale."""
    return (rng.standard_normal(shape, dtype=np.float32) * amount).astype(np.float32)


def halftone(coverage: np.ndarray, cell: float, angle_deg: float) -> np.ndarray:
    """Printed dots: 1 where ink lands. `coverage` 0..1 is the wanted ink fraction per pixel."""
    h, w = coverage.shape
    angle = math.radians(angle_deg)
    ys = np.arange(h, dtype=np.float32)[:, None]
    xs = np.arange(w, dtype=np.float32)[None, :]
    u = (xs * np.float32(math.cos(angle) / cell)) + ys * np.float32(math.sin(angle) / cell)
    v = (xs * np.float32(-math.sin(angle) / cell)) + ys * np.float32(math.cos(angle) / cell)
    du, dv = u - np.floor(u) - 0.5, v - np.floor(v) - 0.5
    dist = np.sqrt(du * du + dv * dv)
    # A dot of radius r covers pi*r^2 of a unit cell: invert that so dot area follows coverage.
    radius = np.sqrt(np.clip(coverage, 0.0, 1.0) / math.pi)
    edge = 1.0 / cell
    return np.clip((radius - dist) / edge + 0.5, 0.0, 1.0).astype(np.float32)


def sunburst(shape: tuple[int, int], centre: tuple[float, float], rays: int, twist: float = 0.0) -> np.ndarray:
    """Alternating rays around a point: 1 on every other ray, antialiased."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xs - centre[0], ys - centre[1]
    theta = np.arctan2(dy, dx) + twist * np.sqrt(dx * dx + dy * dy) / max(h, w)
    wave = np.sin(theta * rays)
    return np.clip(wave * 6.0 + 0.5, 0.0, 1.0).astype(np.float32)


def light_dots(
    shape: tuple[int, int], rng: np.random.Generator, count: int, radius: tuple[float, float], soft: float
) -> np.ndarray:
    """Round spots of light (bokeh, sparks, snow), 0..1."""
    h, w = shape
    layer = np.zeros(shape, np.float32)
    for _ in range(count):
        x, y = rng.random() * w, rng.random() * h
        r = radius[0] + rng.random() * (radius[1] - radius[0])
        cv2.circle(layer, (round(x), round(y)), max(1, round(r)), 0.4 + 0.6 * float(rng.random()), -1, cv2.LINE_AA)
    return np.clip(blur(layer, soft), 0.0, 1.0)


def star_sparkles(shape: tuple[int, int], rng: np.random.Generator, count: int, size: float) -> np.ndarray:
    """Four-pointed twinkles with a soft core, 0..1 (the fairy-tale glint)."""
    h, w = shape
    layer = np.zeros(shape, np.float32)
    for _ in range(count):
        x, y = round(rng.random() * w), round(rng.random() * h)
        arm = size * (0.4 + 0.6 * float(rng.random()))
        for dx, dy in ((1, 0), (0, 1)):
            cv2.line(
                layer,
                (round(x - dx * arm), round(y - dy * arm)),
                (round(x + dx * arm), round(y + dy * arm)),
                0.9,
                1,
                cv2.LINE_AA,
            )
        cv2.circle(layer, (x, y), max(1, round(arm / 6)), 1.0, -1, cv2.LINE_AA)
    return np.clip(layer + blur(layer, size / 6) * 2.0, 0.0, 1.0)


def fireworks(shape: tuple[int, int], rng: np.random.Generator, count: int, size: float) -> list[np.ndarray]:
    """Bursts of streaks, one 0..1 layer per burst so each can take its own colour."""
    h, w = shape
    bursts = []
    for _ in range(count):
        layer = np.zeros(shape, np.float32)
        cx, cy = rng.random() * w, rng.random() * h * 0.5
        radius = size * (0.6 + 0.6 * rng.random())
        streaks = 28 + int(rng.integers(0, 16))
        for k in range(streaks):
            angle = 2 * math.pi * k / streaks + rng.random() * 0.1
            inner, outer = radius * 0.25, radius * (0.8 + 0.3 * rng.random())
            start = (round(cx + math.cos(angle) * inner), round(cy + math.sin(angle) * inner))
            end = (round(cx + math.cos(angle) * outer), round(cy + math.sin(angle) * outer))
            cv2.line(layer, start, end, 0.8, max(1, round(size / 90)), cv2.LINE_AA)
            cv2.circle(layer, end, max(1, round(size / 45)), 1.0, -1, cv2.LINE_AA)
        bursts.append(np.clip(layer + blur(layer, size / 12) * 1.5, 0.0, 1.0))
    return bursts


def grid_lines(shape: tuple[int, int], spacing: float, horizon: float) -> np.ndarray:
    """A perspective floor grid below `horizon` (fraction of height) plus a faint flat grid above."""
    h, w = shape
    layer = np.zeros(shape, np.float32)
    y0 = round(h * horizon)
    for i in range(-24, 25):
        cv2.line(
            layer, (round(w / 2 + i * spacing * 0.2), y0), (round(w / 2 + i * spacing * 3), h), 1.0, 1, cv2.LINE_AA
        )
    depth = 1.0
    while y0 + depth < h:
        cv2.line(layer, (0, round(y0 + depth)), (w, round(y0 + depth)), 1.0, 1, cv2.LINE_AA)
        depth = depth * 1.35 + 2
    for x in np.arange(0, w, spacing):
        cv2.line(layer, (round(x), 0), (round(x), y0), 0.25, 1, cv2.LINE_AA)
    for y in np.arange(0, y0, spacing):
        cv2.line(layer, (0, round(y)), (w, round(y)), 0.25, 1, cv2.LINE_AA)
    return layer


def hud_rings(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    """Broken concentric rings with ticks, like a head-up display around the face."""
    layer = np.zeros(shape, np.float32)
    c = (round(centre[0]), round(centre[1]))
    thickness = max(1, round(radius / 120))
    for k, (scale, start, span) in enumerate(((1.0, 200, 250), (1.12, 20, 130), (1.12, 250, 70), (1.26, 100, 300))):
        r = round(radius * scale)
        cv2.ellipse(layer, c, (r, r), 0, start, start + span, 1.0 if k != 3 else 0.6, thickness, cv2.LINE_AA)
    for tick in range(0, 360, 10):
        a = math.radians(tick)
        r0, r1 = radius * 1.3, radius * (1.34 if tick % 30 else 1.4)
        p0 = (round(c[0] + math.cos(a) * r0), round(c[1] + math.sin(a) * r0))
        p1 = (round(c[0] + math.cos(a) * r1), round(c[1] + math.sin(a) * r1))
        cv2.line(layer, p0, p1, 0.7, thickness, cv2.LINE_AA)
    return layer


def frame_mask(shape: tuple[int, int], inset: float, width: float) -> np.ndarray:
    """1 on a rectangular band `width` px wide, `inset` px in from the edges."""
    h, w = shape
    mask = np.zeros(shape, np.float32)
    outer = (round(inset), round(inset), w - 1 - round(inset), h - 1 - round(inset))
    cv2.rectangle(mask, outer[:2], outer[2:], 1.0, max(1, round(width)), cv2.LINE_AA)
    return mask


@lru_cache(maxsize=16)
def asset(name: str) -> np.ndarray:
    """A shipped RGBA artwork as float32 0..1 (read once, then shared; callers must not modify it)."""
    bgra = cv2.imread(str(ASSETS / name), cv2.IMREAD_UNCHANGED)
    if bgra is None:
        raise FileNotFoundError(f"portrait asset missing: {ASSETS / name}")
    code = cv2.COLOR_BGRA2RGBA if bgra.ndim == 3 and bgra.shape[2] == 4 else cv2.COLOR_BGR2RGBA
    rgba = cv2.cvtColor(bgra, code).astype(np.float32) / 255.0
    rgba.flags.writeable = False
    return rgba


def paste(canvas: np.ndarray, rgba: np.ndarray, left: float, top: float, height: float) -> np.ndarray:
    """Composite an RGBA artwork scaled to `height` px at (left, top), clipped to the canvas."""
    scale = height / rgba.shape[0]
    art = resize(rgba, max(1, round(rgba.shape[1] * scale)), max(1, round(height)))
    x0, y0 = round(left), round(top)
    ch, cw = canvas.shape[:2]
    ax0, ay0 = max(0, -x0), max(0, -y0)
    x1, y1 = min(cw, x0 + art.shape[1]), min(ch, y0 + art.shape[0])
    if x1 <= max(0, x0) or y1 <= max(0, y0):
        return canvas
    part = art[ay0 : ay0 + y1 - max(0, y0), ax0 : ax0 + x1 - max(0, x0)]
    alpha = np.clip(part[:, :, 3:4], 0.0, 1.0)
    region = canvas[max(0, y0) : y1, max(0, x0) : x1]
    canvas[max(0, y0) : y1, max(0, x0) : x1] = region * (1.0 - alpha) + np.clip(part[:, :, :3], 0, 1) * alpha
    return canvas
