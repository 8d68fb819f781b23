"""A generated scene behind a cut-out subject: what a fill engine repaints, and putting the subject back.

The generative path of wanx-background-generation, engine side:

- canvas: the subject alpha-composited over a neutral studio backdrop, or over the fitted reference (then the
  engine starts from it, image-to-image). No shadows yet: they are added once, after generation.
- mask: every pixel that is not fully opaque subject, grown `seam` px into the subject. The fill engine blends
  its result into the canvas over a soft seam inside the mask; grown so, that seam lies on subject pixels the
  re-composite covers again, and the background behind the subject's soft edge is wholly generated. Also
  masked: the areas of foreground edge elements, which seed 003 generates in front of the subject.
- line map (reference_edge): background elements from bottom to top, the subject's own lines over them (its
  outline and the soft edges of easel/engines/lines.py, the ControlNet backends' extractor; the subject hides
  what lies behind it), foreground elements on top of everything; white lines on black.
- finish: composite_subject over the generated picture (contact and cast shadows, colour harmonisation);
  opaque subject pixels come back as the subject's own, harmonised only; then the generated foreground
  elements over that.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image

from easel.engines.compose.composite import composite_subject
from easel.engines.lines import extract_lines


def paste_subject(backdrop: np.ndarray, subject: np.ndarray) -> np.ndarray:
    """RGB uint8: the RGBA uint8 subject over the RGB backdrop by its alpha, nothing else."""
    alpha = subject[..., 3:4].astype(np.float32) / 255.0
    out = subject[..., :3].astype(np.float32) * alpha + backdrop.astype(np.float32) * (1.0 - alpha)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def scene_mask(alpha: np.ndarray, front: np.ndarray | None, seam: int) -> np.ndarray:
    """HxW bool, True where the engine paints: outside the opaque subject (grown `seam` px into it) and under
    the foreground elements."""
    opaque = (alpha == 255).astype(np.uint8)
    if seam > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * seam + 1, 2 * seam + 1))
        opaque = cv2.erode(opaque, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=1)
    mask = opaque == 0
    if front is not None:
        mask |= front > 0
    return mask


def fit_element(element: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An RGBA uint8 edge element at the subject's (width, height); seed 003 resizes one of another size."""
    if element.shape[1::-1] == size:
        return element
    shrink = element.shape[1] > size[0] or element.shape[0] > size[1]
    return cv2.resize(element, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def front_alpha(foreground: Sequence[np.ndarray]) -> np.ndarray | None:
    """0..1 float32 HxW: how much the foreground elements together cover each pixel (None without any)."""
    if not foreground:
        return None
    clear = np.ones(foreground[0].shape[:2], np.float32)
    for element in foreground:
        clear *= 1.0 - element[..., 3].astype(np.float32) / 255.0
    return 1.0 - clear


def line_map(subject: np.ndarray, background: Sequence[np.ndarray], foreground: Sequence[np.ndarray]) -> np.ndarray:
    """RGB uint8 white-on-black line map: background elements, the subject over them, foreground elements on top.

    An element's lines are the brightness of its RGB (a soft-edge map) where its alpha holds; a higher element
    hides a lower one where its alpha does.
    """
    lines = np.zeros(subject.shape[:2], np.float32)
    for element in background:
        lines = _layer(lines, element)
    solid = subject[..., 3] >= 128
    lines[solid] = subject_lines(subject)[solid]
    for element in foreground:
        lines = _layer(lines, element)
    grey = np.clip(lines + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def subject_lines(subject: np.ndarray) -> np.ndarray:
    """0..255 float32: the subject's outline and its inner soft edges (the ControlNet line extractor), inside its
    alpha."""
    solid = (subject[..., 3] >= 128).astype(np.uint8)
    outline = cv2.morphologyEx(solid, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    inner = np.asarray(extract_lines(Image.fromarray(np.ascontiguousarray(subject[..., :3]))).convert("L"))
    lines = np.maximum(inner.astype(np.float32), outline.astype(np.float32) * 255.0)
    return np.where(solid > 0, lines, 0.0).astype(np.float32)


def _layer(lines: np.ndarray, element: np.ndarray) -> np.ndarray:
    alpha = element[..., 3].astype(np.float32) / 255.0
    own = cv2.cvtColor(np.ascontiguousarray(element[..., :3]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return lines * (1.0 - alpha) + own * alpha


def finish(generated: np.ndarray, subject: np.ndarray, front: np.ndarray | None, *, seed: int) -> np.ndarray:
    """RGB uint8: the subject composited back over the generated picture, the foreground elements over it.

    Where the subject's alpha is 255 and no foreground element lies, the pixel is the subject's own colour
    through one per-channel gain and offset (the harmonisation), as on the CPU path.
    """
    # variation 0: the generated picture is already framed around the subject; its seeds make the n differ
    image = composite_subject(generated, subject, seed=seed, variation=0.0).image
    if front is None:
        return image
    weight = front[..., None]
    out = image.astype(np.float32) * (1.0 - weight) + generated.astype(np.float32) * weight
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
