"""colorize on DDColor ONNX files: tiny models with DDColor's signature built in-process, named in engines.toml."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from easel.engines.base import EngineRequest, EngineTask, NullContext
from easel.engines.colorize.ddcolor_onnx import DdcolorOnnx
from easel.engines.config import BackendConfig, load_engines_config
from easel.engines.manager import Engines
from easel.engines.onnx_signature import NotOnnx, read_signature
from easel.errors import EngineUnavailable
from tests.conftest import photo
from tests.engines import tiny_ddcolor


def engines_for(weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> Engines:
    toml = tmp_path / "engines.toml"
    toml.write_text(f'[colorize]\nbackend = "ddcolor-onnx"\nweights = "{weights}"\ndevice = "cpu"\n{extra}')
    monkeypatch.setenv("EASEL_ENGINES", str(toml))
    return Engines(load_engines_config(tmp_path))


def colorize(engines: Engines, image: Image.Image, n: int = 1) -> list[Image.Image]:
    return engines.run(EngineTask.COLORIZE, EngineRequest(image=image, n=n), NullContext())


def lab(image: Image.Image) -> np.ndarray:
    return cv2.cvtColor(np.asarray(image.convert("RGB"), np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def grey_ramp(width: int, height: int, low: int = 70, high: int = 190) -> Image.Image:
    row = np.linspace(low, high, width).round().astype(np.uint8)
    return Image.fromarray(np.repeat(row[None, :], height, axis=0)).convert("RGB")


def test_the_colours_are_the_models_ab_at_the_full_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a = 40 g - 20, b = -30 g + 15: dark pixels go green-yellow, bright ones magenta-blue
    model = tiny_ddcolor.affine(tmp_path / "affine.onnx", a=(40.0, -20.0), b=(-30.0, 15.0))
    engines = engines_for(model, tmp_path, monkeypatch)
    image = grey_ramp(300, 170)
    (out,) = colorize(engines, image)
    assert out.size == image.size
    grey = np.asarray(image, np.float32)[:, :, 0] / 255.0
    got = lab(out)
    inner = np.s_[5:-5, 10:-10]  # away from the border, where the 64-px ab map is extrapolated
    assert np.abs(got[:, :, 1][inner] - (40 * grey - 20)[inner]).max() < 2.5
    assert np.abs(got[:, :, 2][inner] - (-30 * grey + 15)[inner]).max() < 2.5
    assert np.abs(got[:, :, 0] - lab(image)[:, :, 0]).max() < 1.0  # lightness is the input's


def test_random_model_keeps_lightness_and_size_and_adds_colour(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    engines = engines_for(tiny_ddcolor.random_weights(tmp_path / "random.onnx"), tmp_path, monkeypatch)
    source = photo((333, 250), "astronaut").convert("L").point(lambda v: 60 + v * 130 // 255).convert("RGB")
    (out,) = colorize(engines, source)
    assert out.size == (333, 250)
    before, after = lab(source), lab(out)
    # the lightness is the input's, but for colours outside sRGB, which are clipped to the nearest ones inside
    in_gamut = (np.asarray(out) > 0).all(axis=2) & (np.asarray(out) < 255).all(axis=2)
    assert in_gamut.mean() > 0.9
    assert np.abs(after[:, :, 0] - before[:, :, 0])[in_gamut].max() < 1.0
    assert np.abs(before[:, :, 1:]).max() < 0.5  # the input really is grey
    chroma = np.hypot(after[:, :, 1], after[:, :, 2])
    assert chroma.mean() > 5.0
    # colour follows the picture (the model sees its neighbourhood), not one tint everywhere
    assert after[:, :, 1].std() > 1.0 or after[:, :, 2].std() > 1.0


def test_a_colour_photo_gets_the_models_colours_not_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engines = engines_for(tiny_ddcolor.affine(tmp_path / "flat.onnx", a=(0.0, 10.0), b=(0.0, 10.0)),
                          tmp_path, monkeypatch)
    source = photo((200, 160), "coffee")
    (out,) = colorize(engines, source)
    got = lab(out)
    inside_gamut = (lab(source)[:, :, 0] > 25) & (lab(source)[:, :, 0] < 90)
    assert np.abs(got[:, :, 1][inside_gamut] - 10).mean() < 1.5
    assert np.abs(got[:, :, 2][inside_gamut] - 10).mean() < 1.5


def test_n_images_of_a_deterministic_model_are_equal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engines = engines_for(tiny_ddcolor.random_weights(tmp_path / "r.onnx"), tmp_path, monkeypatch)
    images = colorize(engines, grey_ramp(96, 80), n=3)
    assert len(images) == 3
    assert all(np.array_equal(np.asarray(images[0]), np.asarray(i)) for i in images[1:])


def test_input_size_is_the_models_or_512_when_dynamic(tmp_path: Path) -> None:
    fixed = DdcolorOnnx(BackendConfig(backend="ddcolor-onnx",
                                      weights=str(tiny_ddcolor.affine(tmp_path / "f.onnx", (1, 0), (1, 0),
                                                                      side=(48, 80)))))
    dynamic = DdcolorOnnx(BackendConfig(backend="ddcolor-onnx",
                                        weights=str(tiny_ddcolor.random_weights(tmp_path / "d.onnx",
                                                                                side=("height", "width")))))
    for backend in (fixed, dynamic):
        assert backend.check() is None
        backend.load()
    assert fixed.input_size == (80, 48)
    assert dynamic.input_size == (512, 512)
    (out,) = dynamic.run(EngineTask.COLORIZE, EngineRequest(image=grey_ramp(130, 70)), NullContext())
    assert out.size == (130, 70)


def test_dynamic_batch_and_pre_ir4_weight_inputs_are_read(tmp_path: Path) -> None:
    path = tiny_ddcolor.random_weights(tmp_path / "b.onnx", side=(32, 32))
    signature = read_signature(path)
    assert [(i.name, i.elem_type, i.shape) for i in signature.inputs] == [("input", "float32", (1, 3, 32, 32))]
    assert [(o.name, o.shape) for o in signature.outputs] == [("output", (1, 2, 32, 32))]
    with pytest.raises(NotOnnx):
        read_signature(_write(tmp_path / "text.onnx", b"[colorize]\nbackend = 'x'\n" * 20))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind, words", [
    ("missing", ["does not exist", "missing.onnx"]),
    ("not-onnx", ["not-onnx.onnx", "is not an ONNX model", "1x2xHxW"]),
    ("torch-zip", ["torch-zip.onnx", "is not an ONNX model"]),
    ("wrong-signature", ["wrong-signature.onnx", "is not a DDColor model", "output", "Nx2xHxW"]),
])
def test_unusable_files_are_refused_with_the_file_and_what_was_expected(
        kind: str, words: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / f"{kind}.onnx"
    if kind == "not-onnx":
        _write(path, b"<html>404 Not Found</html>\n" * 40)
    elif kind == "torch-zip":
        _write(path, b"PK\x03\x04" + np.random.default_rng(1).bytes(4000))
    elif kind == "wrong-signature":
        tiny_ddcolor.wrong_channels(path)
    engines = engines_for(path, tmp_path, monkeypatch)
    problem = engines.problem(EngineTask.COLORIZE)
    assert problem is not None
    for word in [*words, "[colorize]"]:
        assert word in problem, problem
    with pytest.raises(EngineUnavailable) as raised:
        colorize(engines, grey_ramp(64, 64))
    assert str(path) in raised.value.message


def test_a_graph_onnxruntime_cannot_build_fails_at_load_and_is_remembered(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    engines = engines_for(tiny_ddcolor.broken_graph(tmp_path / "broken.onnx"), tmp_path, monkeypatch)
    assert engines.problem(EngineTask.COLORIZE) is None  # the header is right; only building the graph fails
    with pytest.raises(EngineUnavailable) as raised:
        colorize(engines, grey_ramp(64, 64))
    assert "onnxruntime cannot load the DDColor model" in raised.value.message
    assert "broken.onnx" in raised.value.message
    assert "broken.onnx" in (engines.problem(EngineTask.COLORIZE) or "")


def test_no_table_names_the_colorize_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EASEL_ENGINES", raising=False)
    problem = Engines(load_engines_config(tmp_path)).problem(EngineTask.COLORIZE) or ""
    assert "[colorize]" in problem and '"ddcolor-onnx"' in problem


def test_cuda_without_the_cuda_provider_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime as ort

    model = tiny_ddcolor.affine(tmp_path / "a.onnx", (1, 0), (1, 0))
    backend = DdcolorOnnx(BackendConfig(backend="ddcolor-onnx", weights=str(model), device="cuda"))
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    problem = backend.check() or ""
    assert "CUDAExecutionProvider" in problem and "onnxruntime-gpu" in problem


def test_threads_setting_reaches_the_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engines = engines_for(tiny_ddcolor.affine(tmp_path / "a.onnx", (1, 0), (1, 0)), tmp_path, monkeypatch,
                          extra="extra = { threads = 1 }\n")
    colorize(engines, grey_ramp(64, 64))
    backend = engines.backend(EngineTask.COLORIZE)
    assert isinstance(backend, DdcolorOnnx) and backend._session is not None
    assert backend._session.get_session_options().intra_op_num_threads == 1
