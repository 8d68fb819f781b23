"""Coherence transport: a fast, edge-continuing diffusion fill (Bornemann & März, 2007).

The hole is filled in onion layers from its boundary inwards. Each pixel becomes a weighted mean
of the already-known pixels within `radius`, with the weights concentrated along the local
isophote (the edge direction), so lines and edges that enter the hole are carried across it
instead of being blurred as in Telea's method. Where the surroundings have no dominant direction
the weights become isotropic and the fill is a plain smooth average.

Edge directions come from the structure tensor of the known pixels, smoothed with a normalized
Gaussian (hole pixels carry no weight) and carried into deep hole interiors from coarser scales.
Weights are looked up from a table indexed by quantized direction and coherence, so each layer is
one vectorized gather over all of its pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Quantization of the isophote angle (over 180 degrees) and of the coherence (0..1) for the table.
_ANGLE_BINS = 32
_COHERENCE_BINS = 16
# Normalized-convolution weight below which a pixel is too far from known data for its own scale.
_MIN_SUPPORT = 1e-3
# A small isotropic weight keeps every pixel's mean defined even when the directional weights of
# its known neighbours underflow.
_ISOTROPIC_FLOOR = 1e-6


@dataclass(frozen=True)
class CoherenceParams:
    """Tuned on the inpainting bench (bench/bench_inpaint.py); see bench/results/inpaint.md."""

    radius: int = 7  # neighbourhood of known pixels each hole pixel averages over
    anisotropy: float = 10.0  # how sharply the weights follow the edge direction (mu in the paper)
    coherence_power: float = 2.0  # weak structure (low coherence) falls back to isotropic faster
    presmooth_sigma: float = 1.0  # noise scale removed before taking gradients
    tensor_sigma: float = 6.0  # scale over which edge directions are pooled


def fill(img: np.ndarray, hole: np.ndarray, params: CoherenceParams | None = None) -> np.ndarray:
    """Fill `hole` (bool HxW) of a float32 HxWxC image; pixels outside the hole are returned as given.

    The image must have at least one known pixel.
    """
    p = params or CoherenceParams()
    cells = _direction_cells(img, hole, p)
    offsets_y, offsets_x, table = _weight_table(p)
    table = table.reshape(_COHERENCE_BINS * _ANGLE_BINS, -1)
    h, w, channels = img.shape
    pad = p.radius
    padded_w = w + 2 * pad
    # One contiguous plane per channel: per-channel gathers are much faster than gathering pixels.
    planes = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REFLECT).reshape(-1, channels)
    planes = np.ascontiguousarray(planes.T)
    known = cv2.copyMakeBorder((~hole).astype(np.uint8), pad, pad, pad, pad, cv2.BORDER_REFLECT)
    known = known.reshape(-1).astype(np.float32)
    offsets = (offsets_y * padded_w + offsets_x).astype(np.int32)

    for ys, xs in _onion_layers(hole):
        flat = ((ys + pad) * padded_w + xs + pad).astype(np.int32)
        neighbours = flat[:, None] + offsets[None, :]
        weights = table[cells[ys, xs]]
        weights *= np.take(known, neighbours)
        norm = 1.0 / np.maximum(weights.sum(axis=1), 1e-30)
        for plane in planes:
            plane[flat] = np.einsum("nk,nk->n", weights, np.take(plane, neighbours)) * norm
        known[flat] = 1.0
    out = planes.T.reshape(h + 2 * pad, padded_w, channels)[pad : pad + h, pad : pad + w]
    return np.ascontiguousarray(out)


def _onion_layers(hole: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Hole pixels grouped by ceil(distance to the known region), nearest layer first."""
    distance = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5)
    ys, xs = np.nonzero(hole)
    layer = np.ceil(distance[ys, xs]).astype(np.int32)
    order = np.argsort(layer, kind="stable")
    ys, xs, layer = ys[order], xs[order], layer[order]
    cuts = np.flatnonzero(np.diff(layer)) + 1
    return list(zip(np.split(ys, cuts), np.split(xs, cuts), strict=True))


def _weight_table(p: CoherenceParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets within the radius and their weights per (coherence bin, angle bin): (C, A, K)."""
    dy, dx = np.mgrid[-p.radius : p.radius + 1, -p.radius : p.radius + 1]
    dist = np.hypot(dy, dx)
    inside = (dist > 0) & (dist <= p.radius)
    dy, dx, dist = dy[inside], dx[inside], dist[inside]
    angles = (np.arange(_ANGLE_BINS) + 0.5) * np.pi / _ANGLE_BINS
    # distance of each offset from the line through the pixel along the isophote
    across = np.cos(angles)[:, None] * dy - np.sin(angles)[:, None] * dx
    coherence = (np.arange(_COHERENCE_BINS) + 0.5) / _COHERENCE_BINS
    sharpness = (p.anisotropy * coherence**p.coherence_power) ** 2 / (2.0 * p.radius**2)
    weights = np.exp(-sharpness[:, None, None] * across[None] ** 2) / dist + _ISOTROPIC_FLOOR
    return dy.astype(np.int64), dx.astype(np.int64), weights.astype(np.float32)


def _direction_cells(img: np.ndarray, hole: np.ndarray, p: CoherenceParams) -> np.ndarray:
    """Weight-table row (coherence bin, angle bin) of every hole pixel; 0 elsewhere."""
    tensor = _structure_tensor(img, hole, p)
    ys, xs = np.nonzero(hole)
    jxx, jxy, jyy = tensor[ys, xs].T
    spread = np.sqrt((jxx - jyy) ** 2 + 4.0 * jxy**2)
    trace = jxx + jyy
    coherence = np.where(trace > 1e-6, spread / np.maximum(trace, 1e-6), 0.0)
    # The gradient direction is 0.5*atan2(2jxy, jxx-jyy); the isophote is perpendicular to it.
    angle = (0.5 * np.arctan2(2.0 * jxy, jxx - jyy) + np.pi / 2) % np.pi
    angle_bin = np.minimum((angle * (_ANGLE_BINS / np.pi)).astype(np.int32), _ANGLE_BINS - 1)
    coherence_bin = np.minimum((np.clip(coherence, 0, 1) * _COHERENCE_BINS).astype(np.int32), _COHERENCE_BINS - 1)
    cells = np.zeros(hole.shape, np.int32)
    cells[ys, xs] = coherence_bin * _ANGLE_BINS + angle_bin
    return cells


def _structure_tensor(img: np.ndarray, hole: np.ndarray, p: CoherenceParams) -> np.ndarray:
    """Smoothed colour structure tensor (jxx, jxy, jyy) of the known pixels, defined everywhere."""
    known = (~hole).astype(np.float32)
    blur_known = cv2.GaussianBlur(known, (0, 0), p.presmooth_sigma)
    smooth = cv2.GaussianBlur(img * known[..., None], (0, 0), p.presmooth_sigma)
    smooth = smooth.reshape(img.shape) / np.maximum(blur_known, 1e-6)[..., None]
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3).reshape(img.shape) * 0.125
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3).reshape(img.shape) * 0.125
    # gradients are trusted only where the whole 3x3 Sobel support was known
    valid = cv2.erode(known, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REFLECT)
    valid[blur_known < 0.5] = 0.0
    # Colour (Di Zenzo) tensor: the channels' tensors summed, so that edges between colours of
    # equal brightness count too.
    tensor = np.empty((*hole.shape, 3), np.float32)
    tensor[..., 0] = np.einsum("ijc,ijc->ij", gx, gx) * valid
    tensor[..., 1] = np.einsum("ijc,ijc->ij", gx, gy) * valid
    tensor[..., 2] = np.einsum("ijc,ijc->ij", gy, gy) * valid
    return _normalized_blur(tensor, valid, p.tensor_sigma)


def _normalized_blur(values: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian mean of `values` counting each pixel by `weight`, defined everywhere.

    Pixels too far from any weighted pixel take the value from a coarser scale, recursively.
    """
    num = cv2.GaussianBlur(values, (0, 0), sigma)
    den = cv2.GaussianBlur(weight, (0, 0), sigma)
    mean = num / np.maximum(den, 1e-12)[..., None]
    support = np.clip(den / _MIN_SUPPORT, 0.0, 1.0)
    if support.min() >= 1.0:
        return mean
    h, w = weight.shape
    if min(h, w) < 8:
        total = weight.sum()
        overall = values.reshape(-1, values.shape[2]).sum(0) / total if total > 0 else np.zeros(values.shape[2])
        coarse = np.broadcast_to(overall.astype(np.float32), values.shape)
    else:
        half = ((w + 1) // 2, (h + 1) // 2)
        small = _normalized_blur(
            cv2.resize(values, half, interpolation=cv2.INTER_AREA),
            cv2.resize(weight, half, interpolation=cv2.INTER_AREA),
            sigma,
        )
        coarse = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return mean * support[..., None] + coarse * (1.0 - support[..., None])
