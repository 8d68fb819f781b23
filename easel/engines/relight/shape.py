"""Approximate surface shape of the subject, at the working resolution.

A height field, summed from three sources, gives the normals and the shadows:
- the silhouette, inflated into a rounded body: a Poisson solve gives a paraboloid-like height
  whose square root is a sphere for a disc (the classic "inflation" of sketch-based modelling);
- the MediaPipe face mesh, whose 468 points carry depth, for each face found: its relief (nose,
  eye sockets, lips, chin) is added on top of the inflated head;
- fine relief from the luminance (darker = deeper), so that texture responds a little to the light.
Besides, a band along the outline tells where light from behind the subject shows as a rim.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from easel.engines.face import detect_faces, face_landmarks

MAX_FACES = 4
_FACE_CROP_SIDE = 256  # the face mesh sees each face at this size, whatever the photo's size
_DETAIL_DEPTH = 0.5  # working pixels of relief per unit of log-luminance detail
# The mesh's relief is scaled down: at the working resolution its bumps are blurred, and at full
# depth a nose's blurred shadow under a top light reads as a dark band rather than a nose.
_FACE_RELIEF = 0.7
_LEVEL_ITERATIONS = 80  # Jacobi sweeps per pyramid level of the inflation solve
_RIM_WIDTH = 0.016  # e-folding width of the rim band, as a fraction of the working side


@dataclass
class Shape:
    normals: np.ndarray  # float32 hxwx3, unit, viewer frame (x right, y up, z toward the camera)
    height: np.ndarray  # float32 hxw, in working pixels, 0 outside the subject
    faces: int  # faces whose mesh shaped the normals
    rim_band: np.ndarray  # float32 hxw, 1 on the outline fading inward: where light from behind shows
    outline_dir: np.ndarray  # float32 hxwx2, outward direction of the nearest outline (x right, y up)


def estimate_shape(rgb: np.ndarray, work_mask: np.ndarray, work_log_lum: np.ndarray) -> Shape:
    """Normals and height of the subject. `rgb` is the full-size photo (for the face mesh);
    `work_mask` (bool) and `work_log_lum` are at the working resolution."""
    relief = _DETAIL_DEPTH * _luminance_relief(work_log_lum)
    face_detail, faces = _face_detail(rgb, work_mask.shape)
    # The faces add only their fine relief (nose, eye sockets, cheekbones, chin) on top of the inflated
    # head: the mesh's depth is relative and would not meet the head's height along the face outline.
    height = (inflate(work_mask) + relief + face_detail) * work_mask
    rim_band, outline_dir = _outline(work_mask)
    return Shape(_normals_from_height(height), height.astype(np.float32), faces, rim_band, outline_dir)


def _outline(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A band along the subject's outline and the outline's outward direction. Light from behind
    reaches the camera only as a thin bright edge; the inflated normals turn sideways over a pixel
    or two, too thin to show it, so the band is measured as a distance instead."""
    padded, crop = _mirror_frame(mask)
    distance = cv2.distanceTransform(padded.astype(np.uint8), cv2.DIST_L2, 3)[crop]
    band = np.exp(-distance / (_RIM_WIDTH * max(mask.shape))) * mask
    smooth = cv2.GaussianBlur(distance, (0, 0), 2.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    # Distance grows inward, so outward is minus its gradient; image rows grow downward.
    direction = np.dstack([-gx, gy])
    direction /= np.maximum(np.linalg.norm(direction, axis=2, keepdims=True), 1e-6)
    return band.astype(np.float32), direction.astype(np.float32)


def _mirror_frame(mask: np.ndarray) -> tuple[np.ndarray, tuple[slice, slice]]:
    """The mask mirrored across the frame, and the slices that crop it back. The frame cuts the
    subject (a portrait's shoulders run off the bottom); mirroring keeps those cuts from being
    treated as outlines."""
    pad_y, pad_x = mask.shape[0] // 4, mask.shape[1] // 4
    padded = cv2.copyMakeBorder(mask.astype(np.uint8), pad_y, pad_y, pad_x, pad_x, cv2.BORDER_REFLECT)
    return padded > 0, (slice(pad_y, pad_y + mask.shape[0]), slice(pad_x, pad_x + mask.shape[1]))


def inflate(mask: np.ndarray) -> np.ndarray:
    """Height of a rounded body with this silhouette: sqrt of the solution of laplace(f) = -4, f = 0
    outside, solved coarse to fine so each level starts from the previous level's answer."""
    padded, crop = _mirror_frame(mask)
    return _inflate_solve(padded)[crop].copy()


def _inflate_solve(mask: np.ndarray) -> np.ndarray:
    h, w = mask.shape
    sizes = []
    scale = 1.0
    while min(h, w) * scale >= 24:
        sizes.append(scale)
        scale /= 2
    f = None
    kernel = np.array([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]], np.float32)
    for scale in reversed(sizes):
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        level_mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5
        # f is in working pixels squared; one level pixel spans 1/scale working pixels.
        source = np.float32(1.0 / scale**2)
        f = np.zeros(level_mask.shape, np.float32) if f is None else cv2.resize(f, size, interpolation=cv2.INTER_LINEAR)
        for _ in range(_LEVEL_ITERATIONS):
            f = (cv2.filter2D(f, -1, kernel, borderType=cv2.BORDER_CONSTANT) + source) * level_mask
    return np.sqrt(np.maximum(f, 0.0)).astype(np.float32)


def _luminance_relief(log_lum: np.ndarray) -> np.ndarray:
    sigma = max(1.0, min(log_lum.shape) / 150)
    return np.clip(log_lum - cv2.GaussianBlur(log_lum, (0, 0), sigma), -1.0, 1.0)


def _normals_from_height(height: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    # Image rows grow downward while the viewer's y grows upward, hence +gy.
    normals = np.dstack([-gx, gy, np.ones_like(height)])
    normals /= np.linalg.norm(normals, axis=2, keepdims=True)
    return normals.astype(np.float32)


def _face_detail(rgb: np.ndarray, work_shape: tuple[int, int]) -> tuple[np.ndarray, int]:
    """Relief of every face mesh found (nose, brows, eye sockets, lips, chin), faded out toward each
    face's outline. The face's overall curvature is left to the inflated head: a quadratic surface
    fitted to the mesh is subtracted, which unlike a high-pass filter leaves no trough around the nose."""
    detail = np.zeros(work_shape, np.float32)
    faces = 0
    for points in _face_points(rgb, work_shape):
        relief = points.copy()
        relief[:, 2] -= _quadratic_fit(points)
        depth, hull = _splat_face(relief, work_shape)
        detail += _FACE_RELIEF * depth * _feather(hull, float(np.ptp(points[:, 0])) or 1.0)
        faces += 1
    return detail, faces


def _quadratic_fit(points: np.ndarray) -> np.ndarray:
    x, y, z = (points[:, i].astype(np.float64) for i in range(3))
    x = (x - x.mean()) / (x.std() or 1.0)
    y = (y - y.mean()) / (y.std() or 1.0)
    design = np.column_stack([np.ones_like(x), x, y, x * x, x * y, y * y])
    coefficients, *_ = np.linalg.lstsq(design, z, rcond=None)
    return (design @ coefficients).astype(np.float32)


def _face_points(rgb: np.ndarray, work_shape: tuple[int, int]) -> list[np.ndarray]:
    """Face-mesh points of each face, in working pixels (x, y, depth toward the camera)."""
    h, w = rgb.shape[:2]
    to_work = work_shape[1] / w
    detect_scale = min(1.0, 640 / max(h, w))
    small = cv2.resize(rgb, None, fx=detect_scale, fy=detect_scale, interpolation=cv2.INTER_AREA)
    faces = []
    for box in detect_faces(small)[:MAX_FACES]:
        side = max(box.width, box.height) / detect_scale * 1.8
        cx = (box.left + box.width / 2) / detect_scale
        cy = (box.top + box.height / 2) / detect_scale
        x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
        x1, y1 = min(w, int(cx + side / 2)), min(h, int(cy + side / 2))
        if x1 - x0 < 16 or y1 - y0 < 16:
            continue
        crop_scale = _FACE_CROP_SIDE / max(x1 - x0, y1 - y0)
        crop = cv2.resize(rgb[y0:y1, x0:x1], None, fx=crop_scale, fy=crop_scale, interpolation=cv2.INTER_AREA)
        points = face_landmarks(crop)
        if points is None:
            continue
        points = points / crop_scale
        points[:, 0] += x0
        points[:, 1] += y0
        points *= to_work
        points[:, 2] *= -1  # MediaPipe's z grows away from the camera
        faces.append(points)
    return faces


def _splat_face(points: np.ndarray, work_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Dense depth inside the face's hull from the mesh's scattered points (normalised Gaussian
    splatting), and the hull."""
    h, w = work_shape
    xy = np.round(points[:, :2]).astype(np.int32)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    values = np.zeros(work_shape, np.float32)
    counts = np.zeros(work_shape, np.float32)
    np.add.at(values, (xy[inside, 1], xy[inside, 0]), points[inside, 2])
    np.add.at(counts, (xy[inside, 1], xy[inside, 0]), 1.0)
    face_width = float(np.ptp(points[:, 0])) or 1.0
    sigma = max(1.0, face_width / 25)
    depth = cv2.GaussianBlur(values, (0, 0), sigma) / np.maximum(cv2.GaussianBlur(counts, (0, 0), sigma), 1e-6)
    hull = np.zeros(work_shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(xy), 1)
    return np.where(hull > 0, depth, 0.0).astype(np.float32), hull


def _feather(hull: np.ndarray, face_width: float) -> np.ndarray:
    radius = max(1, round(face_width / 14))
    inner = cv2.erode(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    return cv2.GaussianBlur(inner.astype(np.float32), (0, 0), radius / 1.5)
