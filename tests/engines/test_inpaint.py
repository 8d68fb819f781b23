"""Inpainting engine: the classical fill and the ONNX (LaMa / MI-GAN) slot with tiny random models."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from skimage import data
from skimage.metrics import structural_similarity

from easel.engines.inpaint import OnnxInpainter, default_inpainter, inpaint

MAGENTA = np.array([255, 0, 255], np.uint8)


def _photo(name: str, size: int) -> np.ndarray:
    img = getattr(data, name)()
    h, w = img.shape[:2]
    side = min(h, w)
    img = img[(h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side]
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def _strokes(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(4):
        pts = rng.integers(0, size, (4, 2))
        cv2.polylines(mask, [pts.reshape(-1, 1, 2).astype(np.int32)], False, 255, int(rng.integers(3, 7)))
    return mask


def _square(size: int, y: int, x: int, side: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[y : y + side, x : x + side] = True
    return mask


def _hole_ssim(truth: np.ndarray, filled: np.ndarray, hole: np.ndarray) -> float:
    _, ssim_map = structural_similarity(truth, filled, channel_axis=2, data_range=255, full=True)
    return float(ssim_map.mean(axis=2)[hole].mean())


# --- classical engine ---------------------------------------------------------------------------


@pytest.mark.parametrize("hole_kind", ["strokes", "square", "two_far_squares"])
def test_pixels_outside_the_hole_are_exactly_the_input(hole_kind: str) -> None:
    img = _photo("astronaut", 192)
    if hole_kind == "strokes":
        hole = _strokes(192, seed=1)
    elif hole_kind == "square":
        hole = _square(192, 60, 70, 40)
    else:  # far enough apart to be filled in separate crops
        hole = _square(192, 5, 5, 12) | _square(192, 170, 170, 14)
    out = inpaint(img, hole)
    assert out.shape == img.shape and out.dtype == np.uint8
    outside = hole == 0
    assert np.array_equal(out[outside], img[outside])
    assert not np.array_equal(out[hole != 0], img[hole != 0])


def test_holes_touching_the_border_of_a_non_square_image() -> None:
    img = _photo("rocket", 160)[:, :120].copy()
    hole = np.zeros(img.shape[:2], bool)
    hole[:20, :30] = True  # a corner
    hole[70:90, 110:] = True  # the right edge
    out = inpaint(img, hole)
    assert np.array_equal(out[~hole], img[~hole])
    assert np.abs(out[hole].astype(int) - img[hole].astype(int)).mean() < 40


def test_hole_colour_is_gone() -> None:
    img = _photo("coffee", 160)
    hole = _strokes(160, seed=2) > 0
    hole |= _square(160, 50, 60, 30)
    painted = img.copy()
    painted[hole] = MAGENTA
    out = inpaint(painted, hole)
    distance = np.abs(out[hole].astype(int) - MAGENTA.astype(int)).sum(axis=1)
    assert distance.min() > 150  # no pixel anywhere near magenta survives


def test_smooth_gradient_is_reconstructed_inside_a_square_hole() -> None:
    yy, xx = np.mgrid[0:96, 0:96].astype(np.float32)
    ramp = xx + 0.5 * yy  # a colour gradient along one direction
    img = np.dstack([40 + 1.2 * ramp, 30 + 0.9 * ramp, 220 - 0.7 * ramp]).round().astype(np.uint8)
    hole = _square(96, 36, 30, 24)
    error = np.abs(inpaint(img, hole)[hole].astype(int) - img[hole].astype(int))
    assert error.mean() < 1.5 and error.max() <= 4
    telea = cv2.inpaint(img, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    assert error.mean() < np.abs(telea[hole].astype(int) - img[hole].astype(int)).mean()


def test_hole_ssim_beats_telea_on_a_real_photo() -> None:
    img = _photo("coffee", 192)
    hole = _square(192, 64, 58, 36)  # across the cup rim: an edge that must be carried through
    ours = inpaint(img, hole)
    telea = cv2.inpaint(img, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    assert _hole_ssim(img, ours, hole) >= _hole_ssim(img, telea, hole)


def test_deterministic_and_accepts_bool_or_uint8_holes() -> None:
    img = _photo("chelsea", 128)
    hole = _strokes(128, seed=3)
    first = inpaint(img, hole, seed=7)
    assert np.array_equal(first, inpaint(img, hole, seed=7))
    assert np.array_equal(first, inpaint(img, hole > 0, seed=7))


def test_empty_hole_returns_the_input_unchanged() -> None:
    img = _photo("rocket", 64)
    out = inpaint(img, np.zeros((64, 64), np.uint8))
    assert np.array_equal(out, img) and out is not img


def test_whole_image_hole_and_bad_inputs() -> None:
    img = _photo("rocket", 32)
    assert inpaint(img, np.ones((32, 32), bool)).std() == 0
    with pytest.raises(ValueError):
        inpaint(img, np.zeros((31, 32), bool))
    with pytest.raises(ValueError):
        inpaint(img.astype(np.float32), np.zeros((32, 32), bool))


# --- ONNX slot ----------------------------------------------------------------------------------


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _conv_sigmoid_model(path: Path, inputs: list[tuple[str, int, int]], size: int | None) -> Path:
    """Random Conv(3x3) + Sigmoid over the concatenated inputs (name, channels, onnx type)."""
    h, w = (size, size) if size else ("height", "width")
    rng = np.random.default_rng(0)
    in_channels = sum(c for _, c, _ in inputs)
    weights = numpy_helper.from_array(rng.normal(0, 0.4, (3, in_channels, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Concat", [n for n, _, _ in inputs], ["x"], axis=1)]
    nodes.append(helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Sigmoid", ["y"], ["output"]))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info(n, t, [1, c, h, w]) for n, c, t in inputs],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, h, w])],
        [weights],
    )
    return _save(graph, path)


LAMA_INPUTS = [("image", 3, TensorProto.FLOAT), ("mask", 1, TensorProto.FLOAT)]


@pytest.mark.parametrize("size", [64, None], ids=["fixed-64", "dynamic"])
def test_onnx_lama_signature_fills_only_the_hole(tmp_path: Path, size: int | None) -> None:
    model = _conv_sigmoid_model(tmp_path / "lama.onnx", LAMA_INPUTS, size)
    img = _photo("astronaut", 96)
    hole = _square(96, 30, 30, 20)
    painted = img.copy()
    painted[hole] = MAGENTA
    inpainter = OnnxInpainter(model, threads=1)
    assert inpainter.kind == "lama"
    out = inpainter.inpaint(painted, hole)
    assert np.array_equal(out[~hole], img[~hole])
    assert not np.array_equal(out[hole], painted[hole])
    assert np.array_equal(out, inpainter.inpaint(painted, hole))


def test_onnx_lama_output_is_the_model_output_in_the_hole(tmp_path: Path) -> None:
    """Whole-image crop at the model's own size: the hole must hold exactly the model's pixels."""
    model = _conv_sigmoid_model(tmp_path / "lama.onnx", LAMA_INPUTS, 64)
    img = _photo("coffee", 64)
    hole = _square(64, 20, 22, 24)  # with its context, the crop is the whole 64x64 image
    out = OnnxInpainter(model).inpaint(img, hole)
    known = (~hole).astype(np.float32)
    feeds = {
        "image": (img.astype(np.float32) / 255 * known[..., None]).transpose(2, 0, 1)[None],
        "mask": (1 - known)[None, None],
    }
    (raw,) = ort.InferenceSession(str(model)).run(None, feeds)
    expected = np.clip(raw[0].transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)
    assert np.array_equal(out[hole], expected[hole])


def test_onnx_migan_generator_signature(tmp_path: Path) -> None:
    model = _conv_sigmoid_model(tmp_path / "migan.onnx", [("input", 4, TensorProto.FLOAT)], 64)
    img = _photo("chelsea", 80)
    hole = _strokes(80, seed=4) > 0
    inpainter = OnnxInpainter(model)
    assert inpainter.kind == "migan"
    out = inpainter.inpaint(img, hole)
    assert np.array_equal(out[~hole], img[~hole])
    # sigmoid output in (0, 1) read as [-1, 1] lands in the upper half of the byte range
    assert out[hole].min() >= 127


def test_onnx_migan_pipeline_signature(tmp_path: Path) -> None:
    """uint8 image + uint8 mask (255 = known) -> uint8 image, like MI-GAN's exported pipeline."""
    h, w = "height", "width"
    rng = np.random.default_rng(1)
    weights = numpy_helper.from_array(rng.normal(0, 0.4, (3, 4, 3, 3)).astype(np.float32), "w")
    scale = numpy_helper.from_array(np.array(255.0, np.float32), "scale")
    nodes = [
        helper.make_node("Concat", ["image", "mask"], ["x8"], axis=1),
        helper.make_node("Cast", ["x8"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["y"], ["s"]),
        helper.make_node("Mul", ["s", "scale"], ["f"]),
        helper.make_node("Cast", ["f"], ["result"], to=TensorProto.UINT8),
    ]
    graph = helper.make_graph(
        nodes,
        "pipeline",
        [
            helper.make_tensor_value_info("image", TensorProto.UINT8, [1, 3, h, w]),
            helper.make_tensor_value_info("mask", TensorProto.UINT8, [1, 1, h, w]),
        ],
        [helper.make_tensor_value_info("result", TensorProto.UINT8, [1, 3, h, w])],
        [weights, scale],
    )
    inpainter = OnnxInpainter(_save(graph, tmp_path / "pipeline.onnx"))
    assert inpainter.kind == "migan-pipeline"
    img = _photo("coffee", 72)
    hole = _square(72, 10, 40, 16)
    out = inpainter.inpaint(img, hole)
    assert np.array_equal(out[~hole], img[~hole])
    assert not np.array_equal(out[hole], img[hole])


@pytest.mark.parametrize(
    "inputs",
    [
        [("image", 3, TensorProto.FLOAT)],  # no mask at all
        [("image", 2, TensorProto.FLOAT), ("mask", 1, TensorProto.FLOAT)],  # wrong image channels
        [("image", 3, TensorProto.FLOAT), ("mask", 1, TensorProto.UINT8)],  # mixed element types
    ],
    ids=["one-3ch-input", "2ch-image", "mixed-types"],
)
def test_onnx_unsupported_signature_raises_value_error(tmp_path: Path, inputs: list) -> None:
    if any(t == TensorProto.UINT8 for _, _, t in inputs):  # Conv takes no uint8: a Cast + Add graph
        graph_inputs = [helper.make_tensor_value_info(n, t, [1, c, 32, 32]) for n, c, t in inputs]
        nodes = [helper.make_node("Cast", ["mask"], ["mask_f"], to=TensorProto.FLOAT)]
        nodes.append(helper.make_node("Add", ["image", "mask_f"], ["output"]))
        out_info = [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 32, 32])]
        path = _save(helper.make_graph(nodes, "mixed", graph_inputs, out_info), tmp_path / "bad.onnx")
    else:
        path = _conv_sigmoid_model(tmp_path / "bad.onnx", inputs, 32)
    with pytest.raises(ValueError, match="supported ONNX inpainting signatures"):
        OnnxInpainter(path)


def test_default_inpainter_picks_by_configuration(tmp_path: Path) -> None:
    assert default_inpainter() is inpaint
    model = _conv_sigmoid_model(tmp_path / "lama.onnx", LAMA_INPUTS, 32)
    fill = default_inpainter(str(model))
    img = _photo("rocket", 48)
    hole = _square(48, 10, 10, 8)
    out = fill(img, hole)
    assert np.array_equal(out[~hole], img[~hole])
    with pytest.raises(ValueError):
        default_inpainter(str(tmp_path / "missing.onnx"))


# --- texture on wide holes (issue 13: removals left a smooth blur patch) ---------------------------


def _grain(h: int, w: int, seed: int) -> np.ndarray:
    """Ground with fine, even grain (like grass or gravel): green, strong high-frequency detail."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 24, (h, w)).astype(np.float32), (0, 0), 0.8)
    image = np.array([70, 120, 50], np.float32) + noise[..., None] * np.array([0.8, 1.0, 0.6], np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _detail(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 2))


def _ring(hole: np.ndarray, width: int = 12) -> np.ndarray:
    grown = cv2.dilate(hole.astype(np.uint8), np.ones((2 * width + 1, 2 * width + 1), np.uint8)) > 0
    return grown & ~hole


def test_a_wide_hole_on_texture_gets_the_surroundings_texture_not_a_smooth_patch() -> None:
    ground = _grain(128, 160, seed=4)
    scene = ground.copy()
    scene[44:84, 60:110] = (120, 80, 40)  # a bench on the grass
    hole = np.zeros(ground.shape[:2], bool)
    hole[40:88, 56:114] = True
    out = inpaint(scene, hole, seed=0)
    ring = _ring(hole)
    energy = float(_detail(out)[hole].mean() / _detail(out)[ring].mean())
    assert 0.7 < energy < 1.4, energy  # a smooth fill scores about 0.1
    # the ground's colour, none of the bench's
    assert float(np.abs(out[hole].mean(axis=0) - ground[ring].mean(axis=0)).max()) < 12
    assert np.array_equal(out, inpaint(scene, hole, seed=0))  # seeded: same seed, same fill


@pytest.mark.parametrize("case", ["smooth ground", "thin strokes on texture"])
def test_smooth_ground_and_thin_holes_keep_the_coherence_fill(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from easel.engines.inpaint import texture

    if case == "smooth ground":
        yy, xx = np.mgrid[0:128, 0:160].astype(np.float32)
        noise = np.random.default_rng(0).normal(0, 1.0, (128, 160, 1))
        image = np.clip(np.dstack([90 + 0.3 * xx, 140 + 0.2 * yy, 200 - 0.2 * xx]) + noise, 0, 255).astype(np.uint8)
        hole = np.zeros((128, 160), bool)
        hole[40:84, 50:94] = True
    else:
        image = _grain(128, 128, seed=5)
        hole = _strokes(128, seed=6) > 0
    textured = inpaint(image, hole, seed=0)
    monkeypatch.setattr(texture, "wants_texture", lambda *args: False)
    assert np.array_equal(textured, inpaint(image, hole, seed=0))
