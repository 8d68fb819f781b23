"""Contracts of background generation, style repaint and qwen-image-edit through the SDK's own entry points."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from dashscope import MultiModalConversation
from dashscope.client.base_api import BaseAsyncApi
from PIL import Image, ImageDraw

from tests.conftest import EaselServer, ImageHost, download, photo, png_bytes

BG = {"model": "wanx-background-generation-v2", "task_group": "aigc", "task": "background-generation",
      "function": "generation"}
REPAINT = {"model": "wanx-style-repaint-v1", "task_group": "aigc", "task": "image-generation",
           "function": "generation"}


def bg_input(**overrides: object) -> dict:
    item = {"base_image_url": "http://e.com/fg.png", "ref_prompt": "纯白背景"}
    item.update(overrides)
    return {k: v for k, v in item.items() if v is not None}


@pytest.mark.parametrize(
    ("inp", "params", "fragment"),
    [
        (bg_input(ref_prompt=None), {}, "at least one of ref_image_url and ref_prompt"),
        (bg_input(base_image_url=None), {}, "input.base_image_url is required"),
        (bg_input(title="一二三四五六七八九"), {}, "input.title"),
        (bg_input(title="标题", sub_title="一二三四五六七八九十X"), {}, "input.sub_title"),
        (bg_input(reference_edge={"foreground_edge": ["http://e.com/a.png"], "foreground_edge_prompt": []}), {},
         "foreground_edge_prompt"),
        (bg_input(reference_edge={"foreground_edge": ["http://e.com/a.png"] * 6,
                                  "background_edge": ["http://e.com/b.png"] * 5}), {}, "at most 10"),
        (bg_input(), {"n": 5}, "parameters.n"),
        (bg_input(), {"noise_level": 1000}, "parameters.noise_level"),
        (bg_input(), {"ref_prompt_weight": 1.5}, "parameters.ref_prompt_weight"),
        (bg_input(), {"scene_type": "OUTDOOR"}, "parameters.scene_type"),
        (bg_input(), {"model_version": "v9"}, "parameters.model_version"),
    ],
)
def test_background_contract(sdk: EaselServer, inp: dict, params: dict, fragment: str) -> None:
    rsp = BaseAsyncApi.async_call(input=inp, **BG, **params)
    assert rsp.status_code == 400 and rsp.code == "InvalidParameter", rsp
    assert fragment in rsp.message


@pytest.mark.parametrize(
    ("inp", "reason"),
    [
        (bg_input(ref_prompt="山脉和晚霞"), "scene content"),
        (bg_input(ref_prompt="a beach at sunset"), "scene content"),
        (bg_input(reference_edge={"foreground_edge": ["http://e.com/a.png"], "foreground_edge_prompt": ["粉色桃花"]}),
         "reference_edge"),
    ],
)
def test_background_generative_requests_fail_honestly(sdk: EaselServer, inp: dict, reason: str) -> None:
    rsp = BaseAsyncApi.call(input=inp, **BG)
    assert rsp.output["task_status"] == "FAILED"
    assert rsp.output["code"] == "EngineUnavailable" and reason in rsp.output["message"]


def test_background_needs_a_real_cutout(sdk: EaselServer, image_host: ImageHost) -> None:
    rsp = BaseAsyncApi.call(input=bg_input(base_image_url=image_host.put_image("opaque.png", photo())), **BG)
    assert rsp.output["task_status"] == "FAILED"
    assert rsp.output["code"] == "InvalidParameter" and "RGBA" in rsp.output["message"]


def cutout() -> Image.Image:
    """The astronaut cut out with an elliptical alpha (transparent background)."""
    rgba = photo((640, 512)).convert("RGBA")
    alpha = Image.new("L", rgba.size, 0)
    ImageDraw.Draw(alpha).ellipse((180, 40, 460, 512), fill=255)
    rgba.putalpha(alpha)
    return rgba


def test_background_studio_backdrop(sdk: EaselServer, image_host: ImageHost) -> None:
    subject = cutout()
    rsp = BaseAsyncApi.call(input={"base_image_url": image_host.put_image("cut.png", subject),
                                   "ref_prompt": "渐变蓝色背景"}, n=2, **BG)
    assert rsp.output["task_status"] == "SUCCEEDED", rsp.output
    first, second = (np.asarray(download(r["url"]).convert("RGB"), dtype=np.int16) for r in rsp.output["results"])
    assert first.shape == second.shape == (512, 640, 3)
    assert np.abs(first - second).mean() > 1, "n variations differ"
    inside = np.asarray(subject.getchannel("A")) == 255
    source = np.asarray(subject.convert("RGB"), dtype=np.int16)
    assert np.abs(first - source)[inside].mean() < 25, "the subject survives (only a light harmonisation)"
    corner = first[:40, :40].reshape(-1, 3).mean(axis=0)
    assert corner[2] > corner[0] + 20, "a blue backdrop"


def test_background_reference_and_title(sdk: EaselServer, image_host: ImageHost) -> None:
    inp = {"base_image_url": image_host.put_image("cut2.png", cutout()),
           "ref_image_url": image_host.put_image("ref.jpg", photo((800, 600), "coffee"), "JPEG"),
           "title": "分享好时光", "sub_title": "只为不一样的你"}
    rsp = BaseAsyncApi.call(input=inp, **BG)
    assert rsp.output["task_status"] == "SUCCEEDED", rsp.output
    texted = np.asarray(download(rsp.output["results"][0]["url"]).convert("RGB"), dtype=np.int16)
    assert rsp.output["text_result"] == rsp.output["text_results"], "the seed's example and table names, both"
    plain = np.asarray(download(rsp.output["text_results"]["urls"][0]["url"]).convert("RGB"), dtype=np.int16)
    params = rsp.output["text_results"]["params"][0]
    assert params["sample_idx"] == 0
    texts = [layer for layer in params["layers"] if layer["type"] == "text"]
    assert [t["content"] for t in texts] == ["分享好时光", "只为不一样的你"]
    for field in ("font_family", "font_size", "font_weight", "font_color", "direction", "alignment", "line_height",
                  "opacity", "top", "left", "width", "height", "text_shadow", "text_stroke"):
        assert field in texts[0], field
    changed = np.abs(texted - plain).max(axis=2) > 10
    boxes = np.zeros_like(changed)
    for layer in params["layers"]:
        boxes[max(0, layer["top"] - 8):layer["top"] + layer["height"] + 8,
              max(0, layer["left"] - 8):layer["left"] + layer["width"] + 8] = True
    assert changed.any() and not (changed & ~boxes).any(), "text pixels lie inside the reported layers"


@pytest.mark.parametrize(
    ("inp", "fragment"),
    [({"style_index": 3}, "input.image_url is required"), ({"image_url": "http://e.com/a.png"}, "style_index"),
     ({"image_url": "http://e.com/a.png", "style_index": 10}, "style_index"),
     ({"image_url": "http://e.com/a.png", "style_index": -1}, "style_index")],
)
def test_style_repaint_contract(sdk: EaselServer, inp: dict, fragment: str) -> None:
    rsp = BaseAsyncApi.async_call(input=inp, **REPAINT)
    assert rsp.status_code == 400 and rsp.code == "InvalidParameter" and fragment in rsp.message


def test_style_repaint_resolution_limits(sdk: EaselServer, image_host: ImageHost) -> None:
    rsp = BaseAsyncApi.call(input={"image_url": image_host.put_image("tiny-face.png", photo((200, 200))),
                                   "style_index": 0}, **REPAINT)
    assert rsp.output["task_status"] == "FAILED" and rsp.output["code"] == "InvalidImageResolution"


def test_style_repaint_portrait(sdk: EaselServer, image_host: ImageHost) -> None:
    rsp = BaseAsyncApi.call(input={"image_url": image_host.put_image("face.png", photo((600, 600))),
                                   "style_index": 7}, **REPAINT)
    assert rsp.output["task_status"] == "SUCCEEDED", rsp.output
    assert rsp.output["result_url"] == rsp.output["results"][0]["url"]
    out = download(rsp.output["result_url"])
    assert out.size == (1536, 1536)
    from easel.engines.face import detect_faces

    assert detect_faces(np.asarray(out.convert("RGB"))), "the person is still recognisable as a face"


def test_style_repaint_refuses_images_without_a_face(sdk: EaselServer, image_host: ImageHost) -> None:
    rsp = BaseAsyncApi.call(input={"image_url": image_host.put_image("cup.png", photo((600, 600), "coffee")),
                                   "style_index": 0}, **REPAINT)
    assert rsp.output["task_status"] == "FAILED"
    assert rsp.output["code"] == "InvalidImage.NoFace" and "face" in rsp.output["message"]


def qwen(messages: list, **kwargs: object):
    return MultiModalConversation.call(model="qwen-image-edit", messages=messages, **kwargs)


def user(*content: dict) -> list:
    return [{"role": "user", "content": list(content)}]


def test_qwen_edit_validates_then_says_what_is_missing(sdk: EaselServer, image_host: ImageHost,
                                                       tmp_path: Path) -> None:
    url = image_host.put_image("qwen.png", photo((512, 512)))
    rsp = qwen(user({"image": url}, {"text": "让宇航员戴上一顶红色的帽子"}), negative_prompt="", watermark=False)
    assert rsp.status_code == 400 and rsp.code == "EngineUnavailable"
    assert "generative" in rsp.message
    local = tmp_path / "local.png"
    photo((512, 512)).save(local)
    assert qwen(user({"image": f"file://{local}"}, {"text": "make it night"})).code == "EngineUnavailable"
    b64 = base64.b64encode(png_bytes(photo((512, 512)))).decode()
    assert qwen(user({"image": "data:image/png;base64," + b64}, {"text": "make it night"})).code == "EngineUnavailable"


@pytest.mark.parametrize(
    ("messages_kwargs", "code", "fragment"),
    [
        ({"content": [{"image": "IMG"}]}, "InvalidParameter", "text"),
        ({"content": [{"text": "hi"}]}, "InvalidParameter", "image"),
        ({"content": [{"image": "IMG"}, {"image": "IMG"}, {"text": "hi"}]}, "InvalidParameter", "exactly one"),
        ({"content": [{"image": "IMG"}, {"text": "长" * 801}]}, "InvalidParameter", "800"),
        ({"content": [{"image": "SMALL"}, {"text": "hi"}]}, "InvalidImageResolution", "384"),
        ({"content": [{"image": "IMG"}, {"text": "hi"}], "negative_prompt": "坏" * 501}, "InvalidParameter",
         "negative_prompt"),
    ],
)
def test_qwen_edit_contract(sdk: EaselServer, image_host: ImageHost, messages_kwargs: dict, code: str,
                            fragment: str) -> None:
    urls = {"IMG": image_host.put_image("q-ok.png", photo((512, 512))),
            "SMALL": image_host.put_image("q-small.png", photo((300, 300)))}
    content = [{k: urls.get(v, v) for k, v in item.items()} for item in messages_kwargs["content"]]
    extra = {k: v for k, v in messages_kwargs.items() if k != "content"}
    rsp = qwen(user(*content), **extra)
    assert rsp.status_code == 400 and rsp.code == code, rsp
    assert fragment in rsp.message


def test_qwen_edit_is_not_an_async_service(sdk: EaselServer) -> None:
    rsp = BaseAsyncApi.async_call(model="qwen-image-edit", input={"messages": []}, task_group="aigc",
                                  task="image2image", function="image-synthesis")
    assert rsp.status_code == 400 and "multimodal-generation" in rsp.message
