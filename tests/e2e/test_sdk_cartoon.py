"""wanx2.1-imageedit control_cartoon_feature (参考卡通生图) through the real server and the real dashscope SDK,
on tiny random-weight folders named in engines.toml: served by qwen-image-edit-plus (its own [reference_to_image]
table, or derived from an [instruct_edit] table) and by sdxl-ip-adapter; refused at create when nothing serves it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from dashscope import ImageSynthesis
from PIL import Image

from tests.conftest import TINY, EaselServer, ImageHost, download, engines_toml, photo
from tests.engines.diffusion import tiny_models, tiny_reference

EDIT = "wanx2.1-imageedit"
SCENE = "卡通形象小心翼翼地探出头"
AREA = 4096  # TINY's max_area


def table(kind: str, root: Path) -> str:
    if kind == "sdxl-ip-adapter":
        return (f'[reference_to_image]\nbackend = "sdxl-ip-adapter"\nweights = "{tiny_reference.sdxl_base(root)}"\n'
                f'ip_adapter = "{tiny_reference.ip_adapter(root)}"\n'
                f'image_encoder = "{tiny_reference.image_encoder(root)}"\n{TINY}')
    plus = tiny_models.build("qwen-image-edit-plus", root)
    task = "instruct_edit" if kind == "derived" else "reference_to_image"
    return f'[{task}]\nbackend = "qwen-image-edit-plus"\nweights = "{plus}"\n{TINY}'


@pytest.fixture(scope="module", params=["qwen-image-edit-plus", "derived", "sdxl-ip-adapter"])
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
               tiny_root: Path) -> Iterator[EaselServer]:
    home = tmp_path_factory.mktemp("cartoon-home")
    srv = EaselServer(home, engines_toml(home, table(request.param, tiny_root))).start()
    try:
        yield srv
    finally:
        srv.stop()


def rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def cartoon(rsp: Any) -> list[np.ndarray]:
    output = rsp.output
    assert output.task_status == "SUCCEEDED", output
    return [rgb(download(result.url)) for result in output.results]


def test_cartoon_character_in_a_new_scene(deployment: EaselServer, image_host: ImageHost,
                                          use_server: Callable[[EaselServer, str], None]) -> None:
    use_server(deployment, deployment.new_key())
    character = image_host.put_image("character.png", photo((640, 512), "astronaut"))
    other = image_host.put_image("other.png", photo((640, 512), "coffee"))

    def call(url: str, **params: int) -> list[np.ndarray]:
        return cartoon(ImageSynthesis.call(model=EDIT, function="control_cartoon_feature", prompt=SCENE,
                                           base_image_url=url, **params))

    first, second = call(character, n=2, seed=7)
    height, width = first.shape[:2]
    assert width > height and width * height <= AREA  # the character's aspect in the work area
    assert np.abs(first - second).mean() > 1.0  # n images, each its own seed
    # a seed repeats (up to the float rounding of a batch of two against one)
    assert np.abs(call(character, seed=7)[0] - first).max() <= 2
    assert np.abs(call(other, seed=7)[0] - first).mean() > 0.0  # another character, another picture
    listing = httpx.get(f"{deployment.api}/models", timeout=10).json()
    assert listing["engines"]["reference_to_image"].startswith("available"), listing["engines"]


def test_refused_at_create_when_nothing_serves_it(tmp_path: Path, tiny_root: Path, image_host: ImageHost,
                                                  use_server: Callable[[EaselServer, str], None]) -> None:
    home = tmp_path / "home"
    # an instruction-edit backend that cannot follow references does not serve reference_to_image
    weights = tiny_models.build("qwen-image-edit", tiny_root)
    text = f'[instruct_edit]\nbackend = "qwen-image-edit"\nweights = "{weights}"\n{TINY}'
    srv = EaselServer(home, engines_toml(home, text)).start()
    try:
        use_server(srv, srv.new_key())
        url = image_host.put_image("character.png", photo((640, 512)))
        created = ImageSynthesis.async_call(model=EDIT, function="control_cartoon_feature", prompt=SCENE,
                                            base_image_url=url)
        assert created.status_code == 200
        # stored FAILED at create: the first query already says so, no worker ran it
        rsp = ImageSynthesis.fetch(created)
        assert rsp.output.task_status == "FAILED", rsp.output
        assert rsp.output.code == "EngineUnavailable"
        message = rsp.output.message
        assert "control_cartoon_feature" in message and "[reference_to_image]" in message, message
        assert "sdxl-ip-adapter" in message and "qwen-image-edit-plus" in message
    finally:
        srv.stop()
