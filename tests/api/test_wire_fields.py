"""Wire fields the seeds show: creates answer PENDING, FAILED tasks carry usage and task_metrics, the seeds'
types are enforced (no coercion of text to numbers or booleans), x-painting's size rule fails the task."""

from __future__ import annotations

import httpx
import pytest

from tests.api.test_http import CREATE, body, headers, wait_done
from tests.conftest import EaselServer, ImageHost, photo


def test_a_doomed_create_answers_pending_and_fails_on_query(server: EaselServer, api_key: str,
                                                           image_host: ImageHost) -> None:
    url = image_host.put_image("doomed.png", photo())
    request = body(url, "description_edit", n=2)  # no instruct_edit engine on this server
    created = httpx.post(server.url + CREATE, headers=headers(api_key), json=request).json()
    assert created["output"]["task_status"] == "PENDING"
    done = wait_done(server, api_key, created["output"]["task_id"])
    assert done["output"]["task_status"] == "FAILED" and done["output"]["code"] == "EngineUnavailable"
    assert done["output"]["task_metrics"] == {"TOTAL": 2, "SUCCEEDED": 0, "FAILED": 2}
    assert done["usage"]["image_num"] == 0


@pytest.mark.parametrize("parameters", [{"is_sketch": "yes"}, {"watermark": "no"}, {"n": True}, {"n": "2"},
                                        {"seed": "42"}, {"strength": "0.5"}, {"upscale_factor": True}])
def test_text_and_booleans_are_not_coerced(parameters: dict, server: EaselServer, api_key: str) -> None:
    rsp = httpx.post(server.url + CREATE, headers=headers(api_key),
                     json=body("https://example.com/a.png", **parameters))
    assert rsp.status_code == 400 and rsp.json()["code"] == "InvalidParameter", rsp.text
    assert next(iter(parameters)) in rsp.json()["message"]


def test_style_index_as_text_is_refused(server: EaselServer, api_key: str) -> None:
    request = {"model": "wanx-style-repaint-v1",
               "input": {"image_url": "https://example.com/a.png", "style_index": "3"}}
    rsp = httpx.post(server.url + "/api/v1/services/aigc/image-generation/generation", headers=headers(api_key),
                     json=request)
    assert rsp.status_code == 400 and "style_index" in rsp.json()["message"], rsp.text


def test_x_painting_size_is_a_failed_task_with_the_seeds_message(server: EaselServer, api_key: str,
                                                                 image_host: ImageHost) -> None:
    request = {"model": "wanx-x-painting",
               "input": {"prompt": "删除", "base_image_url": image_host.put_image("xs.png", photo((512, 512))),
                         "mask_image_url": image_host.put_image("xsm.png", photo((512, 512)))},
               "parameters": {"size": "999*999"}}
    created = httpx.post(server.url + CREATE, headers=headers(api_key), json=request).json()
    assert created["output"]["task_status"] == "PENDING"
    done = wait_done(server, api_key, created["output"]["task_id"])
    assert done["output"]["code"] == "InvalidParameter"
    assert done["output"]["message"].startswith("The size is not match the allowed size")


def test_x_painting_side_bounds_are_strict(server: EaselServer, api_key: str, image_host: ImageHost) -> None:
    request = {"model": "wanx-x-painting",
               "input": {"prompt": "删除", "base_image_url": image_host.put_image("x256.png", photo((256, 300))),
                         "mask_image_url": image_host.put_image("x256m.png", photo((256, 300)))}}
    created = httpx.post(server.url + CREATE, headers=headers(api_key), json=request).json()
    done = wait_done(server, api_key, created["output"]["task_id"])
    assert done["output"]["task_status"] == "FAILED" and done["output"]["code"] == "InvalidImageResolution"


def test_empty_title_is_absent_and_a_lone_sub_title_is_ignored() -> None:
    from easel.catalog.registry import MODELS

    model = MODELS["wanx-background-generation-v2"]
    base = {"base_image_url": "https://example.com/fg.png", "ref_prompt": "纯白背景"}
    empty = model.validate({"input": {**base, "title": ""}})
    assert empty.request["input"]["title"] is None
    lone = model.validate({"input": {**base, "sub_title": "只有副标题"}})
    assert lone.request["input"]["title"] is None and lone.request["input"]["sub_title"] is None
