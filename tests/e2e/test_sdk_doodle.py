"""wanx2.1-imageedit doodle (线稿生图) through the real server and the real dashscope SDK, on tiny random-weight
SDXL and Qwen-Image bases with ControlNets saved as real folders and named in engines.toml (no downloads)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from dashscope import ImageSynthesis
from PIL import Image, ImageDraw

from tests.conftest import TINY, EaselServer, ImageHost, download, engines_toml, photo
from tests.engines.diffusion import tiny_controlnet

EDIT = "wanx2.1-imageedit"
BACKENDS = {"sdxl-controlnet": tiny_controlnet.PAIRS["sdxl-controlnet"],
            "qwen-image-controlnet": tiny_controlnet.PAIRS["qwen-image-controlnet"]}


@pytest.fixture(scope="module", params=list(BACKENDS))
def sketch_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[tuple[EaselServer, str, str]]:
    backend = request.param
    root = tmp_path_factory.mktemp("tiny-controlnet")
    base, controlnet = (tiny_controlnet.build(name, root) for name in BACKENDS[backend])
    home = tmp_path_factory.mktemp("doodle-home")
    text = f'[sketch_to_image]\nbackend = "{backend}"\nweights = "{base}"\ncontrolnet = "{controlnet}"\n{TINY}'
    srv = EaselServer(home, engines_toml(home, text)).start()
    try:
        yield srv, srv.new_key(), str(controlnet)
    finally:
        srv.stop()


@pytest.fixture
def on(sketch_server: tuple[EaselServer, str, str], use_server: Callable[[EaselServer, str], None]) -> EaselServer:
    srv, key, _ = sketch_server
    use_server(srv, key)
    return srv


def rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def pencil_drawing(size: tuple[int, int]) -> Image.Image:
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    width, height = size
    draw.rectangle((width // 5, height // 3, width * 4 // 5, height * 5 // 6), outline="black", width=5)
    draw.polygon([(width // 5, height // 3), (width // 2, height // 8), (width * 4 // 5, height // 3)],
                 outline="black", width=5)
    return page


def doodle(url: str, **parameters: object) -> list[Image.Image]:
    rsp = ImageSynthesis.call(model=EDIT, function="doodle", prompt="一座红色的小房子，湖边，水彩", base_image_url=url,
                              **parameters)
    assert rsp.output.task_status == "SUCCEEDED", rsp.output
    return [download(result.url) for result in rsp.output.results]


def test_doodle_from_a_photo_n_and_seeds(on: EaselServer, image_host: ImageHost) -> None:
    url = image_host.put_image("photo.png", photo((640, 512), "coffee"))
    first, second = doodle(url, n=2, seed=7)
    assert first.size == second.size == (640, 512), "the input's size"
    assert np.abs(rgb(first) - rgb(second)).mean() > 1, "n=2 gives two different images"
    again = doodle(url, n=2, seed=7)
    assert np.array_equal(rgb(again[1]), rgb(second)), "the same seed repeats the image"


def test_doodle_from_a_sketch(on: EaselServer, image_host: ImageHost) -> None:
    url = image_host.put_image("sketch.png", pencil_drawing((512, 768)))
    (drawn,) = doodle(url, is_sketch=True, seed=3)
    assert drawn.size == (512, 768)
    # a drawing is a drawing whichever way round: white chalk on a blackboard gives the picture pencil on paper does
    chalk = Image.fromarray(255 - np.asarray(pencil_drawing((512, 768))))
    (from_chalk,) = doodle(image_host.put_image("chalk.png", chalk), is_sketch=True, seed=3)
    assert np.abs(rgb(drawn) - rgb(from_chalk)).max() <= 2
    (watermarked,) = doodle(url, is_sketch=True, seed=3, watermark=True)
    assert watermarked.size == (512, 768)


def test_listing_names_the_controlnet(sketch_server: tuple[EaselServer, str, str]) -> None:
    srv, _, controlnet = sketch_server
    listing = httpx.get(f"{srv.api}/models", timeout=10).json()
    assert listing["engines"]["sketch_to_image"].startswith("available"), listing["engines"]
    assert controlnet in listing["engines"]["sketch_to_image"]


def test_no_sketch_engine_is_refused_naming_the_table(sdk: EaselServer, image_host: ImageHost) -> None:
    rsp = ImageSynthesis.call(model=EDIT, function="doodle", prompt="一座小房子", is_sketch=True,
                              base_image_url=image_host.put_image("nosk.png", pencil_drawing((512, 512))))
    assert rsp.output.task_status == "FAILED"
    assert rsp.output.code == "EngineUnavailable"
    assert "[sketch_to_image]" in rsp.output.message and "sdxl-controlnet" in rsp.output.message


def test_a_broken_controlnet_table_is_reported(tmp_path: Path, image_host: ImageHost,
                                               use_server: Callable[[EaselServer, str], None]) -> None:
    base = tiny_controlnet.build("sdxl-base", tmp_path / "tiny")
    home = tmp_path / "home"
    home.mkdir()
    toml = home / "engines.toml"
    toml.write_text(f'[sketch_to_image]\nbackend = "sdxl-controlnet"\nweights = "{base}"\n')
    srv = EaselServer(home, {"EASEL_ENGINES": str(toml), "HF_HUB_OFFLINE": "1"}).start()
    try:
        use_server(srv, srv.new_key())
        rsp = ImageSynthesis.call(model=EDIT, function="doodle", prompt="一座小房子",
                                  base_image_url=image_host.put_image("b.png", pencil_drawing((512, 512))))
        assert rsp.output.task_status == "FAILED" and rsp.output.code == "EngineUnavailable"
        assert "no controlnet configured" in rsp.output.message
    finally:
        srv.stop()
