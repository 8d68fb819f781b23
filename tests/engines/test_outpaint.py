"""Outpainting (wanx2.1-imageedit expand): canvas size, exact embedding, a real fill (not flat, not a
mirror), a better guess than mirror padding on a real border, scale checks, determinism."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

import easel.engines.outpaint.border as border_module
from easel.engines.outpaint import border_sizes, expand


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return data.chelsea()[::2, ::2].copy()  # 150 x 226: real fur and background, fast


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    diff = a[where].astype(np.float64) - b[where]
    return float(10 * np.log10(255.0**2 / np.mean(diff**2)))


@pytest.mark.parametrize(
    ("scales", "size"),
    [
        ((1.0, 1.0, 1.0, 1.0), (150, 226)),
        ((1.5, 1.0, 1.0, 1.0), (225, 226)),  # top=1.5 grows the canvas upward by half the height
        ((1.25, 1.25, 1.25, 1.25), (225, 339)),
        ((2.0, 2.0, 2.0, 2.0), (450, 678)),
        ((1.0, 1.3, 1.7, 1.0), (195, 384)),
    ],
)
def test_canvas_size_follows_dashscope_scales(
    photo: np.ndarray, scales: tuple[float, ...], size: tuple[int, int]
) -> None:
    out = expand(photo, *scales)
    assert out.shape == (*size, 3)
    assert out.dtype == np.uint8


@pytest.mark.parametrize("scales", [(1.5, 1.0, 1.25, 1.0), (1.0, 2.0, 1.0, 1.6), (1.3, 1.3, 1.3, 1.3)])
def test_original_is_embedded_exactly_at_its_offset(photo: np.ndarray, scales: tuple[float, ...]) -> None:
    out = expand(photo, *scales, seed=3)
    top, _, left, _ = border_sizes(*photo.shape[:2], *scales)
    h, w = photo.shape[:2]
    assert np.array_equal(out[top : top + h, left : left + w], photo)


def test_border_is_textured_and_not_a_mirror(photo: np.ndarray) -> None:
    h, w = photo.shape[:2]
    out = expand(photo, 1.5, 1.5, 1.5, 1.5)
    pad_y, pad_x = h // 2, w // 2
    border = np.ones(out.shape[:2], bool)
    border[pad_y : pad_y + h, pad_x : pad_x + w] = False
    # Not flat: real texture, not a constant or a smooth ramp (local detail beyond a heavy blur).
    detail = out.astype(np.float32) - cv2.GaussianBlur(out, (0, 0), 4).astype(np.float32)
    assert float(np.abs(detail[border]).mean()) > 1.5
    # Not mirror padding, in either of OpenCV's two reflections, nor edge replication.
    for mode in (cv2.BORDER_REFLECT_101, cv2.BORDER_REFLECT, cv2.BORDER_REPLICATE):
        padded = cv2.copyMakeBorder(photo, pad_y, pad_y, pad_x, pad_x, mode)
        assert float(np.abs(out.astype(np.int16) - padded)[border].mean()) > 8


def test_border_continues_the_photo_better_than_mirror_padding() -> None:
    """Crop the centre of a photo, expand it back and compare the new border with the true one."""
    full = data.coffee()[::2, ::2]  # 200 x 300
    h, w = 134, 200
    pad_y, pad_x = (200 - h) // 2, (300 - w) // 2
    crop = full[pad_y : pad_y + h, pad_x : pad_x + w].copy()
    truth = full[: h + 2 * pad_y, : w + 2 * pad_x]
    scale_y, scale_x = 1 + pad_y / h, 1 + pad_x / w
    out = expand(crop, scale_y, scale_y, scale_x, scale_x)
    assert out.shape == truth.shape
    border = np.ones(truth.shape[:2], bool)
    border[pad_y : pad_y + h, pad_x : pad_x + w] = False
    mirror = cv2.copyMakeBorder(crop, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_REFLECT_101)
    assert psnr(out, truth, border) > psnr(mirror, truth, border) + 0.5


@pytest.mark.parametrize("bad", [0.9, 2.01, -1.0])
def test_scales_outside_one_to_two_are_rejected(photo: np.ndarray, bad: float) -> None:
    with pytest.raises(ValueError, match="scale"):
        expand(photo, top=bad)


def test_same_seed_same_result_other_seed_other_texture(photo: np.ndarray) -> None:
    a = expand(photo, 1.4, 1.0, 1.4, 1.0, seed=1)
    b = expand(photo, 1.4, 1.0, 1.4, 1.0, seed=1)
    c = expand(photo, 1.4, 1.0, 1.4, 1.0, seed=2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_large_canvases_are_filled_at_reduced_scale_and_keep_the_photo(
    photo: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(border_module, "MAX_WORK_SIDE", 200)
    out = expand(photo, 1.5, 1.5, 1.5, 1.5)
    h, w = photo.shape[:2]
    assert out.shape == (2 * h, 2 * w, 3)
    assert np.array_equal(out[h // 2 : h // 2 + h, w // 2 : w // 2 + w], photo)
    assert float(out.std()) > 10
