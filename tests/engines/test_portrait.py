"""Portrait repaint engine: contract sizes and crops, face refusal, ten distinct face-keeping styles."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from skimage import data

from easel.engines.face import FaceBox, detect_faces
from easel.engines.portrait import STYLES, NoFaceError, framing, plan_frame, repaint, scene
from easel.engines.portrait.engine import render
from easel.engines.portrait.filters import resize

PREVIEW_SHORT_SIDE = 384  # styles are checked on small outputs to keep the file fast


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def previews(astronaut: np.ndarray) -> list[np.ndarray]:
    return [render(astronaut, index, short_side=PREVIEW_SHORT_SIDE) for index in range(len(STYLES))]


def _wide(astronaut: np.ndarray) -> np.ndarray:
    """2:1 picture: the astronaut on the right of a grey gradient, so the crop has to follow the face."""
    canvas = np.repeat(np.linspace(90, 200, 1024, dtype=np.uint8)[None, :, None], 512, axis=0).repeat(3, axis=2)
    canvas[:, 480:992] = astronaut
    return canvas


def test_style_listing_matches_the_contract() -> None:
    names = [
        "复古漫画",
        "3D童话",
        "二次元",
        "小清新",
        "未来科技",
        "国画古风",
        "将军百战",
        "炫彩卡通",
        "清雅国风",
        "喜迎新年",
    ]
    assert [s.index for s in STYLES] == list(range(10))
    assert [s.name_zh for s in STYLES] == names
    assert all(s.name_en and len(s.method) > 40 and len(s.approximation) > 40 for s in STYLES)


def test_styles_that_are_a_new_background_on_cpu_say_so_plainly() -> None:
    """Issue 13: on CPU, 3D童话 and 二次元 are the photo with a new background; the listing must say that."""
    for index in (1, 2):
        note = STYLES[index].approximation
        assert note.startswith("On CPU this is the photo itself on a new background"), note
        assert "portrait_style" in note


@pytest.mark.parametrize(
    ("size", "expected"),
    [((512, 768), (1536, 2304)), ((768, 512), (2304, 1536)), ((700, 700), (1536, 1536)), ((300, 450), (1536, 2304))],
)
def test_uncropped_outputs_keep_aspect_with_short_side_1536(size: tuple[int, int], expected: tuple[int, int]) -> None:
    plan = plan_frame(*size, None)
    assert not plan.cropped
    assert (plan.crop_width, plan.crop_height) == size
    assert (plan.out_width, plan.out_height) == expected


def test_wide_input_is_cropped_to_three_by_two_centred_on_the_face() -> None:
    face = FaceBox(left=1700, top=200, width=150, height=150, score=0.9)
    plan = plan_frame(2000, 500, face)
    assert plan.cropped
    assert (plan.crop_width, plan.crop_height) == (750, 500)
    assert (plan.out_width, plan.out_height) == (2304, 1536)
    # The face is near the right edge: the crop runs to that edge instead of staying in the middle.
    assert plan.crop_left == 1250
    face_mid = 1000 - 150 // 2
    plan_mid = plan_frame(2000, 500, FaceBox(face_mid, 200, 150, 150, 0.9))
    assert plan_mid.crop_left + plan_mid.crop_width / 2 == pytest.approx(1000, abs=1)


def test_tall_input_is_cropped_upright_with_the_face_inside() -> None:
    face = FaceBox(left=150, top=900, width=200, height=200, score=0.9)
    plan = plan_frame(500, 2000, face)
    assert plan.cropped
    assert (plan.crop_width, plan.crop_height, plan.out_width, plan.out_height) == (500, 750, 1536, 2304)
    assert plan.crop_top <= face.top and face.top + face.height <= plan.crop_top + plan.crop_height


def test_full_size_portrait_square_and_wide(astronaut: np.ndarray) -> None:
    portrait = resize(astronaut, 512, 768)
    assert repaint(portrait, 2).shape == (2304, 1536, 3)
    assert repaint(astronaut, 7).shape == (1536, 1536, 3)
    wide_out = repaint(_wide(astronaut), 9)
    assert wide_out.shape == (1536, 2304, 3)
    faces = detect_faces(wide_out)
    assert faces, "the face must survive the crop"


def test_wide_crop_follows_the_face(astronaut: np.ndarray) -> None:
    wide = _wide(astronaut)
    face = framing.find_clear_face(wide)
    plan = plan_frame(wide.shape[1], wide.shape[0], face)
    assert plan.crop_left + plan.crop_width == 1024  # pushed to the right edge, where the astronaut is
    assert plan.crop_left <= face.left and face.left + face.width <= plan.crop_left + plan.crop_width


def test_image_without_face_is_refused() -> None:
    with pytest.raises(NoFaceError) as refused:
        repaint(data.coffee(), 0)
    assert refused.value.code == "NoClearFace"
    assert refused.value.reason == "no_face"
    assert "face" in str(refused.value)


def test_tiny_face_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    tiny = [FaceBox(left=400, top=400, width=20, height=20, score=0.95)]
    monkeypatch.setattr(framing, "detect_faces", lambda rgb, min_score: tiny)
    with pytest.raises(NoFaceError) as refused:
        framing.find_clear_face(np.zeros((1000, 1000, 3), np.uint8))
    assert refused.value.reason == "face_too_small"


def test_bad_style_index_is_rejected(astronaut: np.ndarray) -> None:
    with pytest.raises(ValueError, match="style_index"):
        render(astronaut, 10, short_side=PREVIEW_SHORT_SIDE)


def test_every_style_changes_the_photo_clearly(astronaut: np.ndarray, previews: list[np.ndarray]) -> None:
    photo = resize(astronaut, PREVIEW_SHORT_SIDE, PREVIEW_SHORT_SIDE).astype(np.float32)
    for index, out in enumerate(previews):
        assert out.shape == (PREVIEW_SHORT_SIDE, PREVIEW_SHORT_SIDE, 3)
        assert np.abs(out - photo).mean() > 25, f"style {index} is too close to the photo"


def test_styles_differ_from_each_other(previews: list[np.ndarray]) -> None:
    for i, j in itertools.combinations(range(len(previews)), 2):
        diff = np.abs(previews[i].astype(np.float32) - previews[j]).mean()
        assert diff > 15, f"styles {i} and {j} look alike (mean difference {diff:.1f})"


def test_face_is_still_found_in_every_style(previews: list[np.ndarray]) -> None:
    for index, out in enumerate(previews):
        faces = detect_faces(out)
        assert faces, f"style {index} lost the face"
        face = faces[0]
        # Same place as in the photo (the astronaut's face is near x=0.44, y=0.23 of the frame).
        assert abs((face.left + face.width / 2) / out.shape[1] - 0.44) < 0.06
        assert abs((face.top + face.height / 2) / out.shape[0] - 0.23) < 0.06


def test_deterministic_per_seed(astronaut: np.ndarray) -> None:
    first = render(astronaut, 9, seed=3, short_side=256)
    again = render(astronaut, 9, seed=3, short_side=256)
    other = render(astronaut, 9, seed=4, short_side=256)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_safe_and_identical_across_threads(astronaut: np.ndarray) -> None:
    jobs = [(index, seed) for index in (1, 4, 6, 9) for seed in (0, 1)]
    alone = [render(astronaut, index, seed=seed, short_side=256) for index, seed in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda job: render(astronaut, job[0], seed=job[1], short_side=256), jobs))
    for job, one, other in zip(jobs, alone, together, strict=True):
        assert np.array_equal(one, other), f"style {job[0]} seed {job[1]} changed when run in threads"


def test_face_box_stands_in_when_the_mesh_misses(astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scene, "face_landmarks", lambda rgb: None)
    out = render(astronaut, 7, short_side=PREVIEW_SHORT_SIDE)
    assert detect_faces(out), "the box-shaped face region must still keep the face"


def test_face_is_kept_on_a_greyscale_profile_portrait() -> None:
    cameraman = data.camera()  # 2-D greyscale, face in three-quarter profile
    for index in range(len(STYLES)):
        out = render(cameraman, index, short_side=PREVIEW_SHORT_SIDE)
        assert out.shape == (PREVIEW_SHORT_SIDE, PREVIEW_SHORT_SIDE, 3)
        assert detect_faces(out), f"style {index} lost the cameraman's face"
