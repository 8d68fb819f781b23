"""Validation of inpainting inputs and grouping of holes into crops.

Working on crops around the holes keeps the cost proportional to the holes, not to the image, and
holes closer together than the context margin share a crop so that each is filled once.
"""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # y0, y1, x0, x1 (end-exclusive)

# When separate crops would together cover more than this share of their joint bounding box,
# one joint crop is cheaper than many.
_MERGE_SHARE = 0.5


def validated(rgb: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The image as a contiguous uint8 HxWx3 array and the hole as a bool HxW array."""
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(
            f"rgb must be an HxWx3 uint8 array, got {getattr(rgb, 'dtype', type(rgb))} {getattr(rgb, 'shape', '')}"
        )
    hole = np.asarray(hole)
    if hole.shape != rgb.shape[:2]:
        raise ValueError(f"hole must be HxW like the image {rgb.shape[:2]}, got {hole.shape}")
    return np.ascontiguousarray(rgb), hole != 0


def hole_crops(mask: np.ndarray, margin: int) -> list[tuple[Box, np.ndarray]]:
    """Crop boxes reaching `margin` pixels past the holes, each with the mask of the holes it owns.

    Holes whose margins touch share a crop. The owned masks partition `mask`; a crop may also
    contain holes owned by another crop, which must then be treated as unknown there too.
    """
    size = 2 * margin + 1
    reach = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(reach, connectivity=8)
    boxes = [(int(y), int(y + bh), int(x), int(x + bw)) for x, y, bw, bh in stats[1:count, :4]]
    joint = (
        min(b[0] for b in boxes),
        max(b[1] for b in boxes),
        min(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    if len(boxes) == 1 or sum(_area(b) for b in boxes) > _MERGE_SHARE * _area(joint):
        return [(joint, mask[joint[0] : joint[1], joint[2] : joint[3]])]
    crops = []
    for label, (y0, y1, x0, x1) in enumerate(boxes, start=1):
        crops.append(((y0, y1, x0, x1), mask[y0:y1, x0:x1] & (labels[y0:y1, x0:x1] == label)))
    return crops


def _area(box: Box) -> int:
    return (box[1] - box[0]) * (box[3] - box[2])
