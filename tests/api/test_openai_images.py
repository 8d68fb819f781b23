"""POST /v1/images/edits and GET /v1/models through the official `openai` client against a real server."""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import openai
import pytest
from PIL import Image

from tests.conftest import EaselServer, download, photo, png_bytes

SIZE = (512, 512)
HOLE = (200, 200, 300, 300)  # left, top, right, bottom of the area to edit


@pytest.fixture(scope="module")
def client(server: EaselServer, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=api_key, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def base_png() -> bytes:
    return png_bytes(photo(SIZE))


def openai_mask() -> bytes:
    """OpenAI's convention: opaque everywhere except the fully transparent area to edit."""
    rgba = np.full((SIZE[1], SIZE[0], 4), 255, dtype=np.uint8)
    left, top, right, bottom = HOLE
    rgba[top:bottom, left:right, 3] = 0
    return png_bytes(Image.fromarray(rgba, "RGBA"))


def test_masked_removal_url(client: openai.OpenAI, base_png: bytes) -> None:
    result = client.images.edit(image=("photo.png", base_png, "image/png"), mask=("mask.png", openai_mask(),
                                "image/png"), prompt="删除图中的物体", model="wanx2.1-imageedit")
    assert result.created > 0 and result.data and len(result.data) == 1
    edited = np.asarray(download(result.data[0].url).convert("RGB"), dtype=np.int16)
    original = np.asarray(photo(SIZE), dtype=np.int16)
    left, top, right, bottom = HOLE
    inside = np.abs(edited[top:bottom, left:right] - original[top:bottom, left:right]).mean()
    outside = np.abs(edited[:, :150] - original[:, :150]).mean()
    # the transparent area was repainted, the opaque rest kept: the mask's sense is OpenAI's, not inverted
    assert inside > 5 * max(outside, 0.5)


def test_stylization_b64_n2(client: openai.OpenAI, base_png: bytes) -> None:
    result = client.images.edit(image=("photo.png", base_png, "image/png"), prompt="转换成法国绘本风格",
                                model="wanx2.1-imageedit:stylization_all", response_format="b64_json", n=2,
                                size="512x512")  # the input's own size: accepted
    assert result.data is not None and len(result.data) == 2
    for item in result.data:
        assert item.url is None and item.b64_json
        assert Image.open(io.BytesIO(base64.b64decode(item.b64_json))).size == SIZE


def test_bad_key_is_authentication_error(server: EaselServer, base_png: bytes) -> None:
    bad = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.images.edit(image=("photo.png", base_png, "image/png"), prompt="x")
    assert caught.value.status_code == 401
    assert caught.value.body["code"] == "invalid_api_key"


def test_content_edit_without_generative_engine(client: openai.OpenAI, base_png: bytes) -> None:
    # bare wanx2.1-imageedit without a mask is description_edit: it needs an instruct_edit engine, as qwen does
    for model in ("wanx2.1-imageedit", "qwen-image-edit"):
        with pytest.raises(openai.BadRequestError) as caught:
            client.images.edit(image=("photo.png", base_png, "image/png"), prompt="给人物戴上一顶帽子", model=model)
        assert caught.value.status_code == 400
        assert caught.value.body["code"] == "engine_unavailable"
        assert "instruct_edit" in caught.value.body["message"]


def test_input_errors_name_the_field(client: openai.OpenAI, base_png: bytes) -> None:
    cases = [({"model": "gpt-image-1"}, "model"), ({"size": "640x480"}, "size"),
             ({"model": "wanx2.1-imageedit:stylization_all", "mask": ("m.png", openai_mask(), "image/png")}, "mask"),
             ({"model": "wanx-x-painting"}, "mask")]
    for extra, param in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            client.images.edit(image=("photo.png", base_png, "image/png"), prompt="删除", **extra)
        assert caught.value.body["param"] == param, caught.value.body
        assert set(caught.value.body) == {"message", "type", "param", "code"}


def test_models_list(server: EaselServer, client: openai.OpenAI, api_key: str) -> None:
    ids = [m.id for m in client.models.list()]
    assert {"wanx2.1-imageedit", "wanx2.1-imageedit:stylization_all", "wanx-x-painting", "qwen-image-edit"} <= set(ids)
    raw = httpx.get(server.url + "/v1/models", headers={"Authorization": f"Bearer {api_key}"}).json()
    assert raw["object"] == "list"
    assert set(raw["data"][0]) == {"id", "object", "created", "owned_by"} and raw["data"][0]["owned_by"] == "easel"


def test_x_painting_removal_at_its_own_size(client: openai.OpenAI, base_png: bytes) -> None:
    result = client.images.edit(image=("photo.png", base_png, "image/png"), mask=("mask.png", openai_mask(),
                                "image/png"), prompt="去掉", model="wanx-x-painting", size="1280x720")
    assert result.data and download(result.data[0].url or "").size == (1280, 720)


def test_not_a_form_is_an_openai_400(server: EaselServer, api_key: str) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    response = httpx.post(server.url + "/v1/images/edits", json={"prompt": "x"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "image"
    broken = httpx.post(server.url + "/v1/images/edits", content=b"--x\r\nnot a part",
                        headers={**headers, "Content-Type": "multipart/form-data; boundary=x"})
    assert broken.status_code == 400 and "error" in broken.json(), broken.text
