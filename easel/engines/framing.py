"""Cover-fitting a picture into a fixed output size without cutting off what matters in it.

A plain centre crop of a 512x600 portrait into 1024x1024 takes the overflow from the top and the bottom
alike and cuts the top of the head. Here the crop window slides (never scales further) so that a box of
what must stay inside (heads found by the face detector, grown to include hair and headwear, and the area
the user edited) is inside it, staying as close to the centre as that allows. When the box cannot fit,
the window is centred on it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from easel.engines.face import detect_faces

Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels
# a face detector's box covers brow to chin; the head reaches this much of its height above it (hair,
# a cap) and a little to the sides and below (ears, chin)
HEAD_ABOVE, HEAD_SIDES, HEAD_BELOW = 0.75, 0.25, 0.15
DETECT_LONG_SIDE = 1024


def head_boxes(image: Image.Image) -> list[Box]:
    """Boxes around the heads in the picture (face boxes grown to the whole head), in its pixels."""
    scale = min(1.0, DETECT_LONG_SIDE / max(image.size))
    small = image.convert("RGB")
    if scale < 1.0:
        small = small.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    boxes = []
    for face in detect_faces(np.asarray(small)):
        left, top = face.left / scale, face.top / scale
        width, height = face.width / scale, face.height / scale
        boxes.append(clip_box((round(left - HEAD_SIDES * width), round(top - HEAD_ABOVE * height),
                               round(left + width * (1 + HEAD_SIDES)), round(top + height * (1 + HEAD_BELOW))),
                              image.size))
    return boxes


def mask_box(mask: np.ndarray) -> Box | None:
    """The bounding box of a boolean mask's True pixels, or None when it is empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def union(boxes: list[Box | None]) -> Box | None:
    present = [b for b in boxes if b is not None]
    if not present:
        return None
    return (min(b[0] for b in present), min(b[1] for b in present),
            max(b[2] for b in present), max(b[3] for b in present))


def clip_box(box: Box, size: tuple[int, int]) -> Box:
    return max(0, box[0]), max(0, box[1]), min(size[0], box[2]), min(size[1], box[3])


def cover_crop(image: Image.Image, size: tuple[int, int], keep: list[Box] | None = None) -> Image.Image:
    """`image` scaled to fill `size` and cropped to it, the crop placed to keep the boxes of `keep` (image
    pixels, most important first) inside: all of them when they fit together, else as many of the first."""
    if image.size == size:
        return image
    scale = max(size[0] / image.width, size[1] / image.height)
    scaled_w, scaled_h = max(size[0], round(image.width * scale)), max(size[1], round(image.height * scale))
    scaled = image.resize((scaled_w, scaled_h), Image.Resampling.LANCZOS)
    box = fitting_union([tuple(round(v * scale) for v in b) for b in keep or []], size)
    left = window_start(scaled_w, size[0], None if box is None else (box[0], box[2]))
    top = window_start(scaled_h, size[1], None if box is None else (box[1], box[3]))
    return scaled.crop((left, top, left + size[0], top + size[1]))


def fitting_union(boxes: list[Box], window: tuple[int, int]) -> Box | None:
    """The union of the most boxes, taken in order, that fits in `window`; the first box alone otherwise."""
    for count in range(len(boxes), 0, -1):
        box = union(boxes[:count])
        if box is not None and box[2] - box[0] <= window[0] and box[3] - box[1] <= window[1]:
            return box
    return boxes[0] if boxes else None


def window_start(total: int, window: int, keep: tuple[int, int] | None) -> int:
    """Where a `window`-long crop of `total` starts: centred, moved just enough to hold `keep` (start, end)."""
    centred = (total - window) // 2
    if keep is None or total == window:
        return centred
    start, end = keep
    if end - start > window:  # cannot hold it all: centre on it
        return min(max(0, (start + end - window) // 2), total - window)
    lowest, highest = max(0, end - window), min(start, total - window)
    return min(max(centred, lowest), highest)
