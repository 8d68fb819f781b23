"""Reading user masks the way the seeds define them."""

from __future__ import annotations

import numpy as np
from PIL import Image

from easel.errors import InvalidParameter


def edit_area(mask: Image.Image, base_size: tuple[int, int], colors: list[list[int]] | None = None) -> np.ndarray:
    """Boolean HxW: True where the image may change.

    Without colours the mask is binarised and white marks the edit area (seeds 001 and 002). With
    `colors` (wanx-x-painting's mask_color), pixels of exactly those RGB colours mark it; a few
    levels of tolerance absorb JPEG noise.
    """
    if mask.size != base_size:
        raise InvalidParameter(
            f"The mask is {mask.width}x{mask.height} but the base image is {base_size[0]}x{base_size[1]}; "
            "they must have the same resolution."
        )
    if colors:
        rgb = np.asarray(mask.convert("RGB"), dtype=np.int16)
        area = np.zeros(rgb.shape[:2], dtype=bool)
        for color in colors:
            area |= (np.abs(rgb - np.asarray(color, dtype=np.int16)) <= 8).all(axis=2)
        return area
    if mask.mode in ("RGBA", "LA") and np.asarray(mask.getchannel("A")).min() < 255:
        # a transparent mask marks its opaque strokes
        return np.asarray(mask.getchannel("A")) > 127
    return np.asarray(mask.convert("L")) > 127
