"""Semi-transparent watermarks (remove_watermark): a 30° tiled mark is found by its repeats and
un-blended, the photo under a single faint mark is recovered rather than inpainted, a single mark
over a face is never left worse than the inpainting path, and photos without marks are left alone.
Cases are blended onto held-out photos, cropped small to keep OCR fast (bench/watermark_cases.py
builds the full-size ones for bench/bench_watermark_tiled.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from watermark_cases import (
    TILED_TEXT,
    VISIBLE,
    WHITE,
    blend,
    footprint,
    held_out_photo,
    psnr_in,
    single_coverage,
    tiled_coverage,
)

from easel.engines.text import fill, remove_text
from easel.engines.text.blend import invert
from easel.engines.text.local import region_blend
from easel.engines.text.periodic import find_lattice, tiled_blend

PROMPT = "去除水印"


def toward_white(result: np.ndarray, clean: np.ndarray, foot: np.ndarray) -> float:
    """Share of the mark's footprint still brighter than the clean photo by a visible step."""
    return float(((result.astype(np.int16) - clean).mean(axis=2) > VISIBLE)[foot].mean())


@pytest.fixture(scope="module")
def flower() -> np.ndarray:
    # The flower and the smooth ground right of it: a third less area than the photo.
    return np.ascontiguousarray(held_out_photo("flower")[40:360, 100:580])


@pytest.fixture(scope="module")
def tiled(flower: np.ndarray) -> np.ndarray:
    return blend(flower, tiled_coverage(flower.shape[:2], TILED_TEXT, 22, 30, gap=0.6), 0.4, WHITE)


def test_tiled_rotated_mark_is_mostly_gone(flower: np.ndarray, tiled: np.ndarray) -> None:
    foot = footprint(tiled, flower)
    result, mask = remove_text(tiled, PROMPT)
    # The marked image is 1.0 by definition; the inpainting path leaves about a quarter.
    assert toward_white(result, flower, foot) < 0.25
    assert psnr_in(result, flower, foot) > psnr_in(tiled, flower, foot) + 12
    assert np.array_equal(result[mask == 0], tiled[mask == 0])


def test_tiled_mark_is_recovered_better_than_inpainted(flower: np.ndarray, tiled: np.ndarray) -> None:
    lattice = find_lattice(tiled)
    assert lattice is not None
    estimate = tiled_blend(tiled, lattice)
    assert estimate is not None
    assert estimate.colour.min() > 230  # a white mark
    recovered, hole = invert(tiled, estimate)
    foot = footprint(tiled, flower)
    inpainted = fill(tiled, cv2.dilate(foot.astype(np.uint8) * 255, np.ones((3, 3), np.uint8)))
    assert not hole.any()  # 40 % opacity is invertible everywhere
    assert psnr_in(recovered, flower, foot) > psnr_in(inpainted, flower, foot) + 2


def test_single_faint_mark_over_smooth_ground_is_recovered(flower: np.ndarray) -> None:
    # On the smooth green ground right of the flower.
    coverage = np.roll(single_coverage(flower.shape[:2], "SAMPLE", 32, 0), 170, axis=1)
    marked = blend(flower, coverage, 0.45, WHITE)
    ys, xs = np.nonzero(coverage > 0.5)
    polygon = np.float32([[xs.min(), ys.min()], [xs.max(), ys.min()], [xs.max(), ys.max()], [xs.min(), ys.max()]])
    estimate = region_blend(marked, polygon)
    assert estimate is not None
    # One opacity for the whole mark, read from the strokes over smooth ground.
    assert abs(float(estimate.alpha.max()) - 0.45) < 0.05
    assert estimate.colour.min() == 255
    recovered, _ = invert(marked, estimate)
    done = estimate.alpha > 0.5 * 0.45  # the stroke pixels it chose to un-blend
    assert done.sum() > 0.3 * (coverage > 0.5).sum()
    inpainted = fill(marked, cv2.dilate(done.astype(np.uint8) * 255, np.ones((3, 3), np.uint8)))
    assert psnr_in(recovered, flower, done) > psnr_in(inpainted, flower, done) + 3


def test_single_mark_over_a_face_is_never_worse_than_inpainting() -> None:
    # A face is where per-pixel α once painted red-orange blotches (skin highlights read as strokes).
    face = np.ascontiguousarray(held_out_photo("grace_hopper")[120:440, 90:410])
    marked = blend(face, single_coverage(face.shape[:2], "SAMPLE 样图", 44, 45), 0.45, WHITE)
    foot = footprint(marked, face)
    easel, easel_mask = remove_text(marked, PROMPT)
    base, _ = remove_text(marked, PROMPT, unblend=False)
    assert easel_mask[foot].mean() > 0.3  # the mark was found and worked on
    assert psnr_in(easel, face, foot) >= psnr_in(base, face, foot) - 0.5


@pytest.mark.parametrize("name", ["flower", "grace_hopper"])
def test_photo_without_mark_has_no_tiled_mark(name: str) -> None:
    assert find_lattice(held_out_photo(name)) is None


def test_clean_photo_is_left_unchanged(flower: np.ndarray) -> None:
    result, mask = remove_text(flower, PROMPT)
    assert not mask.any()
    assert np.array_equal(result, flower)
