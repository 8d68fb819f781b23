"""Background engines: prompt reading, studio backdrops, reference fitting, subject compositing.

The test subject is skimage's coffee photo cut out with a hand-made mask (saucer ellipse, cup-rim
ellipse and a spoon-handle polygon, feathered by a 1-px Gaussian), standing on a transparent canvas.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from skimage import data

from easel.engines.compose import (
    composite_subject,
    fit_reference,
    needs_generative,
    parse_backdrop_prompt,
    studio_backdrop,
    subject_geometry,
    variation_from_noise_level,
)
from easel.engines.compose.colour import contrast_ratio, relative_luminance

SIZE = 256


def coffee_subject(size: int = SIZE, hard: bool = False) -> np.ndarray:
    photo = data.coffee()
    mask = np.zeros(photo.shape[:2], np.uint8)
    cv2.ellipse(mask, (278, 232), (201, 153), -4, 0, 360, 255, -1)
    cv2.ellipse(mask, (290, 112), (118, 95), 0, 0, 360, 255, -1)
    cv2.fillPoly(mask, [np.array([[398, 75], [412, 66], [424, 72], [404, 150], [388, 140]])], 255)
    if not hard:
        mask = cv2.GaussianBlur(mask, (0, 0), 1.0)
    ys, xs = np.nonzero(mask)
    crop = np.dstack([photo, mask])[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    scale = 0.55 * size / crop.shape[1]
    interpolation = cv2.INTER_NEAREST if hard else cv2.INTER_AREA
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=interpolation)
    canvas = np.zeros((size, size, 4), np.uint8)
    height, width = crop.shape[:2]
    top, left = int(size * 0.9) - height, (size - width) // 2
    canvas[top:top + height, left:left + width] = crop
    return canvas


@pytest.fixture(scope="module")
def subject() -> np.ndarray:
    return coffee_subject()


def backdrop(prompt: str, subject: np.ndarray, seed: int = 0, variation: float = 0.0) -> np.ndarray:
    spec = parse_backdrop_prompt(prompt)
    assert spec is not None
    return studio_backdrop((SIZE, SIZE), spec, seed=seed, variation=variation, subject_alpha=subject[..., 3])


# --- prompts -------------------------------------------------------------------------------------

def test_pure_white_prompt_is_solid_white() -> None:
    spec = parse_backdrop_prompt("纯白背景")
    assert spec is not None and spec.kind == "solid" and spec.colours == ((255, 255, 255),)


def test_blue_gradient_prompt() -> None:
    spec = parse_backdrop_prompt("渐变蓝色背景")
    assert spec is not None and spec.kind == "gradient"
    r, g, b = spec.colours[0]
    assert b > r + 60 and b > g + 40


def test_studio_gray_prompt() -> None:
    spec = parse_backdrop_prompt("studio gray")
    assert spec is not None and spec.kind == "studio"
    r, g, b = spec.colours[0]
    assert max(r, g, b) - min(r, g, b) <= 4 and 100 < r < 220


def test_pink_solid_prompt() -> None:
    spec = parse_backdrop_prompt("粉色纯色背景")
    assert spec is not None and spec.kind == "solid"
    r, g, b = spec.colours[0]
    assert r > 220 and r > b > g


def test_two_colour_gradient_keeps_prompt_order_and_modifiers() -> None:
    spec = parse_backdrop_prompt("light blue and white gradient")
    assert spec is not None and spec.kind == "gradient" and len(spec.colours) == 2
    light_blue, white = spec.colours
    assert white == (255, 255, 255) and light_blue[2] > light_blue[0]
    assert relative_luminance(light_blue) > relative_luminance(parse_backdrop_prompt("blue").colours[0])


@pytest.mark.parametrize(("prompt", "words"), [
    ("山脉和晚霞", ["山脉", "晚霞"]),
    ("a beach at sunset", ["beach", "sunset"]),
    ("在沙漠的地面上,远处有植物和落日,丰富的细节,柔和的光线", ["沙漠", "落日"]),
])
def test_scene_prompts_need_a_generative_engine(prompt: str, words: list[str]) -> None:
    assert parse_backdrop_prompt(prompt) is None
    reason = needs_generative(prompt)
    assert reason is not None and all(word in reason for word in words)


@pytest.mark.parametrize("prompt", ["纯白背景", "渐变蓝色背景", "studio gray", "粉色纯色背景", "", "高清, 柔和的光线"])
def test_backdrop_prompts_need_no_generative_engine(prompt: str) -> None:
    assert needs_generative(prompt) is None


def test_reference_edge_always_needs_a_generative_engine() -> None:
    reason = needs_generative("纯白背景", has_reference_edge=True)
    assert reason is not None and "reference_edge" in reason


# --- backdrops ------------------------------------------------------------------------------------

def test_solid_backdrop_is_exactly_the_colour(subject: np.ndarray) -> None:
    image = backdrop("粉色纯色背景", subject, seed=3, variation=1.0)
    assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
    assert (image == parse_backdrop_prompt("粉色纯色背景").colours[0]).all()


def test_studio_sweep_is_lit_behind_the_subject(subject: np.ndarray) -> None:
    image = backdrop("studio gray", subject).astype(float).mean(axis=2)
    geometry = subject_geometry(subject[..., 3])
    behind = image[geometry.top - 10, int(geometry.centre_x)]
    assert behind > image[0, 0] + 8 and behind > image[0, -1] + 8


def test_gradient_runs_from_a_pale_tint_to_the_colour(subject: np.ndarray) -> None:
    image = backdrop("渐变蓝色背景", subject).astype(float)
    top, bottom = image[:8].mean(axis=(0, 1)), image[-8:].mean(axis=(0, 1))
    assert top.mean() > bottom.mean() + 30
    assert bottom[2] > bottom[0] + 60


# --- reference ------------------------------------------------------------------------------------

def test_reference_is_cover_fitted() -> None:
    out = fit_reference(data.rocket(), (200, 300))
    assert out.shape == (300, 200, 3)
    # Cover-fit of a landscape picture into a portrait frame keeps the centre column (the rocket).
    centre = cv2.resize(data.rocket(), (450, 300), interpolation=cv2.INTER_AREA)[:, 125:325]
    assert np.abs(out.astype(int) - centre.astype(int)).mean() < 6


def test_reference_transparent_parts_are_filled() -> None:
    photo = cv2.resize(data.chelsea(), (160, 106), interpolation=cv2.INTER_AREA)
    alpha = np.full(photo.shape[:2], 255, np.uint8)
    photo = photo.copy()
    photo[30:70, 60:100] = (255, 0, 255)  # an object to leave out
    alpha[30:70, 60:100] = 0
    out = fit_reference(np.dstack([photo, alpha]), (160, 106))
    hole = out[30:70, 60:100].astype(int)
    magenta = (hole[..., 0] > 200) & (hole[..., 1] < 60) & (hole[..., 2] > 200)
    assert magenta.mean() == 0.0
    surround = np.concatenate([photo[20:30, 60:100].reshape(-1, 3), photo[70:80, 60:100].reshape(-1, 3)])
    assert np.abs(hole.reshape(-1, 3).mean(axis=0) - surround.mean(axis=0)).max() < 40
    assert (out[:, :50] == photo[:, :50]).all()  # far from the hole nothing changes


# --- compositing ----------------------------------------------------------------------------------

@pytest.mark.parametrize("prompt", ["纯白背景", "studio gray", "渐变蓝色背景", "粉色纯色背景"])
def test_opaque_subject_pixels_change_only_by_the_reported_harmonisation(subject: np.ndarray, prompt: str) -> None:
    result = composite_subject(backdrop(prompt, subject, 5, 0.8), subject, seed=5, variation=0.8)
    solid = subject[..., 3] == 255
    expected = result.harmonization.apply_uint8(subject[..., :3][solid])
    assert result.image.shape == (SIZE, SIZE, 3) and result.image.dtype == np.uint8
    assert np.array_equal(result.image[solid], expected)
    assert all(0.85 <= g <= 1.15 for g in result.harmonization.gain)
    assert all(abs(o) <= 12 * 0.3 + 1e-3 for o in result.harmonization.offset)
    # The harmonisation is light: inverting it recovers the subject to within rounding.
    recovered = result.harmonization.invert(result.image[solid])
    assert np.abs(recovered - subject[..., :3][solid]).mean() < 1.0


def test_no_harmonisation_keeps_opaque_subject_pixels_exactly(subject: np.ndarray) -> None:
    result = composite_subject(backdrop("studio beige", subject), subject, harmonize=0.0, variation=0.9, seed=2)
    solid = subject[..., 3] == 255
    assert result.harmonization.gain == (1.0, 1.0, 1.0) and result.harmonization.offset == (0.0, 0.0, 0.0)
    assert np.array_equal(result.image[solid], subject[..., :3][solid])


def test_harmonisation_leans_towards_the_backdrop_colour(subject: np.ndarray) -> None:
    pink = composite_subject(backdrop("粉色纯色背景", subject), subject).harmonization.gain
    blue = composite_subject(backdrop("渐变蓝色背景", subject), subject).harmonization.gain
    assert pink[0] > pink[1] and blue[2] > blue[0]


def test_variations_are_distinct_and_reproducible(subject: np.ndarray) -> None:
    outputs = [composite_subject(backdrop("studio gray", subject, s, 0.5), subject, seed=s, variation=0.5).image
               for s in range(4)]
    for a, b in itertools.combinations(outputs, 2):
        assert np.abs(a.astype(int) - b.astype(int)).mean() > 0.5
    again = composite_subject(backdrop("studio gray", subject, 2, 0.5), subject, seed=2, variation=0.5).image
    assert np.array_equal(again, outputs[2])


def test_spread_grows_with_variation(subject: np.ndarray) -> None:
    def spread(variation: float) -> float:
        images = [composite_subject(backdrop("studio beige", subject, s, variation), subject, seed=s,
                                    variation=variation).image.astype(float) for s in range(4)]
        return float(np.mean([np.abs(a - b).mean() for a, b in itertools.combinations(images, 2)]))

    low, high = spread(0.15), spread(0.9)
    assert high > 2 * low > 0


def test_zero_variation_ignores_the_seed(subject: np.ndarray) -> None:
    first = composite_subject(backdrop("studio gray", subject, 1), subject, seed=1).image
    second = composite_subject(backdrop("studio gray", subject, 7), subject, seed=7).image
    assert np.array_equal(first, second)


def test_noise_level_maps_into_unit_range() -> None:
    assert variation_from_noise_level(0) > 0
    assert variation_from_noise_level(0) < variation_from_noise_level(300) < variation_from_noise_level(999) == 1.0


def test_contact_and_cast_shadows_on_pure_white(subject: np.ndarray) -> None:
    result = composite_subject(backdrop("纯白背景", subject), subject)
    assert result.shadow_mode == "floor" and not result.background_graded
    geometry = subject_geometry(subject[..., 3])
    centre = int(geometry.centre_x)
    below = result.image[geometry.base_y + 1: geometry.base_y + 4, centre - 10: centre + 10]
    assert below.mean() < 235  # contact shadow right under the base
    assert (result.image[:20, :20] == 255).all()  # pure white away from the subject
    # The soft cast shadow falls beside the subject, to the side of the light (default: right).
    beside = result.image[geometry.base_y - geometry.height // 6: geometry.base_y, geometry.right: geometry.right + 20]
    assert beside.mean() < 250


def test_portrait_cut_by_the_frame_gets_a_wall_shadow() -> None:
    portrait = np.zeros((SIZE, SIZE, 4), np.uint8)
    cv2.ellipse(portrait, (128, 256), (70, 150), 0, 0, 360, (200, 120, 80, 255), -1)
    result = composite_subject(np.full((SIZE, SIZE, 3), 255, np.uint8), portrait)
    assert result.shadow_mode == "wall"
    assert result.image[150:250, 200:215].mean() < 252  # shadow on the wall beside the subject


def test_matte_aware_edge_removes_old_background_colour() -> None:
    # A red disc whose soft edge still holds the green it was photographed on.
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    distance = np.hypot(yy - 150, xx - 128)
    alpha = np.clip((70 - distance) / 6 + 0.5, 0, 1)
    rgb = alpha[..., None] * np.float32([210, 30, 30]) + (1 - alpha[..., None]) * np.float32([0, 200, 0])
    subject = np.dstack([rgb + 0.5, alpha * 255 + 0.5]).astype(np.uint8)
    white = np.full((SIZE, SIZE, 3), 255, np.uint8)
    result = composite_subject(white, subject, harmonize=0.0)
    edge = (subject[..., 3] > 20) & (subject[..., 3] < 235)
    a = subject[..., 3][edge, None] / 255.0
    naive = subject[..., :3][edge] * a + 255 * (1 - a)
    green_excess = lambda px: float((px[:, 1] - (px[:, 0] + px[:, 2]) / 2).mean())  # noqa: E731
    assert green_excess(result.image[edge].astype(float)) < green_excess(naive) - 20


def test_hard_matte_is_antialiased_outwards_only() -> None:
    subject = coffee_subject(hard=True)
    result = composite_subject(np.full((SIZE, SIZE, 3), 255, np.uint8), subject, harmonize=0.0)
    solid = subject[..., 3] == 255
    assert np.array_equal(result.alpha[solid], subject[..., 3][solid])
    new = (subject[..., 3] == 0) & (result.alpha > 0)
    assert new.sum() > 50 and result.alpha[new].max() < 255


def test_size_mismatch_and_empty_subject_are_rejected(subject: np.ndarray) -> None:
    with pytest.raises(ValueError):
        composite_subject(np.zeros((10, 10, 3), np.uint8), subject)
    with pytest.raises(ValueError):
        composite_subject(np.zeros((SIZE, SIZE, 3), np.uint8), np.zeros((SIZE, SIZE, 4), np.uint8))


def test_shadow_keeps_backdrop_hue(subject: np.ndarray) -> None:
    image = composite_subject(backdrop("粉色纯色背景", subject), subject).image.astype(int)
    geometry = subject_geometry(subject[..., 3])
    shade = image[geometry.base_y + 1, int(geometry.centre_x)]
    assert shade[0] > shade[2] > shade[1]  # still pink, only darker
    assert contrast_ratio(relative_luminance(tuple(shade)), relative_luminance((246, 184, 196))) > 1.2
