"""wanx2.1-imageedit through the official dashscope SDK: call, async_call/fetch/wait/cancel/list, aio, uploads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from dashscope import ImageSynthesis
from dashscope.aigc.image_synthesis import AioImageSynthesis
from PIL import Image

from tests.conftest import EaselServer, ImageHost, download, photo

MODEL = "wanx2.1-imageedit"


def test_call_super_resolution_from_http_url(sdk: EaselServer, image_host: ImageHost) -> None:
    url = image_host.put_image("small.png", photo((512, 512)))
    rsp = ImageSynthesis.call(model=MODEL, function="super_resolution", prompt="图像超分",
                              base_image_url=url, upscale_factor=2)
    assert rsp.status_code == 200, rsp
    assert rsp.output.task_status == "SUCCEEDED", rsp.output
    assert rsp.usage.image_count == 1
    out = download(rsp.output.results[0].url)
    assert out.size == (1024, 1024)
    # the result is the photo, upscaled: it matches a plain resize closely, far from a flat image
    reference = np.asarray(photo((1024, 1024)), dtype=np.float32)
    error = np.abs(np.asarray(out.convert("RGB"), dtype=np.float32) - reference).mean()
    assert error < 12, error
    metrics = rsp.output.task_metrics
    assert metrics == {"TOTAL": 1, "SUCCEEDED": 1, "FAILED": 0}
    for key in ("submit_time", "scheduled_time", "end_time"):
        assert rsp.output[key], key


def test_call_with_local_file_uploads_it(sdk: EaselServer, tmp_path: Path) -> None:
    path = tmp_path / "small.jpg"
    photo((512, 640), "coffee").save(path, "JPEG", quality=92)
    rsp = ImageSynthesis.call(model=MODEL, function="super_resolution", prompt="图像超分",
                              base_image_url=f"file://{path}", upscale_factor=4)
    assert rsp.output.task_status == "SUCCEEDED", rsp.output
    assert download(rsp.output.results[0].url).size == (2048, 2560)


def test_bare_local_path_is_uploaded_too(sdk: EaselServer, tmp_path: Path) -> None:
    path = tmp_path / "bare.png"
    photo((520, 512)).save(path)
    rsp = ImageSynthesis.call(model=MODEL, function="super_resolution", prompt="高清放大",
                              base_image_url=str(path), upscale_factor=1)
    assert rsp.output.task_status == "SUCCEEDED", rsp.output
    assert download(rsp.output.results[0].url).size == (520, 512)


def test_async_call_fetch_wait(sdk: EaselServer, image_host: ImageHost) -> None:
    url = image_host.put_image("async.png", photo((512, 512), "chelsea"))
    task = ImageSynthesis.async_call(model=MODEL, function="super_resolution", prompt="图像超分",
                                     base_image_url=url, upscale_factor=2, n=2, seed=7)
    assert task.status_code == 200
    assert task.output.task_status == "PENDING"
    fetched = ImageSynthesis.fetch(task)
    assert fetched.output.task_status in ("PENDING", "RUNNING", "SUCCEEDED")
    done = ImageSynthesis.wait(task)
    assert done.output.task_status == "SUCCEEDED"
    assert len(done.output.results) == 2 and done.usage.image_count == 2
    first, second = (download(r.url) for r in done.output.results)
    assert first.size == second.size == (1024, 1024)
    # super-resolution is deterministic: n results are the same image
    assert np.array_equal(np.asarray(first), np.asarray(second))


def test_watermark_marks_the_corner_only(sdk: EaselServer, image_host: ImageHost) -> None:
    url = image_host.put_image("wm.png", photo((512, 512), "rocket"))
    plain, marked = (
        ImageSynthesis.call(model=MODEL, function="super_resolution", prompt="图像超分",
                            base_image_url=url, upscale_factor=1, watermark=flag)
        for flag in (False, True)
    )
    a = np.asarray(download(plain.output.results[0].url).convert("RGB"), dtype=np.int16)
    b = np.asarray(download(marked.output.results[0].url).convert("RGB"), dtype=np.int16)
    changed = np.abs(a - b).max(axis=2) > 30
    ys, xs = np.nonzero(changed)
    assert len(ys) > 50, "the mark must be visible"
    assert ys.min() > 512 * 0.85 and xs.min() > 512 * 0.6, "the mark stays in the bottom-right corner"


def test_cancel_pending_task(api_only_server: EaselServer, use_server, image_host: ImageHost) -> None:
    use_server(api_only_server, api_only_server.new_key("cancel"))
    url = image_host.put_image("cancel.png", photo())
    task = ImageSynthesis.async_call(model=MODEL, function="super_resolution", prompt="x", base_image_url=url)
    canceled = ImageSynthesis.cancel(task)
    assert canceled.status_code == 200
    assert ImageSynthesis.fetch(task).output.task_status == "CANCELED"
    again = ImageSynthesis.cancel(task)
    assert again.status_code == 400 and again.code == "UnsupportedOperation"


def test_list_pages_and_filters(api_only_server: EaselServer, use_server, image_host: ImageHost) -> None:
    use_server(api_only_server, api_only_server.new_key("lister"))
    url = image_host.put_image("list.png", photo())
    ids = [ImageSynthesis.async_call(model=MODEL, function="super_resolution", prompt="x",
                                     base_image_url=url).output.task_id for _ in range(3)]
    ImageSynthesis.cancel(ids[0])
    page = ImageSynthesis.list(page_no=1, page_size=2)
    assert page.status_code == 200
    assert page.output["total"] == 3 and len(page.output["data"]) == 2
    assert page.output["tasks"] == page.output["data"]
    second = ImageSynthesis.list(page_no=2, page_size=2)
    listed = {t["task_id"] for t in page.output["data"] + second.output["data"]}
    assert listed == set(ids)
    pending = ImageSynthesis.list(status="PENDING", model_name=MODEL)
    assert {t["task_id"] for t in pending.output["data"]} == set(ids[1:])
    assert ImageSynthesis.list(model_name="wanx-x-painting").output["total"] == 0


def test_aio_client(sdk: EaselServer, image_host: ImageHost) -> None:
    url = image_host.put_image("aio.png", photo((512, 512)))

    async def scenario() -> tuple:
        done = await AioImageSynthesis.call(model=MODEL, function="super_resolution", prompt="图像超分",
                                            base_image_url=url, upscale_factor=2)
        fetched = await AioImageSynthesis.fetch(done.output.task_id)
        return done, fetched

    done, fetched = asyncio.run(scenario())
    assert done.output.task_status == "SUCCEEDED"
    assert fetched.output.task_status == "SUCCEEDED"
    assert download(done.output.results[0].url).size == (1024, 1024)


def test_aio_cancel(api_only_server: EaselServer, use_server, image_host: ImageHost) -> None:
    use_server(api_only_server, api_only_server.new_key("aio-cancel"))
    url = image_host.put_image("aio-cancel.png", photo())

    async def scenario() -> tuple:
        task = await AioImageSynthesis.async_call(model=MODEL, function="super_resolution", prompt="x",
                                                  base_image_url=url)
        canceled = await AioImageSynthesis.cancel(task)
        fetched = await AioImageSynthesis.fetch(task)
        return canceled, fetched

    canceled, fetched = asyncio.run(scenario())
    assert canceled.status_code == 200
    assert fetched.output.task_status == "CANCELED"


@pytest.mark.parametrize(
    ("make_url", "code"),
    [
        (lambda host: "http://127.0.0.1:9/missing.png", "InvalidURL"),
        (lambda host: host.put("not-image.png", b"this is not an image"), "InvalidImageFormat"),
        (lambda host: host.put_image("tiny.png", photo((256, 256))), "InvalidImageResolution"),
    ],
    ids=["unreachable", "not-an-image", "too-small"],
)
def test_bad_inputs_end_failed_with_code(sdk: EaselServer, image_host: ImageHost, make_url, code: str) -> None:
    rsp = ImageSynthesis.call(model=MODEL, function="super_resolution", prompt="x",
                              base_image_url=make_url(image_host), upscale_factor=2)
    assert rsp.status_code == 200
    assert rsp.output.task_status == "FAILED"
    assert rsp.output.code == code, rsp.output
    assert rsp.output.message


def test_function_without_engine_fails_clearly(sdk: EaselServer, image_host: ImageHost) -> None:
    url = image_host.put_image("color.png", photo())
    rsp = ImageSynthesis.call(model=MODEL, function="colorization", prompt="自然真实色彩", base_image_url=url)
    assert rsp.output.task_status == "FAILED"
    assert rsp.output.code == "EngineUnavailable"
    assert "colorization" in rsp.output.message


def test_unknown_task_id_is_unknown(sdk: EaselServer) -> None:
    rsp = ImageSynthesis.fetch("00000000-0000-0000-0000-000000000000")
    assert rsp.status_code == 200 and rsp.output.task_status == "UNKNOWN"


def test_create_error_raises_in_call_and_returns_in_async_call(sdk: EaselServer, image_host: ImageHost) -> None:
    url = image_host.put_image("n.png", photo())
    rsp = ImageSynthesis.async_call(model=MODEL, function="super_resolution", prompt="x",
                                    base_image_url=url, n=9)
    assert rsp.status_code == 400 and rsp.code == "InvalidParameter"
    assert "parameters.n" in rsp.message
    with pytest.raises(Exception, match="InvalidParameter"):
        ImageSynthesis.call(model=MODEL, function="super_resolution", prompt="x", base_image_url=url, n=9)


def test_image_with_alpha_keeps_it(sdk: EaselServer, image_host: ImageHost) -> None:
    rgba = photo((512, 512)).convert("RGBA")
    alpha = Image.new("L", rgba.size, 0)
    alpha.paste(255, (128, 128, 384, 384))
    rgba.putalpha(alpha)
    url = image_host.put_image("alpha.png", rgba)
    rsp = ImageSynthesis.call(model=MODEL, function="super_resolution", prompt="x", base_image_url=url,
                              upscale_factor=2)
    out = download(rsp.output.results[0].url)
    assert out.mode == "RGBA" and out.size == (1024, 1024)
    a = np.asarray(out.getchannel("A"))
    assert a[512, 512] == 255 and a[20, 20] == 0
