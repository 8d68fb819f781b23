"""Is this image line art or flat graphics (cartoon, clip art, chart, screenshot) rather than a photo?

Such images go to x4plus-anime (backend.py), 2-3x faster than x4plus and cleaner on fills and outlines.
A photo sent there would come back cartoon-flattened, so the test is built to fail safe: all three
signs must hold, and any block of photo texture vetoes.

- flat share: the share of the image inside large plateaus (7x7 windows whose colours vary by at most
  3 levels, in connected regions of at least 0.5% of the image). Fills and backgrounds are plateaus;
  photos have almost none (sensor noise, gradients), except blown-out or blurred areas.
- edge share: pixels on strong edges (3x3 range of 48 levels or more). Outlines and text have them;
  blurred photos with big flat areas do not.
- photo share: 16-px blocks where at least half the pixels vary softly (3x3 range 5..47 levels):
  texture, skin, foliage, soft gradients. Line art has such pixels only in thin antialiasing fringes.

Measured on 21 photos (18 from scikit-image, matplotlib's grace_hopper, scikit-learn's china and
flower), each as is, as JPEG q80 / q50, and shrunk 2x and 4x: none passes (bench/superres_lineart_eval.py).
The only photo variants that pass the first two signs (rocket as JPEG: 37% flat, 9% edges) have a
photo share of 0.32, 60x the limit; photos with no photo block (grass, gravel shrunk 4x) have no
flat areas. Clean drawings, screenshots and charts pass at full and half size. JPEG ringing puts soft
pixels around every edge, so JPEG'd line art fails the photo-share sign and keeps x4plus: the safe
side (bench/results/superres_speed.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PLATEAU_WINDOW = 7
PLATEAU_MAX_RANGE = 3
PLATEAU_MIN_REGION = 0.005  # of the image area
STRONG_EDGE_RANGE = 48
SOFT_MIN_RANGE = 5
PHOTO_BLOCK = 16
PHOTO_BLOCK_SOFT_SHARE = 0.5

MIN_FLAT_SHARE = 0.3
MIN_EDGE_SHARE = 0.03
MAX_PHOTO_SHARE = 0.005


@dataclass(frozen=True)
class ContentVerdict:
    flat_share: float
    edge_share: float
    photo_share: float

    @property
    def line_art(self) -> bool:
        return (
            self.flat_share >= MIN_FLAT_SHARE
            and self.edge_share >= MIN_EDGE_SHARE
            and self.photo_share <= MAX_PHOTO_SHARE
        )

    def describe(self) -> str:
        return (
            f"{self.flat_share:.0%} of it in large flat areas, {self.edge_share:.0%} on strong edges, "
            f"{self.photo_share:.1%} photo-like texture"
        )


def classify(rgb: np.ndarray) -> ContentVerdict:
    """The three signs for an HxWx3 uint8 image."""
    plateau = _local_range(rgb, PLATEAU_WINDOW) <= PLATEAU_MAX_RANGE
    fine_range = _local_range(rgb, 3)
    soft = (fine_range >= SOFT_MIN_RANGE) & (fine_range < STRONG_EDGE_RANGE)
    return ContentVerdict(
        flat_share=_large_region_share(plateau),
        edge_share=float((fine_range >= STRONG_EDGE_RANGE).mean()),
        photo_share=_photo_block_share(soft),
    )


def _local_range(rgb: np.ndarray, window: int) -> np.ndarray:
    """Per pixel, the largest max-min spread of any channel over a window x window neighbourhood."""
    kernel = np.ones((window, window), np.uint8)
    return (cv2.dilate(rgb, kernel) - cv2.erode(rgb, kernel)).max(axis=2)


def _large_region_share(mask: np.ndarray) -> float:
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
    areas = stats[1:, cv2.CC_STAT_AREA]  # label 0 is the background (mask False)
    return float(areas[areas >= PLATEAU_MIN_REGION * mask.size].sum() / mask.size)


def _photo_block_share(soft: np.ndarray) -> float:
    rows, cols = soft.shape[0] // PHOTO_BLOCK, soft.shape[1] // PHOTO_BLOCK
    if rows == 0 or cols == 0:  # smaller than one block: the image is the block
        return float(soft.mean() >= PHOTO_BLOCK_SOFT_SHARE)
    blocks = soft[: rows * PHOTO_BLOCK, : cols * PHOTO_BLOCK].reshape(rows, PHOTO_BLOCK, cols, PHOTO_BLOCK)
    return float((blocks.mean(axis=(1, 3)) >= PHOTO_BLOCK_SOFT_SHARE).mean())
