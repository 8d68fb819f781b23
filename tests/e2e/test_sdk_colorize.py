"""wanx2.1-imageedit colorization through the real server and the real dashscope SDK, on a tiny ONNX model with
DDColor's signature named in engines.toml (no downloads)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pytest
from dashscope import ImageSynthesis
from PIL import Image

from tests.conftest import EaselServer, ImageHost, download, photo
from tests.engines import tiny_ddcolor

MODEL = "wanx2.1-imageedit"


@pytest.fixture(scope="module")
def colour_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EaselServer, str]]:
    home = tmp_path_factory.mktemp("colorize-home")
    # a = 30 g - 10, b = 20 g + 5 on the grey input g in [0, 1]: known colours to look for in the result
    model = tiny_ddcolor.affine(home / "ddcolor.onnx", a=(30.0, -10.0), b=(20.0, 5.0))
    toml = home / "engines.toml"
    toml.write_text(f'[colorize]\nbackend = "ddcolor-onnx"\nweights = "{model}"\ndevice = "cpu"\n')
    srv = EaselServer(home, {"EASEL_ENGINES": str(toml)}).start()
    try:
        yield srv, srv.new_key()
    finally:
        srv.stop()


@pytest.fixture
def on_colour(colour_server: tuple[EaselServer, str], use_server: Callable[[EaselServer, str], None]) -> EaselServer:
    srv, key = colour_server
    use_server(srv, key)
    return srv


def lab(image: Image.Image) -> np.ndarray:
    return cv2.cvtColor(np.asarray(image.convert("RGB"), np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def test_colorization_async_call_succeeds_at_the_input_size(on_colour: EaselServer, image_host: ImageHost) -> None:
    grey = photo((640, 544), "camera").convert("L").point(lambda v: 70 + v * 120 // 255).convert("RGB")
    url = image_host.put_image("bw.png", grey)
    task = ImageSynthesis.async_call(model=MODEL, function="colorization", prompt="蓝色背景，黄色的叶子",
                                     base_image_url=url, n=2)
    assert task.status_code == 200, task
    done = ImageSynthesis.wait(task)
    assert done.output.task_status == "SUCCEEDED", done.output
    assert len(done.output.results) == 2
    images = [download(r.url) for r in done.output.results]
    for image in images:
        assert image.size == grey.size
    first = lab(images[0])
    expected_a = 30 * np.asarray(grey, np.float32)[:, :, 0] / 255.0 - 10
    assert np.abs(first[:, :, 1] - expected_a)[8:-8, 8:-8].mean() < 1.5  # the model's colours
    assert np.abs(first[:, :, 0] - lab(grey)[:, :, 0]).max() < 1.0  # the photo's own lightness
    assert np.array_equal(np.asarray(images[0]), np.asarray(images[1]))  # a deterministic model
    assert any("prompt was not used" in note for note in done.output["notes"])


def test_no_colorize_table_fails_naming_it(sdk: EaselServer, image_host: ImageHost) -> None:
    url = image_host.put_image("bw3.png", photo((512, 512), "camera").convert("RGB"))
    task = ImageSynthesis.async_call(model=MODEL, function="colorization", prompt="自然真实色彩",
                                     base_image_url=url)
    done = ImageSynthesis.wait(task)
    assert done.output.task_status == "FAILED"
    assert done.output.code == "EngineUnavailable"
    assert "[colorize]" in done.output.message and "ddcolor-onnx" in done.output.message
