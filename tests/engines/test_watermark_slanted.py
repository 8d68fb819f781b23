"""Slanted marks and logo emblems (remove_watermark): a 45° semi-transparent mark is found on rotated
copies (upright, only the saturation image reads it whole) and removed; lines found at a slant replace the
upright pieces of them; photos without marks stay untouched; a logo's ring next to its text is
un-blended only where its strokes imply the text's own opacity. Cases from bench/watermark_cases.py."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from watermark_cases import WHITE, blend, footprint, held_out_photo, logo_coverage, psnr_in, single_coverage

from easel.engines.text import TextRegion, detect_text, remove_text
from easel.engines.text.blend import invert
from easel.engines.text.emblem import emblem_blend
from easel.engines.text.local import region_blend
from easel.engines.text.rotated import merged, rotated_regions

PROMPT = "去除水印"


def smooth_ground(h: int, w: int) -> np.ndarray:
    """A colour gradient with sensor-like noise: smooth ground everywhere."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ground = np.stack([40 + 60 * xx / w, 70 + 50 * yy / h, 110 - 30 * xx / w], axis=-1)
    noisy = ground + np.random.default_rng(0).normal(0, 1.5, ground.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def covered(regions: list[TextRegion], where: np.ndarray) -> float:
    inside = np.zeros(where.shape, np.uint8)
    for region in regions:
        cv2.fillPoly(inside, [np.round(region.polygon).astype(np.int32)], 1)
    return float(inside[where].mean())


def test_rotated_copies_find_a_diagonal_line_in_photo_coordinates() -> None:
    clean = smooth_ground(320, 480)
    marked = blend(clean, single_coverage(clean.shape[:2], "SAMPLE 样图", 40, 45), 0.45, WHITE)
    found = rotated_regions(marked, (45.0,))
    assert "SAMPLE" in "".join(r.text for r in found)
    assert covered(found, footprint(marked, clean)) > 0.8


def test_slanted_line_replaces_the_upright_piece_of_it() -> None:
    square = np.float32([[100, 100], [130, 100], [130, 130], [100, 130]])
    piece = TextRegion(square, "图", 0.99, "chinese")
    other = TextRegion(square + 200, "PHOTO", 0.9, "latin")
    diagonal = TextRegion(np.float32([[60, 170], [170, 60], [200, 90], [90, 200]]), "样图", 0.9, "chinese", True)
    kept = merged([piece, other], [diagonal])
    assert piece not in kept and diagonal in kept and other in kept
    # A slanted reading with fewer characters than the upright line it overlaps is dropped.
    assert merged([TextRegion(diagonal.polygon, "SAMPLE样图", 0.9, "latin")], [diagonal])[0].text == "SAMPLE样图"


def test_diagonal_mark_is_read_on_turned_copies_and_removed() -> None:
    clean = held_out_photo("flower")
    marked = blend(clean, single_coverage(clean.shape[:2], "SAMPLE 样图", 48, 45), 0.45, WHITE)
    foot = footprint(marked, clean)
    # Upright, only the saturation image shows this line whole (the grey one gave "图" alone); the
    # turned copies read it on their own.
    assert "SAMPLE" in "".join(r.text for r in rotated_regions(marked))
    easel, mask = remove_text(marked, PROMPT)
    assert (mask > 0)[foot].mean() > 0.6
    assert psnr_in(easel, clean, foot) > psnr_in(marked, clean, foot) + 1
    assert np.array_equal(easel[mask == 0], marked[mask == 0])


@pytest.mark.parametrize("name", ["brick", "grass"])
def test_textured_photo_without_mark_is_untouched(name: str) -> None:
    from skimage import data

    image = getattr(data, name)()
    rgb = np.ascontiguousarray(np.stack([image] * 3, axis=-1) if image.ndim == 2 else image)
    result, mask = remove_text(rgb, PROMPT)
    assert not mask.any()
    assert np.array_equal(result, rgb)


def test_logo_ring_implying_the_text_opacity_is_unblended() -> None:
    clean = smooth_ground(320, 480)
    coverage = logo_coverage(clean.shape[:2], "PIXSTOCK", 32)
    marked = blend(clean, coverage, 0.45, WHITE)
    line = next(r for r in detect_text(marked, sensitive=True) if "STO" in r.text)
    text_blend = region_blend(marked, line.polygon)
    assert text_blend is not None
    emblem = emblem_blend(marked, line.polygon, text_blend)
    assert emblem is not None
    support = emblem.support
    strokes = emblem.alpha > 0.1  # the 1-px rim holds noise-level α on the ground beside the strokes
    assert coverage[strokes].min() > 0  # only the mark's own strokes, nothing of the ground
    assert strokes.sum() > 300  # a good part of the ring's lower arc, not a few pixels
    recovered, _ = invert(marked, emblem)
    assert psnr_in(recovered, clean, support) > 30
