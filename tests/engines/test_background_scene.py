"""The generative path of wanx-background-generation below the server: the canvas, mask and line map the fill
engine gets (easel/engines/compose/scene.py), how each seed 003 parameter becomes part of the engine request,
and how the subject is put back."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from easel.catalog.background_generation import DEFAULT_NEGATIVE, SCENE_PHRASES, WanxBackgroundGeneration
from easel.engines.base import EngineRequest, EngineTask, NullContext
from easel.engines.compose import scene
from easel.engines.diffusion.common import FEATHER, composite_masked

SIZE = (160, 128)  # (width, height)


def soft_subject() -> np.ndarray:
    """An RGBA disc (centre 80,70, radius 40) in smooth colours (no inner edges) with a soft matte edge."""
    ys, xs = np.mgrid[0:SIZE[1], 0:SIZE[0]]
    rgb = np.dstack([60 + xs, 200 - ys, 90 + (xs + ys) // 3]).astype(np.uint8)
    alpha = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    cv2.circle(alpha, (80, 70), 40, 255, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 2.0)
    alpha[alpha > 250] = 255
    return np.dstack([rgb, alpha])


def element(box: tuple[int, int, int, int], size: tuple[int, int] = SIZE) -> np.ndarray:
    """An RGBA soft-edge element: a white outline on black inside its own alpha, transparent elsewhere."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle(box, fill=(0, 0, 0, 255), outline=(255, 255, 255, 255), width=2)
    return np.asarray(image)


def test_mask_covers_everything_but_the_opaque_subject_grown_by_the_seam() -> None:
    subject = soft_subject()
    alpha = subject[..., 3]
    mask = scene.scene_mask(alpha, None, FEATHER)
    assert mask[alpha < 255].all(), "every transparent or soft pixel is repainted"
    distance = cv2.distanceTransform((alpha == 255).astype(np.uint8), cv2.DIST_L2, 5)
    assert not mask[distance > FEATHER + 1].any(), "the subject's interior is never repainted"
    assert mask[(alpha == 255) & (distance <= FEATHER - 1)].all(), "the seam lies on the subject's rim"


def test_engine_seam_is_hidden_under_the_subject() -> None:
    """Through the fill engines' own composite, pixels outside the opaque subject are purely generated."""
    subject = soft_subject()
    canvas = scene.paste_subject(np.full((SIZE[1], SIZE[0], 3), 128, np.uint8), subject)
    generated = Image.new("RGB", SIZE, (10, 200, 30))
    mask = scene.scene_mask(subject[..., 3], None, FEATHER)
    out = np.asarray(composite_masked(Image.fromarray(canvas), generated, mask, feather=FEATHER))
    outside = subject[..., 3] < 255
    assert (out[outside] == (10, 200, 30)).all()


def test_foreground_elements_are_masked_over_the_subject() -> None:
    subject = soft_subject()
    front = scene.front_alpha([element((70, 60, 100, 90))])
    assert front is not None
    mask = scene.scene_mask(subject[..., 3], front, FEATHER)
    assert mask[60:91, 70:101].all()
    assert not mask[70, 60], "the rest of the subject stays"


def test_paste_subject_is_a_plain_alpha_composite() -> None:
    subject = soft_subject()
    backdrop = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
    canvas = scene.paste_subject(backdrop, subject)
    opaque, clear = subject[..., 3] == 255, subject[..., 3] == 0
    assert np.array_equal(canvas[opaque], subject[..., :3][opaque])
    assert (canvas[clear] == 90).all()


def two_tone_subject() -> np.ndarray:
    """soft_subject's disc in two flat colours, left and right of x = 80: one inner edge."""
    subject = soft_subject()
    subject[..., :3] = (200, 180, 160)
    subject[:, 80:, :3] = (40, 60, 90)
    return subject


def test_line_map_layers_background_subject_foreground() -> None:
    subject = two_tone_subject()
    behind = element((10, 68, 150, 72))  # a bar across the subject, behind it
    lower = element((5, 5, 60, 60))
    upper = element((30, 30, 70, 70))  # hides part of `lower`
    front = element((90, 80, 130, 120))  # over the subject's lower right
    lines = scene.line_map(subject, [lower, upper, behind], [front])[..., 0]
    assert lines.shape == (SIZE[1], SIZE[0])
    assert lines[68, 12:30].min() == 255, "a background element's line beside the subject"
    assert lines[68, 50:75].max() == 0 and lines[68, 86:110].max() == 0, "the subject hides what lies behind it"
    assert lines[59, 8:28].min() == 255 and lines[59, 33:40].max() == 0, "the upper element hides the lower one"
    assert lines[30, 32:68].min() == 255, "the upper element's own line"
    assert lines[80, 92:115].min() == 255, "a foreground element's line over the subject"
    assert lines[115:, :60].max() == 0, "black where no line is"
    solid = subject[..., 3] >= 128
    ring = solid & (cv2.erode(solid.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0)
    ring[80:121, 90:131] = False  # under the foreground element
    assert lines[ring].min() == 255, "the subject's outline"
    assert lines[40:60, 76:84].max() > 128, "the subject's inner edge"
    inner = solid & ~ring
    inner[80:121, 90:131] = False
    inner[:, 74:86] = False
    assert lines[inner].max() == 0, "no lines where the subject is flat"


def test_fit_element_resizes_to_the_subject() -> None:
    small = element((10, 10, 60, 50), (80, 64))
    fitted = scene.fit_element(small, SIZE)
    assert fitted.shape == (SIZE[1], SIZE[0], 4)
    assert fitted[..., 3][20:100, 20:120].mean() > 200


def test_finish_keeps_the_subject_and_shows_foreground_elements() -> None:
    subject = soft_subject()
    rng = np.random.default_rng(5)
    generated = rng.integers(0, 255, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
    front = scene.front_alpha([element((100, 60, 130, 90))])
    out = scene.finish(generated, subject, front, seed=3)
    kept = (subject[..., 3] == 255) & (front == 0)
    assert_affine_per_channel(subject[..., :3][kept], out[kept])
    assert np.array_equal(out[62:88, 102:128], generated[62:88, 102:128]), "foreground element in front"


def assert_affine_per_channel(source: np.ndarray, result: np.ndarray) -> None:
    """result == round(source * gain + offset) per channel: the subject harmonised, not regenerated."""
    for channel in range(3):
        x, y = source[:, channel].astype(np.float64), result[:, channel].astype(np.float64)
        gain, offset = np.polyfit(x, y, 1)
        assert 0.8 < gain < 1.2
        assert np.abs(np.clip(x * gain + offset, 0, 255) - y).max() <= 1.5


# --- the catalog's engine request ---------------------------------------------------------------------------


class Recorder(NullContext):
    """A RunContext whose engine records the request and answers n seeded noise pictures."""

    def __init__(self, images: dict[str, Image.Image]) -> None:
        super().__init__()
        self.images = images
        self.requests: list[tuple[EngineTask, EngineRequest]] = []
        self.saved: list[np.ndarray] = []

    def load_image(self, url: str, limits: Any, what: str) -> Image.Image:
        return self.images[url]

    def save_image(self, image: Any, index: int, fmt: str = "PNG") -> dict[str, Any]:
        self.saved.append(np.asarray(image))
        return {"blob": str(index)}

    def run_engine(self, task: EngineTask, request: EngineRequest) -> list[Image.Image]:
        self.requests.append((task, request))
        size = request.image.size
        return [Image.fromarray(np.random.default_rng(request.seed + i).integers(0, 255, (size[1], size[0], 3),
                                                                                 dtype=np.uint8))
                for i in range(request.n)]


def run(inp: dict[str, Any], params: dict[str, Any], images: dict[str, Image.Image]) -> tuple[EngineRequest,
                                                                                              Any, Recorder]:
    model = WanxBackgroundGeneration()
    valid = model.validate({"input": {"base_image_url": "u:subject", **inp}, "parameters": params})
    ctx = Recorder({"u:subject": Image.fromarray(soft_subject(), "RGBA"), **images})
    outcome = model.run(valid.request, ctx)
    (task, request), = ctx.requests
    assert task == EngineTask.BACKGROUND_SCENE
    return request, outcome, ctx


def test_scene_prompt_request() -> None:
    request, outcome, _ = run({"ref_prompt": "山脉和晚霞", "neg_ref_prompt": "人物"},
                              {"n": 3, "seed": 40, "scene_type": "ROOM", "model_version": "v3"}, {})
    assert request.n == 3 and request.seed == 40
    assert request.prompt.startswith("山脉和晚霞") and SCENE_PHRASES["ROOM"] in request.prompt
    assert request.negative_prompt == "人物"
    assert request.strength is None, "no reference: generated from noise at the engine's strength"
    assert request.params == {"steps_scale": 1.5}, "v3: more steps; no line map, no prompt weight"
    subject = soft_subject()
    canvas = np.asarray(request.image)
    opaque = subject[..., 3] == 255
    assert np.array_equal(canvas[opaque], subject[..., :3][opaque])
    assert request.mask is not None and request.mask.shape == opaque.shape
    assert request.mask[~opaque].all()
    assert any("noise_level has no effect" in note for note in outcome.extra_output["notes"])


def test_defaults_use_the_builtin_negative_and_configured_steps() -> None:
    request, _, _ = run({"ref_prompt": "a beach at sunset"}, {}, {})
    assert request.negative_prompt == DEFAULT_NEGATIVE
    assert "steps_scale" not in request.params, "v2 (the default): the engine's configured steps"
    assert SCENE_PHRASES["GENERAL"] in request.prompt


@pytest.mark.parametrize(("noise_level", "strength"), [(0, 0.1), (300, 0.37), (999, 1.0)])
def test_reference_is_the_start_and_noise_level_its_strength(noise_level: int, strength: float) -> None:
    reference = Image.fromarray(np.full((300, 400, 3), (200, 30, 30), np.uint8))
    request, outcome, _ = run({"ref_prompt": "山脉", "ref_image_url": "u:ref"},
                              {"noise_level": noise_level, "ref_prompt_weight": 0.2}, {"u:ref": reference})
    assert request.strength == pytest.approx(strength, abs=0.005)
    assert request.params["prompt_weight"] == 0.2
    canvas = np.asarray(request.image)
    assert (canvas[0, 0] == (200, 30, 30)).all(), "the fitted reference around the subject"
    assert any(f"strength {request.strength:g}" in note for note in outcome.extra_output["notes"])


def test_long_prompts_are_clipped_at_70_words() -> None:
    request, outcome, _ = run({"ref_prompt": " ".join(f"w{i}" for i in range(90))}, {}, {})
    assert "w69" in request.prompt and "w70" not in request.prompt
    assert any("70 words" in note for note in outcome.extra_output["notes"])


def test_reference_edge_becomes_the_control_map() -> None:
    half = Image.fromarray(element((5, 5, 40, 30), (80, 64)), "RGBA")  # another size: resized
    request, _, ctx = run(
        {"ref_prompt": "山脉", "reference_edge": {"foreground_edge": ["u:fg"], "foreground_edge_prompt": ["粉色桃花"],
                                                 "background_edge": ["u:bg"], "background_edge_prompt": ["树叶"]}},
        {"seed": 2}, {"u:fg": half, "u:bg": Image.fromarray(element((0, 0, 150, 20)), "RGBA")})
    control = request.params["control"]
    assert isinstance(control, Image.Image) and control.size == SIZE and control.mode == "RGB"
    assert "粉色桃花" in request.prompt and "树叶" in request.prompt
    assert request.mask is not None and request.mask[10:60, 10:80].all(), "the foreground element's area"
    assert len(ctx.saved) == 1


def test_edge_maps_must_be_rgba() -> None:
    from easel.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="foreground_edge\\[0\\]"):
        run({"ref_prompt": "山脉", "reference_edge": {"foreground_edge": ["u:fg"]}}, {},
            {"u:fg": Image.new("RGB", SIZE)})


# --- the two request params the generative path adds (easel/engines/diffusion/common.py) ----------------------


@pytest.fixture(scope="module")
def tiny_sdxl(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from easel.engines.config import BackendConfig
    from easel.engines.registry import backend_class
    from tests.engines.diffusion import tiny_models

    weights = tiny_models.build("sdxl-inpaint", tmp_path_factory.mktemp("tiny-sdxl-background"))
    backend = backend_class("sdxl-inpaint")(BackendConfig(backend="sdxl-inpaint", weights=str(weights),
                                                          max_area=4096, steps=4))
    backend.load()
    return backend


@pytest.mark.parametrize(("params", "steps", "guidance"), [
    ({}, 4, 7.5),
    ({"steps_scale": 1.5}, 6, 7.5),  # model_version v3
    ({"prompt_weight": 0.0}, 4, 1.0),  # ref_prompt_weight 0: no classifier-free pull
    ({"prompt_weight": 0.5}, 4, 7.5),
    ({"prompt_weight": 1.0}, 4, 14.0),
])
def test_steps_scale_and_prompt_weight(tiny_sdxl: Any, params: dict[str, float], steps: int, guidance: float) -> None:
    image = Image.new("RGB", SIZE)
    request = EngineRequest(image=image, mask=np.ones((SIZE[1], SIZE[0]), bool), params=params)
    job = tiny_sdxl._job(EngineTask.BACKGROUND_SCENE, request, NullContext())
    assert (job.steps, job.guidance) == (steps, pytest.approx(guidance))
