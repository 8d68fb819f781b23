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


# --- held-out flaws (issue 13): fades, copied objects, the scale note ------------------------------


def _banner() -> np.ndarray:
    """A 4:1 banner: sky over grass, fine grain everywhere, nothing near black or white."""
    rng = np.random.default_rng(0)
    h, w = 80, 320
    image = np.zeros((h, w, 3), np.float32)
    image[: h // 2] = (120, 160, 210)
    image[h // 2 :] = (70, 120, 60)
    image += cv2.GaussianBlur(rng.normal(0, 14, (h, w, 3)).astype(np.float32), (0, 0), 0.8)
    return np.clip(image, 0, 255).astype(np.uint8)


def _near(image: np.ndarray, colour: tuple[int, int, int], within: int = 60) -> np.ndarray:
    return np.abs(image.astype(np.int32) - np.array(colour)).sum(axis=2) < within


def test_a_banner_doubled_sideways_keeps_its_colours_out_to_the_canvas_edge() -> None:
    banner = _banner()
    out = expand(banner, 1.0, 1.0, 2.0, 2.0)
    low = np.percentile(banner.reshape(-1, 3), 5, axis=0)
    high = np.percentile(banner.reshape(-1, 3), 95, axis=0)
    for outer in (out[:, :64], out[:, -64:]):  # the outer fifth of each new side
        mean = outer.reshape(-1, 3).mean(axis=0)
        assert np.all(mean >= low) and np.all(mean <= high), mean  # no fade to black or white
        # and it continues what it touches: sky stays above, grass below
        sky, grass = outer[:40].reshape(-1, 3).mean(axis=0), outer[40:].reshape(-1, 3).mean(axis=0)
        assert sky[2] > sky[1] + 20 and grass[1] > grass[2] + 20, (sky, grass)


def test_a_name_tag_at_the_edge_is_not_copied_into_the_border() -> None:
    banner = _banner()
    cv2.rectangle(banner, (4, 20), (83, 51), (245, 245, 240), -1)
    cv2.rectangle(banner, (4, 20), (83, 51), (200, 30, 30), 2)
    cv2.putText(banner, "NAME", (12, 43), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20, 20, 20), 2)
    out = expand(banner, 1.0, 1.0, 2.0, 1.0)
    border = out[:, :320]
    tag_colours = _near(border, (245, 245, 240)) | _near(border, (200, 30, 30)) | _near(border, (20, 20, 20))
    assert float(tag_colours.mean()) < 0.005
    # No ghost either: the border beside the tag is no busier than beside the sky or the grass (a
    # copied tag's letters and outline add detail there).
    grey = cv2.cvtColor(border, cv2.COLOR_RGB2GRAY).astype(np.float32)
    detail = np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 2))[:, 160:]
    beside_tag, elsewhere = detail[20:52].mean(), np.concatenate([detail[:16], detail[60:]]).mean()
    assert beside_tag < 1.5 * elsewhere, (beside_tag, elsewhere)


def test_a_flower_cut_by_the_frame_is_not_smeared_or_mirrored_into_the_border() -> None:
    rng = np.random.default_rng(1)
    field = np.full((160, 200, 3), (50, 100, 55), np.float32)
    field += cv2.GaussianBlur(rng.normal(0, 10, field.shape).astype(np.float32), (0, 0), 1.0)
    photo = np.clip(field, 0, 255).astype(np.uint8)
    cv2.circle(photo, (100, 150), 30, (240, 150, 70), -1)  # an orange flower at the bottom edge
    out = expand(photo, 1.0, 1.5, 1.0, 1.0)
    border = out[160:]
    assert float(_near(border, (240, 150, 70), 90).mean()) < 0.01
    # and the border is the field's green, with grain
    assert border[..., 1].mean() > border[..., 0].mean() + 30
    detail = border.astype(np.float32) - cv2.GaussianBlur(border, (0, 0), 2).astype(np.float32)
    assert float(np.abs(detail).mean()) > 1.0


def test_expanding_beyond_the_credible_scale_says_so() -> None:
    from PIL import Image

    from easel.engines.base import EngineRequest, EngineTask, NullContext
    from easel.engines.config import BackendConfig
    from easel.engines.outpaint.backend import ClassicalOutpaintBackend

    backend = ClassicalOutpaintBackend(BackendConfig(backend="classical-outpaint"))
    image = Image.fromarray(_banner())
    notes: list[list[str]] = []
    for scales in ((1.0, 1.0, 2.0, 2.0), (1.5, 1.5, 1.25, 1.25)):
        ctx = NullContext()
        request = EngineRequest(image=image, params={"scales": scales}, n=1, seed=0)
        [result] = backend.run(EngineTask.OUTPAINT, request, ctx)
        assert result.size == (round(320 * (scales[2] + scales[3] - 1)), round(80 * (scales[0] + scales[1] - 1)))
        notes.append(ctx.notes)
    assert len(notes[0]) == 1 and "left, right" in notes[0][0] and "engines.toml" in notes[0][0]
    assert notes[1] == []
    assert "1.5x" in backend.describe()
