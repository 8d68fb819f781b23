"""Line maps for the ControlNet backends: RGB, white lines on black, at the input's size (what scribble,
soft-edge and union ControlNets were trained on).

- `extract_lines(photo)`: soft edges by XDoG (the extended difference of Gaussians): the image blurred at two
  scales, the dark side of every edge kept (one line per edge, not the two a gradient magnitude gives) and
  passed through a soft tanh threshold, so strong edges are solid and faint ones thin and grey. The blur
  scale grows with the image, so a 4096-px photo gives the same line weight relative to its size as a 512-px
  one, and the contrast is judged from the image's own edge strengths, so dim and bright photos both give lines.
- `sketch_lines(drawing)`: a drawing the user already made. Dark lines on a light page (pencil on paper,
  the usual case) are inverted; light lines on dark are kept. Transparent pixels count as paper. The result
  is stretched so the paper is black and the strongest lines white.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# XDoG settings: the second blur is K times the first
K = 1.6
EPSILON = 0.12  # edge strength (in units of the image's strong edges) below which nothing is drawn
PHI = 4.0  # how quickly a line goes from grey to white above EPSILON
STRONG_EDGE_PERCENTILE = 99.0


def extract_lines(image: Image.Image) -> Image.Image:
    """Soft line map of a photo or painting (see the module docstring)."""
    import cv2

    gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    sigma = max(0.8, 1.0 * max(image.size) / 1024.0)
    fine = cv2.GaussianBlur(gray, (0, 0), sigma)
    coarse = cv2.GaussianBlur(gray, (0, 0), sigma * K)
    # positive where a pixel is darker than its surroundings: the dark side of an edge
    darker = coarse - fine
    strong = float(np.percentile(np.abs(darker), STRONG_EDGE_PERCENTILE))
    if strong <= 1e-4:  # a flat image has no lines
        return Image.new("RGB", image.size, (0, 0, 0))
    strength = darker / strong - EPSILON
    lines = np.where(strength > 0, np.tanh(PHI * strength), 0.0)
    return _rgb(lines)


def sketch_lines(image: Image.Image) -> Image.Image:
    """A user's line drawing as white lines on black (see the module docstring)."""
    gray = np.asarray(_on_white(image).convert("L"), dtype=np.float32) / 255.0
    paper = float(np.median(gray))
    if paper > 0.5:  # a light page: the lines are the dark strokes
        gray = 1.0 - gray
        paper = 1.0 - paper
    ink = float(np.percentile(gray, 99.5))
    if ink - paper <= 1e-3:  # an empty page
        return Image.new("RGB", image.size, (0, 0, 0))
    return _rgb(np.clip((gray - paper) / (ink - paper), 0.0, 1.0))


def _on_white(image: Image.Image) -> Image.Image:
    """Transparent pixels become paper (white), so a drawing on a transparent layer keeps its strokes."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if not has_alpha:
        return image
    page = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(page, image.convert("RGBA")).convert("RGB")


def _rgb(lines: np.ndarray) -> Image.Image:
    gray = np.clip(lines * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(np.repeat(gray[..., None], 3, axis=2))
