"""wanx-background-generation-v2 (seed 003) on a generative engine, through the real server and the real dashscope
SDK: tiny random-weight fill pipelines (sdxl-inpaint, flux-fill) named as [fill] in engines.toml serve scene
prompts as background_scene; a tiny sdxl-controlnet as [background_scene] follows reference_edge (no downloads)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from dashscope.client.base_api import BaseAsyncApi
from PIL import Image, ImageDraw

from tests.conftest import TINY, EaselServer, ImageHost, download, engines_toml, photo
from tests.engines.diffusion import tiny_controlnet, tiny_models

BG = {"model": "wanx-background-generation-v2", "task_group": "aigc", "task": "background-generation",
      "function": "generation"}
SIZE = (640, 512)


@pytest.fixture(scope="module", params=["sdxl-inpaint", "flux-fill"])
def fill_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                tiny_root: Path) -> Iterator[tuple[EaselServer, str, str]]:
    home = tmp_path_factory.mktemp("background-home")
    text = f'[fill]\nbackend = "{request.param}"\nweights = "{tiny_models.build(request.param, tiny_root)}"\n{TINY}'
    srv = EaselServer(home, engines_toml(home, text)).start()
    try:
        yield srv, srv.new_key(), request.param
    finally:
        srv.stop()


@pytest.fixture
def on_fill(fill_server: tuple[EaselServer, str, str], use_server: Callable[[EaselServer, str], None]) -> str:
    srv, key, backend = fill_server
    use_server(srv, key)
    return backend


def subject() -> Image.Image:
    """The astronaut cut out with an elliptical, soft-edged alpha."""
    rgba = photo(SIZE).convert("RGBA")
    alpha = Image.new("L", SIZE, 0)
    ImageDraw.Draw(alpha).ellipse((180, 40, 460, 540), fill=255)
    soft = cv2.GaussianBlur(np.asarray(alpha), (0, 0), 2.0)
    soft[soft > 250] = 255
    rgba.putalpha(Image.fromarray(soft))
    return rgba


def rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def assert_subject_kept(source: Image.Image, result: Image.Image, keep: np.ndarray | None = None) -> None:
    """Where the subject is opaque, the result is its own colours through one per-channel gain and offset (the
    harmonisation the CPU path applies too), never regenerated."""
    opaque = np.asarray(source.getchannel("A")) == 255
    if keep is not None:
        opaque &= keep
    x_all, y_all = rgb(source)[opaque], rgb(result)[opaque]
    for channel in range(3):
        x, y = x_all[:, channel].astype(np.float64), y_all[:, channel].astype(np.float64)
        gain, offset = np.polyfit(x, y, 1)
        assert 0.85 <= gain <= 1.15, gain
        assert np.abs(np.clip(x * gain + offset, 0, 255) - y).max() <= 1.5, "subject pixels are kept"


def scene_call(image_host: ImageHost, **overrides: Any) -> Any:
    inp = {"base_image_url": image_host.put_image("scene-subject.png", subject()), "ref_prompt": "山脉和晚霞",
           "title": "分享好时光", "sub_title": "只为不一样的你"}
    inp.update(overrides.pop("inp", {}))
    params = {"n": 2, "seed": 11, "scene_type": "ROOM", "model_version": "v3", **overrides}
    return BaseAsyncApi.call(input=inp, **BG, **params)


def test_scene_prompt_is_generated_around_the_subject(on_fill: str, image_host: ImageHost) -> None:
    rsp = scene_call(image_host)
    assert rsp.output["task_status"] == "SUCCEEDED", rsp.output
    assert rsp.usage["image_count"] == 2
    texted = [download(r["url"]) for r in rsp.output["results"]]
    text_results = rsp.output["text_results"]
    assert rsp.output["text_result"] == text_results, "the seed's table and example names, both"
    plain = [download(u["url"]) for u in text_results["urls"]]
    assert [im.size for im in texted + plain] == [SIZE] * 4, "the base image's size"
    assert [p["sample_idx"] for p in text_results["params"]] == [0, 1]
    titles = [layer["content"] for layer in text_results["params"][0]["layers"] if layer["type"] == "text"]
    assert titles == ["分享好时光", "只为不一样的你"]
    for image in plain:
        assert_subject_kept(subject(), image)
    outside = np.asarray(subject().getchannel("A")) == 0
    first, second = rgb(plain[0]), rgb(plain[1])
    assert np.abs(first - second)[outside].mean() > 1, "n=2 gives two different backgrounds"
    assert np.abs(rgb(texted[0]) - first).max() > 10, "the title is drawn on the results"
    notes = " ".join(rsp.output["notes"])
    assert "山脉和晚霞" in notes and "ROOM" in notes and "v3" in notes, notes
    again = scene_call(image_host)
    assert np.array_equal(rgb(download(again.output["text_results"]["urls"][1]["url"])), second), "same seed repeats"


def test_reference_and_prompt_is_image_to_image(on_fill: str, image_host: ImageHost) -> None:
    reference = image_host.put_image("scene-ref.jpg", photo((800, 600), "coffee"), "JPEG")
    results = []
    for noise_level in (0, 999):
        rsp = scene_call(image_host, n=1, noise_level=noise_level, ref_prompt_weight=0.8,
                         inp={"ref_image_url": reference, "title": None, "sub_title": None})
        assert rsp.output["task_status"] == "SUCCEEDED", rsp.output
        assert "text_results" not in rsp.output
        notes = " ".join(rsp.output["notes"])
        assert f"noise_level {noise_level} set strength {0.1 if noise_level == 0 else 1:g}" in notes, notes
        assert "ref_prompt_weight 0.8" in notes
        image = download(rsp.output["results"][0]["url"])
        assert_subject_kept(subject(), image)
        results.append(rgb(image))
    assert np.abs(results[0] - results[1]).mean() > 1, "noise_level changes how far the result moves"


def test_reference_edge_needs_a_controlnet_backend(on_fill: str, image_host: ImageHost) -> None:
    edge = image_host.put_image("scene-edge.png", edge_element((60, 300, 200, 480)))
    rsp = scene_call(image_host, inp={"reference_edge": {"foreground_edge": [edge]}})
    assert rsp.output["task_status"] == "FAILED" and rsp.output["code"] == "EngineUnavailable"
    message = rsp.output["message"]
    assert "line map" in message and "[background_scene]" in message, message
    assert "sdxl-controlnet" in message and "qwen-image-controlnet" in message and on_fill in message, message


def test_studio_prompts_stay_exact_on_the_cpu_backdrop(on_fill: str, image_host: ImageHost) -> None:
    rsp = scene_call(image_host, n=1, inp={"ref_prompt": "纯白背景", "title": None, "sub_title": None})
    assert rsp.output["task_status"] == "SUCCEEDED", rsp.output
    image = rgb(download(rsp.output["results"][0]["url"]))
    assert (image[:20, :20] == 255).all(), "pure white stays pure white"
    assert not any("generated" in note for note in rsp.output["notes"])


def test_listing_says_what_the_engines_serve(fill_server: tuple[EaselServer, str, str]) -> None:
    srv, _, backend = fill_server
    models = {m["model"]: m for m in httpx.get(srv.api + "/models").json()["data"]}
    inputs = models[BG["model"]]["inputs"]
    assert inputs["ref_prompt (scene content)"].startswith(f"available: {backend}")
    assert inputs["reference_edge"].startswith("not available") and "sdxl-controlnet" in inputs["reference_edge"]


def test_without_engines_scene_prompts_name_what_to_configure(sdk: EaselServer, image_host: ImageHost) -> None:
    rsp = scene_call(image_host)
    assert rsp.output["task_status"] == "FAILED" and rsp.output["code"] == "EngineUnavailable"
    message = rsp.output["message"]
    assert "scene content" in message and "[background_scene]" in message and "[fill]" in message, message
    models = {m["model"]: m for m in httpx.get(sdk.api + "/models").json()["data"]}
    assert models[BG["model"]]["inputs"]["ref_prompt (scene content)"].startswith("not available")


# --- reference_edge through a ControlNet backend ------------------------------------------------------------


def edge_element(box: tuple[int, int, int, int]) -> Image.Image:
    """A soft-edge element as seed 003 makes them: white lines on black inside its alpha, transparent elsewhere."""
    image = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse(box, fill=(0, 0, 0, 255), outline=(255, 255, 255, 255), width=4)
    return image


@pytest.fixture(scope="module")
def controlnet_server(tmp_path_factory: pytest.TempPathFactory, tiny_root: Path) -> Iterator[tuple[EaselServer, str]]:
    home = tmp_path_factory.mktemp("background-controlnet-home")
    base, controlnet = (tiny_controlnet.build(name, tiny_root) for name in tiny_controlnet.PAIRS["sdxl-controlnet"])
    text = (f'[fill]\nbackend = "sdxl-inpaint"\nweights = "{tiny_models.build("sdxl-inpaint", tiny_root)}"\n{TINY}'
            f'[background_scene]\nbackend = "sdxl-controlnet"\nweights = "{base}"\ncontrolnet = "{controlnet}"\n'
            f"{TINY}")
    srv = EaselServer(home, engines_toml(home, text)).start()
    try:
        yield srv, srv.new_key()
    finally:
        srv.stop()


def test_reference_edge_through_a_controlnet(controlnet_server: tuple[EaselServer, str], image_host: ImageHost,
                                             use_server: Callable[[EaselServer, str], None]) -> None:
    use_server(*controlnet_server)
    front_box = (380, 300, 560, 480)  # over the subject's lower right, and beyond it
    edges = {"foreground_edge": [image_host.put_image("cn-front.png", edge_element(front_box))],
             "foreground_edge_prompt": ["粉色桃花"],
             "background_edge": [image_host.put_image("cn-back.png", edge_element((20, 20, 200, 200)))],
             "background_edge_prompt": ["树叶"]}
    rsp = scene_call(image_host, n=1, inp={"reference_edge": edges, "title": None, "sub_title": None})
    assert rsp.output["task_status"] == "SUCCEEDED", rsp.output
    image = download(rsp.output["results"][0]["url"])
    assert image.size == SIZE
    front = np.asarray(edge_element(front_box).getchannel("A")) > 0
    assert_subject_kept(subject(), image, keep=~cv2.dilate(front.astype(np.uint8), np.ones((9, 9))).astype(bool))
    covered = front & (np.asarray(subject().getchannel("A")) == 255)
    assert np.abs(rgb(image) - rgb(subject()))[covered].mean() > 5, "the foreground element hides the subject"
    notes = " ".join(rsp.output["notes"])
    assert "1 background and 1 foreground element" in notes, notes
    # a scene prompt without edges cannot go to a ControlNet-only background_scene: said at create time
    plain = scene_call(image_host, n=1)
    assert plain.output["task_status"] == "FAILED" and "line map" in plain.output["message"]
