"""Line maps and the ControlNet backends (sdxl-controlnet plain and union, qwen-image-controlnet) on tiny
random-weight folders (tiny_controlnet), plus check()'s answers for every way the controlnet table goes wrong."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from easel.engines.base import EngineRequest, EngineTask, NullContext, TaskCanceled
from easel.engines.config import BackendConfig
from easel.engines.diffusion.controlnet import ControlNetBackend
from easel.engines.lines import extract_lines, sketch_lines
from easel.engines.registry import backend_class
from easel.errors import EngineUnavailable
from tests.conftest import photo as real_photo
from tests.engines.diffusion import tiny_controlnet

os.environ.setdefault("HF_HUB_OFFLINE", "1")

KINDS = list(tiny_controlnet.PAIRS)  # sdxl-controlnet, sdxl-controlnet-union, qwen-image-controlnet
AREA = 64 * 64


def backend_name(kind: str) -> str:
    return kind.removesuffix("-union")


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-controlnet")


def make(kind: str, root: Path, **overrides: Any) -> ControlNetBackend:
    base, controlnet = tiny_controlnet.PAIRS[kind]
    fields: dict[str, Any] = {"weights": str(tiny_controlnet.build(base, root)),
                              "controlnet": str(tiny_controlnet.build(controlnet, root)),
                              "max_area": AREA, "steps": 2, **overrides}
    backend = backend_class(backend_name(kind))(BackendConfig(backend=backend_name(kind), **fields))
    assert isinstance(backend, ControlNetBackend)
    return backend


_loaded: dict[str, ControlNetBackend] = {}


@pytest.fixture
def loaded(tiny_root: Path) -> Any:
    def get(kind: str) -> ControlNetBackend:
        if kind not in _loaded:
            _loaded[kind] = make(kind, tiny_root)
            _loaded[kind].load()
        return _loaded[kind]

    return get


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    return real_photo((160, 128), "coffee")


def drawing(size: tuple[int, int] = (160, 128), ink: str = "black", paper: str = "white") -> Image.Image:
    page = Image.new("RGB", size, paper)
    draw = ImageDraw.Draw(page)
    draw.ellipse((20, 20, 90, 100), outline=ink, width=3)
    draw.line((100, 10, 150, 110), fill=ink, width=3)
    return page


def sketch(request_fields: dict[str, Any], image: Image.Image, control: Image.Image) -> EngineRequest:
    return EngineRequest(image=image, prompt="a red house by a lake", params={"control": control}, **request_fields)


def diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).mean())


# --- line maps -----------------------------------------------------------------------------------------------


def test_a_photo_gives_white_lines_on_its_edges() -> None:
    image = real_photo((640, 512), "coffee")
    lines = extract_lines(image)
    assert lines.mode == "RGB" and lines.size == image.size
    pixels = np.asarray(lines)
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    drawn = pixels[..., 0] > 128
    assert 0.01 < drawn.mean() < 0.3, "lines, not an empty or a filled map"
    gray = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
    gradient = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    assert gradient[drawn].mean() > 2 * gradient[~drawn].mean(), "the lines sit on the photo's edges"


def test_extracted_lines_follow_a_shape_and_leave_flat_areas_black() -> None:
    image = Image.new("RGB", (512, 512), (200, 180, 160))
    ImageDraw.Draw(image).rectangle((128, 128, 384, 384), fill=(40, 60, 90))
    lines = np.asarray(extract_lines(image))[..., 0]
    assert lines[120:136, 200:300].max() == 255, "the rectangle's top edge is a solid line"
    assert lines[180:330, 180:330].max() == 0 and lines[:80, :80].max() == 0, "flat areas have no lines"
    assert np.asarray(extract_lines(Image.new("RGB", (512, 512), "gray"))).max() == 0


def test_a_dark_on_white_drawing_is_inverted() -> None:
    page = drawing()
    lines = np.asarray(sketch_lines(page))
    strokes = np.asarray(page.convert("L")) < 128
    assert lines.shape == (128, 160, 3)
    assert lines[..., 0][strokes].min() > 200 and lines[..., 0][~strokes].max() < 60
    assert (lines[..., 0][~strokes] == 0).mean() > 0.95, "the paper is black"


def test_a_white_on_black_drawing_is_kept_and_a_transparent_layer_counts_as_paper() -> None:
    light = drawing(ink="white", paper="black")
    kept = np.asarray(sketch_lines(light))
    assert np.array_equal(kept[..., 0] > 128, np.asarray(light.convert("L")) > 128)
    layer = Image.new("RGBA", (160, 128), (0, 0, 0, 0))
    ImageDraw.Draw(layer).ellipse((20, 20, 90, 100), outline=(0, 0, 0, 255), width=3)
    from_layer = np.asarray(sketch_lines(layer))[..., 0]
    strokes = np.asarray(layer.getchannel("A")) > 128
    assert from_layer[strokes].min() > 200 and from_layer[~strokes].max() < 60


# --- the backends --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_sketch_to_image_n_distinct_at_the_asked_size(kind: str, loaded: Any, picture: Image.Image) -> None:
    backend = loaded(kind)
    control = extract_lines(picture)
    images = backend.run(EngineTask.SKETCH_TO_IMAGE, sketch({"n": 2, "seed": 5}, picture, control), NullContext())
    assert [image.size for image in images] == [picture.size] * 2 and all(i.mode == "RGB" for i in images)
    assert diff(images[0], images[1]) > 1
    sized = backend.run(EngineTask.SKETCH_TO_IMAGE, sketch({"size": (96, 72)}, picture, control), NullContext())
    assert sized[0].size == (96, 72)


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_image_and_the_line_map_steers(kind: str, loaded: Any, picture: Image.Image) -> None:
    backend = loaded(kind)
    control = extract_lines(picture)
    pair = backend.run(EngineTask.SKETCH_TO_IMAGE, sketch({"n": 2, "seed": 11}, picture, control), NullContext())
    alone = backend.run(EngineTask.SKETCH_TO_IMAGE, sketch({"seed": 11}, picture, control), NullContext())[0]
    assert np.abs(np.asarray(pair[0], np.int16) - np.asarray(alone, np.int16)).max() <= 2
    second = backend.run(EngineTask.SKETCH_TO_IMAGE, sketch({"seed": 12}, picture, control), NullContext())[0]
    assert np.abs(np.asarray(pair[1], np.int16) - np.asarray(second, np.int16)).max() <= 2, "image i is seed + i"
    other = sketch_lines(drawing())
    steered = backend.run(EngineTask.SKETCH_TO_IMAGE, sketch({"seed": 11}, picture, other), NullContext())[0]
    # small on random weights, but exactly 0 without the ControlNet (see the controlnet_scale = 0 test)
    assert diff(steered, alone) > 0.2, "another line map, another picture"


def test_controlnet_scale_zero_ignores_the_lines(tiny_root: Path, picture: Image.Image) -> None:
    backend = make("sdxl-controlnet", tiny_root, extra={"controlnet_scale": 0.0})
    first, second = (backend.run(EngineTask.SKETCH_TO_IMAGE, sketch({"seed": 3}, picture, control), NullContext())[0]
                     for control in (extract_lines(picture), sketch_lines(drawing())))
    assert np.array_equal(np.asarray(first), np.asarray(second))


@pytest.mark.parametrize("kind", KINDS)
def test_background_scene_keeps_the_subject_bit_exact(kind: str, loaded: Any, picture: Image.Image) -> None:
    around = np.ones((128, 160), dtype=bool)
    around[30:100, 40:120] = False  # the subject
    request = EngineRequest(image=picture, prompt="a beach at sunset", mask=around, n=2, seed=4,
                            params={"control": extract_lines(picture)})
    images = loaded(kind).run(EngineTask.BACKGROUND_SCENE, request, NullContext())
    original = np.asarray(picture)
    for image in images:
        result = np.asarray(image)
        assert image.size == picture.size
        assert np.array_equal(result[~around], original[~around])
        assert np.abs(result[around].astype(int) - original[around]).mean() > 3
    assert diff(images[0], images[1]) > 0.5


@pytest.mark.parametrize("kind", KINDS)
def test_progress_counts_up_and_cancel_stops(kind: str, loaded: Any, picture: Image.Image) -> None:
    backend = loaded(kind)
    control = extract_lines(picture)
    ctx = NullContext()
    backend.run(EngineTask.SKETCH_TO_IMAGE, sketch({"steps": 3}, picture, control), ctx)
    assert [done for done, _ in ctx.steps] == [1, 2, 3] and {total for _, total in ctx.steps} == {3}

    class Canceling(NullContext):
        def progress(self, done: int, total: int) -> None:
            super().progress(done, total)
            raise TaskCanceled()

    canceling = Canceling()
    with pytest.raises(TaskCanceled):
        backend.run(EngineTask.SKETCH_TO_IMAGE, sketch({"steps": 3}, picture, control), canceling)
    assert [done for done, _ in canceling.steps] == [1]


@pytest.mark.parametrize("kind", ["sdxl-controlnet", "qwen-image-controlnet"])
def test_requests_without_a_line_map_are_refused(kind: str, tiny_root: Path, picture: Image.Image) -> None:
    backend = make(kind, tiny_root)
    refusal = backend.refuses(EngineTask.SKETCH_TO_IMAGE, EngineRequest(image=picture, prompt="x"))
    assert refusal and "line map" in refusal
    mask = np.ones((128, 160), dtype=bool)
    refusal = backend.refuses(EngineTask.BACKGROUND_SCENE, EngineRequest(image=picture, mask=mask))
    assert refusal and "line map" in refusal
    assert backend.refuses(EngineTask.FILL, EngineRequest(image=picture, mask=mask))


def test_qwen_cannot_start_from_the_canvas_and_sdxl_can(tiny_root: Path, picture: Image.Image) -> None:
    mask = np.ones((128, 160), dtype=bool)
    request = EngineRequest(image=picture, mask=mask, strength=0.4, params={"control": extract_lines(picture)})
    refusal = make("qwen-image-controlnet", tiny_root).refuses(EngineTask.BACKGROUND_SCENE, request)
    assert refusal and "strength 0.4" in refusal
    assert make("sdxl-controlnet", tiny_root).refuses(EngineTask.BACKGROUND_SCENE, request) is None


def test_unload_drops_both_pipelines(tiny_root: Path, picture: Image.Image) -> None:
    backend = make("sdxl-controlnet", tiny_root)
    request = EngineRequest(image=picture, mask=np.ones((128, 160), dtype=bool), params={"control": picture})
    backend.run(EngineTask.BACKGROUND_SCENE, request, NullContext())
    assert backend.memory_bytes() > 0 and backend._inpaint is not None
    backend.unload()
    assert backend.pipe is None and backend._inpaint is None and backend.memory_bytes() == 0


# --- what check() says -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sdxl-controlnet", "qwen-image-controlnet"])
def test_no_controlnet_configured(kind: str, tiny_root: Path) -> None:
    backend = make(kind, tiny_root, controlnet=None)
    reason = backend.check()
    assert reason and "no controlnet configured" in reason and "controlnet =" in reason
    with pytest.raises(EngineUnavailable, match="no controlnet configured"):
        backend.load()


def test_missing_controlnet_folder_and_hub_ids(tiny_root: Path) -> None:
    nowhere = tiny_root / "nowhere"
    reason = make("sdxl-controlnet", tiny_root, controlnet=str(nowhere)).check()
    assert reason and str(nowhere) in reason and "does not exist" in reason
    pulled = backend_class("sdxl-controlnet")(BackendConfig(
        backend="sdxl-controlnet", weights=str(tiny_controlnet.build("sdxl-base", tiny_root)),
        controlnet="xinsir/controlnet-scribble-sdxl-1.0"), models_dir=tiny_root / "models")
    assert pulled.controlnet_path == tiny_root / "models/xinsir/controlnet-scribble-sdxl-1.0"
    assert "easel pull xinsir/controlnet-scribble-sdxl-1.0" in (pulled.check() or "")


def test_a_folder_that_is_not_a_controlnet(tiny_root: Path) -> None:
    base = tiny_controlnet.build("sdxl-base", tiny_root)
    reason = make("sdxl-controlnet", tiny_root, controlnet=str(base)).check()
    assert reason and "is not a ControlNet folder" in reason and str(base) in reason
    reason = make("sdxl-controlnet", tiny_root, controlnet=str(base / "unet")).check()
    assert reason and "UNet2DConditionModel" in reason and "ControlNetModel" in reason
    sdxl_one = tiny_controlnet.build("sdxl-controlnet", tiny_root)
    reason = make("qwen-image-controlnet", tiny_root, controlnet=str(sdxl_one)).check()
    assert reason and "QwenImageControlNetModel" in reason


@pytest.mark.parametrize(("kind", "controlnet", "field"), [
    ("sdxl-controlnet", "sdxl-controlnet-sd15", "cross_attention_dim"),
    ("qwen-image-controlnet", "qwen-controlnet-wide", "num_attention_heads"),
])
def test_a_controlnet_that_does_not_fit_the_base(kind: str, controlnet: str, field: str, tiny_root: Path) -> None:
    folder = tiny_controlnet.build(controlnet, tiny_root)
    backend = make(kind, tiny_root, controlnet=str(folder))
    reason = backend.check()
    assert reason and "does not fit" in reason and field in reason
    assert str(folder) in reason and str(backend.path) in reason
    with pytest.raises(EngineUnavailable, match="does not fit"):
        backend.load()


def test_qwen_inpainting_controlnet_is_refused(tiny_root: Path) -> None:
    folder = tiny_controlnet.build("qwen-controlnet-inpaint", tiny_root)
    reason = make("qwen-image-controlnet", tiny_root, controlnet=str(folder)).check()
    assert reason and "inpainting ControlNet" in reason and str(folder) in reason


def test_bad_settings(tiny_root: Path) -> None:
    reason = make("sdxl-controlnet", tiny_root, extra={"controlnet_scale": "strong"}).check()
    assert reason and "extra.controlnet_scale" in reason
    reason = make("sdxl-controlnet-union", tiny_root, extra={"control_mode": 9}).check()
    assert reason and "extra.control_mode" in reason and "0 to 5" in reason
    assert make("sdxl-controlnet-union", tiny_root, extra={"control_mode": 3}).check() is None
