"""Classical image filters on float32 RGB in 0..1 (HxWx3) and float32 masks in 0..1 (HxW)."""

from __future__ import annotations

import cv2
import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ _LUMA


def mix(a: np.ndarray, b: np.ndarray, weight: np.ndarray | float) -> np.ndarray:
    """a where weight is 0, b where it is 1; a HxW weight applies to all channels."""
    if isinstance(weight, np.ndarray) and weight.ndim == 2 and a.ndim == 3:
        weight = weight[:, :, None]
    return a + (b - a) * weight


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide ones run on a reduced copy, which looks the same and costs a fraction."""
    if sigma <= 8.0:
        return cv2.GaussianBlur(img, (0, 0), max(0.3, sigma))
    factor = int(sigma // 4)
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def smooth(rgb: np.ndarray, sigma_space: float, sigma_color: float = 0.15, passes: int = 3) -> np.ndarray:
    """Edge-preserving smoothing (domain transform): flattens texture and skin, keeps outlines."""
    out = cv2.ximgproc.dtFilter(
        rgb, rgb, sigmaSpatial=sigma_space, sigmaColor=sigma_color, mode=cv2.ximgproc.DTF_RF, numIters=passes
    )
    return np.clip(out, 0.0, 1.0)


def saturate(rgb: np.ndarray, amount: float) -> np.ndarray:
    gray = luma(rgb)[:, :, None]
    return np.clip(gray + (rgb - gray) * amount, 0.0, 1.0)


def contrast(rgb: np.ndarray, amount: float, pivot: float = 0.5) -> np.ndarray:
    return np.clip((rgb - pivot) * amount + pivot, 0.0, 1.0)


def levels(rgb: np.ndarray, black: float, white: float, gamma: float = 1.0) -> np.ndarray:
    out = np.clip((rgb - black) / (white - black), 0.0, 1.0)
    return out if gamma == 1.0 else out ** np.float32(1.0 / gamma)


def split_tone(rgb: np.ndarray, shadow: tuple, highlight: tuple, amount: float = 1.0) -> np.ndarray:
    """Tint shadows and highlights toward two colours (RGB 0..1), keeping the luminance ramp."""
    y = luma(rgb)[:, :, None]
    tint = np.asarray(shadow, np.float32) * (1.0 - y) + np.asarray(highlight, np.float32) * y
    toned = np.clip(rgb + (tint - 0.5) * amount, 0.0, 1.0)
    return toned


def duotone(rgb: np.ndarray, dark: tuple, light: tuple, mid: tuple | None = None) -> np.ndarray:
    """Map luminance onto a two- or three-colour ramp."""
    y = luma(rgb)[:, :, None]
    dark_c, light_c = np.asarray(dark, np.float32), np.asarray(light, np.float32)
    if mid is None:
        return dark_c + (light_c - dark_c) * y
    mid_c = np.asarray(mid, np.float32)
    low = dark_c + (mid_c - dark_c) * np.clip(y * 2.0, 0.0, 1.0)
    return np.where(y < 0.5, low, mid_c + (light_c - mid_c) * np.clip(y * 2.0 - 1.0, 0.0, 1.0))


def soft_posterize(values: np.ndarray, steps: int, softness: float = 0.1) -> np.ndarray:
    """Quantise 0..1 values to `steps` bands with smooth band edges (cel or clay shading)."""
    scaled = values * steps
    floor = np.floor(scaled)
    frac = scaled - floor
    ramp = np.clip((frac - 0.5 + softness) / (2 * softness), 0.0, 1.0) if softness > 0 else (frac >= 0.5)
    ramp = ramp * ramp * (3.0 - 2.0 * ramp)
    return np.clip((floor + ramp) / steps, 0.0, 1.0).astype(np.float32)


def cel_shade(rgb: np.ndarray, steps: int, softness: float, floor: float = 0.15) -> np.ndarray:
    """Band the lightness (Lab L) of each pixel, keeping its hue and chroma: cel or clay shading."""
    lab = cv2.cvtColor(np.ascontiguousarray(rgb, np.float32), cv2.COLOR_RGB2Lab)
    lightness = lab[:, :, 0] / 100.0
    lab[:, :, 0] = 100.0 * (floor + (1.0 - floor) * soft_posterize(lightness, steps, softness))
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), 0.0, 1.0)


def relief_light(
    rgb: np.ndarray, sigma: float, depth: float, light: tuple[float, float, float] = (-0.45, -0.6, 0.66)
) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse and specular light on a surface whose height is the blurred brightness.

    Treating brightness as height gives rounded, sculpted shading: a cheap stand-in for the normals
    a 3D render would have.
    """
    height = blur(luma(rgb), sigma) * depth
    gy, gx = np.gradient(height)
    norm = np.sqrt(gx * gx + gy * gy + 1.0)
    lx, ly, lz = np.asarray(light, np.float32) / np.linalg.norm(light)
    diffuse = np.clip((-gx * lx - gy * ly + lz) / norm, 0.0, 1.0)
    return diffuse.astype(np.float32), (diffuse**24).astype(np.float32)


def ink_lines(gray: np.ndarray, sigma: float, threshold: float = 0.008, gain: float = 40.0) -> np.ndarray:
    """Ink where a difference of Gaussians finds the dark side of an edge (1 = full ink)."""
    dog = blur(gray, sigma) - blur(gray, sigma * 1.6)
    return np.clip((-dog - threshold) * gain, 0.0, 1.0)


def palette_map(rgb: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Each pixel becomes its nearest palette colour (distance measured in Lab)."""
    lab = cv2.cvtColor(np.ascontiguousarray(rgb, np.float32), cv2.COLOR_RGB2Lab)
    pal = cv2.cvtColor(palette.reshape(1, -1, 3).astype(np.float32), cv2.COLOR_RGB2Lab).reshape(-1, 3)
    best = np.full(rgb.shape[:2], np.inf, np.float32)
    nearest = np.zeros(rgb.shape[:2], np.intp)
    for k, (lightness, a, b) in enumerate(pal):
        # Lightness matters more than hue for a readable print: L counts double.
        dist = 2.0 * (lab[:, :, 0] - lightness) ** 2 + (lab[:, :, 1] - a) ** 2 + (lab[:, :, 2] - b) ** 2
        closer = dist < best
        best[closer] = dist[closer]
        nearest[closer] = k
    return palette[nearest].astype(np.float32)


def bloom(rgb: np.ndarray, threshold: float, sigma: float, strength: float) -> np.ndarray:
    """Light spilling from bright areas, as in a soft-focus lens or a render's glow pass."""
    bright = np.clip(rgb - threshold, 0.0, 1.0) / (1.0 - threshold)
    return 1.0 - (1.0 - rgb) * (1.0 - np.clip(blur(bright, sigma) * strength, 0.0, 1.0))


def screen(base: np.ndarray, light: np.ndarray) -> np.ndarray:
    return 1.0 - (1.0 - base) * (1.0 - light)


def clarity(rgb: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    """Local contrast: pushes each pixel away from its neighbourhood mean (gritty or sculpted look)."""
    return np.clip(rgb + (rgb - blur(rgb, sigma)) * amount, 0.0, 1.0)


def vignette(shape: tuple[int, int], strength: float, roundness: float = 1.0) -> np.ndarray:
    """1 in the middle falling toward 1 - strength in the corners."""
    h, w = shape
    y = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :] * roundness
    r = np.sqrt(x * x + y * y) / np.sqrt(1.0 + roundness * roundness)
    return (1.0 - strength * np.clip(r * 1.2 - 0.2, 0.0, 1.0) ** 2).astype(np.float32)


def bulge(img: np.ndarray, centres: list[tuple[float, float]], radius: float, strength: float) -> np.ndarray:
    """Magnify discs around the given points (1 / (1 - strength) at the centre, seamless at the rim)."""
    h, w = img.shape[:2]
    map_x, map_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    for cx, cy in centres:
        dx, dy = map_x - cx, map_y - cy
        falloff = np.clip(1.0 - (dx * dx + dy * dy) / (radius * radius), 0.0, 1.0) ** 2
        pull = 1.0 - strength * falloff
        map_x, map_y = cx + dx * pull, cy + dy * pull
    return cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    if img.shape[1] == width and img.shape[0] == height:
        return img
    shrinking = width < img.shape[1]
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
