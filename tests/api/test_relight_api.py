"""The relight market API (seed 000) over real HTTP: envelope, APPCODE, nonces, batches, every code row."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw
from sqlalchemy import text

from tests.conftest import EaselServer, ImageHost, photo, postgres_schema_server

SUBMIT, QUERY = "/api/v1/relight/submit", "/api/v1/relight/query"


def subject_mask(size: tuple[int, int] = (512, 512)) -> Image.Image:
    """255 on the astronaut (head and shoulders), 0 elsewhere."""
    mask = Image.new("L", size, 0)
    w, h = size
    draw = ImageDraw.Draw(mask)
    draw.ellipse((w * 0.28, h * 0.08, w * 0.62, h * 0.55), fill=255)
    draw.rectangle((w * 0.12, h * 0.45, w * 0.85, h), fill=255)
    return mask


@pytest.fixture(scope="module")
def inputs(image_host: ImageHost) -> dict[str, str]:
    rgb = photo((512, 512))
    rgba = rgb.convert("RGBA")
    rgba.putalpha(subject_mask())
    return {
        "rgb": image_host.put_image("relight-rgb.png", rgb),
        "mask": image_host.put_image("relight-mask.png", subject_mask()),
        "rgba": image_host.put_image("relight-rgba.png", rgba),
        "small": image_host.put_image("relight-small.png", photo((300, 300))),
        "small_mask": image_host.put_image("relight-small-mask.png", subject_mask((300, 300))),
        "other_mask": image_host.put_image("relight-other-mask.png", subject_mask((640, 512))),
        "not_image": image_host.put("relight-text.png", b"not an image"),
    }


def call(srv: EaselServer, path: str, key: str | None, body: object = None, nonce: str | None = "auto",
         raw: bytes | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"APPCODE {key}"
    if nonce == "auto":
        nonce = uuid.uuid4().hex
    if nonce is not None:
        headers["X-Ca-Nonce"] = nonce
    if raw is not None:
        return httpx.post(srv.url + path, headers=headers, content=raw, timeout=60)
    return httpx.post(srv.url + path, headers=headers, json=body, timeout=60)


def task(inputs: dict[str, str], **overrides: object) -> dict:
    item = {"image": inputs["rgb"], "mask": inputs["mask"], "positive_prompt": "light from the left",
            "guidance_scale": 3.5, "steps": 20, "seed": 209}
    item.update(overrides)
    return {k: v for k, v in item.items() if v is not None}


def submit(srv: EaselServer, key: str, *tasks: dict, **kw: object) -> httpx.Response:
    return call(srv, SUBMIT, key, {"data": {"task_list": list(tasks)}}, **kw)


def assert_code(rsp: httpx.Response, status: int, code: str, fragment: str = "") -> dict:
    assert rsp.status_code == status, rsp.text
    body = rsp.json()
    assert body["success"] is False and body["code"] == code, body
    assert body["requestId"] and fragment.lower() in body["message"].lower(), body["message"]
    return body


def wait_batch(srv: EaselServer, key: str, result_key: str, timeout: float = 180) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rsp = call(srv, QUERY, key, {"data": {"result_key": result_key}})
        statuses = {t["status"] for t in rsp.json()["data"]["task_list"]}
        if statuses <= {"SUCCESS", "FAILED"}:
            return rsp
        time.sleep(0.5)
    raise AssertionError("relight batch did not finish")


@pytest.fixture(scope="module")
def app_code(server: EaselServer) -> str:
    return server.new_key("relight")


def test_submit_and_query_rgb_and_rgba(server: EaselServer, app_code: str, inputs: dict[str, str]) -> None:
    rsp = submit(server, app_code, task(inputs), task(inputs, image=inputs["rgba"], mask=None, seed=None,
                                                      positive_prompt="冷色月光，从右侧打光"))
    assert rsp.status_code == 200, rsp.text
    body = rsp.json()
    assert body["success"] is True and body["code"] == 0 and body["requestId"]
    echoed = body["data"]["task_list"]
    assert [t["status"] for t in echoed] == ["WAITING", "WAITING"]
    assert echoed[0]["seed"] == 209, "a given seed is echoed"
    assert isinstance(echoed[1]["seed"], int), "a missing seed is generated and returned"
    assert echoed[0]["positive_prompt"] == "light from the left"

    done = wait_batch(server, app_code, body["data"]["result_key"])
    assert done.status_code == 200 and done.json()["success"] is True
    results = done.json()["data"]["task_list"]
    assert [t["status"] for t in results] == ["SUCCESS", "SUCCESS"], results
    for item in results:
        assert len(item["results"]) == 1 and isinstance(item["results"][0], str)
        image = Image.open(io.BytesIO(httpx.get(item["results"][0]).content))
        assert image.size == (512, 512)
    assert results[1]["seed"] == echoed[1]["seed"]


def test_batch_of_ten_accepted_eleven_refused(server: EaselServer, app_code: str, inputs: dict[str, str]) -> None:
    ten = [task(inputs) for _ in range(10)]
    rsp = submit(server, app_code, *ten)
    assert rsp.status_code == 200 and len(rsp.json()["data"]["task_list"]) == 10
    assert_code(submit(server, app_code, *ten, task(inputs)), 400, "23500013", "at most 10")


def test_nonce_is_required_and_never_accepted_twice(server: EaselServer, app_code: str,
                                                    inputs: dict[str, str]) -> None:
    assert_code(submit(server, app_code, task(inputs), nonce=None), 400, "23500009", "X-Ca-Nonce")
    nonce = uuid.uuid4().hex
    first = submit(server, app_code, task(inputs), nonce=nonce)
    assert first.status_code == 200
    assert_code(submit(server, app_code, task(inputs), nonce=nonce), 400, "23500013", "already used")
    key = first.json()["data"]["result_key"]
    assert_code(call(server, QUERY, app_code, {"data": {"result_key": key}}, nonce=nonce), 400, "23500013")


@pytest.mark.parametrize("auth", [None, "wrong-code"])
def test_bad_app_code(server: EaselServer, inputs: dict[str, str], auth: str | None) -> None:
    assert_code(submit(server, auth, task(inputs)), 401, "23500001")


def test_bearer_is_not_an_app_code(server: EaselServer, app_code: str, inputs: dict[str, str]) -> None:
    rsp = httpx.post(server.url + SUBMIT, json={"data": {"task_list": [task(inputs)]}},
                     headers={"Authorization": f"Bearer {app_code}", "X-Ca-Nonce": uuid.uuid4().hex})
    assert_code(rsp, 401, "23500001", "APPCODE")


@pytest.mark.parametrize(
    ("change", "code", "fragment"),
    [
        ({"positive_prompt": None}, "23500009", "positive_prompt is required"),
        ({"positive_prompt": ""}, "23500009", "positive_prompt is required"),
        ({"image": None}, "23500009", "image is required"),
        ({"guidance_scale": None}, "23500009", "guidance_scale"),
        ({"steps": None}, "23500009", "steps"),
        ({"mask": None}, "23500009", "mask is required"),
        ({"guidance_scale": 25}, "23500013", "guidance_scale"),
        ({"guidance_scale": 0.5}, "23500013", "guidance_scale"),
        ({"steps": 10}, "23500013", "steps"),
        ({"steps": 51}, "23500013", "steps"),
        ({"steps": "many"}, "23500013", "steps"),
        ({"seed": -3}, "23500013", "seed"),
        ({"positive_prompt": "光" * 501}, "23500013", "positive_prompt"),
        ({"image": "ftp://example.com/a.png"}, "23500006", "http"),
        ({"image": "http://127.0.0.1:9/a.png"}, "23500006", "could not fetch"),
        ({"image": "http://10.0.0.7/a.png"}, "23500006", "non-public"),
        ({"image": "small", "mask": "small_mask"}, "23500007", "300x300"),
        ({"mask": "other_mask"}, "23500007", "same resolution"),
        ({"image": "not_image"}, "23500007", "not a readable image"),
    ],
)
def test_task_errors(server: EaselServer, app_code: str, inputs: dict[str, str], change: dict, code: str,
                     fragment: str) -> None:
    resolved = {k: inputs.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    item = task(inputs)
    for field, value in resolved.items():
        if value is None:
            item.pop(field, None)
        else:
            item[field] = value
    assert_code(submit(server, app_code, item), 400, code, fragment)


@pytest.mark.parametrize(
    ("raw", "code"),
    [(b"", "23500012"), (b"{nope", "23500013"), (b'{"data": {}}', "23500009"),
     (b'{"data": {"task_list": []}}', "23500009"), (b'{"data": {"task_list": {}}}', "23500013")],
)
def test_body_errors(server: EaselServer, app_code: str, raw: bytes, code: str) -> None:
    assert_code(call(server, SUBMIT, app_code, raw=raw), 400, code)


def test_query_errors_and_isolation(server: EaselServer, app_code: str, inputs: dict[str, str]) -> None:
    assert_code(call(server, QUERY, app_code, {"data": {}}), 400, "23500009", "result_key")
    assert_code(call(server, QUERY, app_code, {"data": {"result_key": "nope"}}), 400, "23500008")
    mine = submit(server, app_code, task(inputs)).json()["data"]["result_key"]
    other = server.new_key("relight-other")
    assert_code(call(server, QUERY, other, {"data": {"result_key": mine}}), 400, "23500008")
    assert call(server, QUERY, app_code, {"data": {"result_key": mine}}).status_code == 200


def test_unknown_relight_service(server: EaselServer, app_code: str) -> None:
    assert_code(call(server, "/api/v1/relight/retouch", app_code, {"data": {}}), 404, "23500002")


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EaselServer]:
    env = {"EASEL_RELIGHT_QUOTA": "3", "EASEL_RELIGHT_RATE_PER_S": "0.5", "EASEL_WORKERS": "0"}
    srv = EaselServer(tmp_path_factory.mktemp("relight-limited"), env).start()
    yield srv
    srv.stop()


def test_quota_exhausted(limited_server: EaselServer, inputs: dict[str, str]) -> None:
    key = limited_server.new_key("quota")
    assert submit(limited_server, key, task(inputs), task(inputs)).status_code == 200
    time.sleep(2.1)  # stay under the rate limit
    assert_code(submit(limited_server, key, task(inputs), task(inputs)), 403, "23500003", "quota")
    time.sleep(2.1)
    assert submit(limited_server, key, task(inputs)).status_code == 200, "the last unit of quota is usable"


def test_throttled(limited_server: EaselServer, inputs: dict[str, str]) -> None:
    key = limited_server.new_key("throttle")
    assert submit(limited_server, key, task(inputs)).status_code == 200
    assert_code(submit(limited_server, key, task(inputs)), 403, "23500004", "slow down")


def test_job_failed(tmp_path, inputs: dict[str, str]) -> None:
    """A task whose staged input vanished before it ran ends FAILED; a batch of only failures is 23500011."""
    home = tmp_path / "home"
    srv = EaselServer(home, {"EASEL_WORKERS": "0"}).start()
    key = srv.new_key()
    result_key = submit(srv, key, task(inputs)).json()["data"]["result_key"]
    srv.stop()
    for staged in (home / "blobs" / "uploads" / "relight" / result_key).iterdir():
        staged.unlink()
    again = EaselServer(home, {"EASEL_WORKERS": "1"}, port=srv.port).start()
    try:
        rsp = wait_batch(again, key, result_key, timeout=60)
        body = assert_code(rsp, 500, "23500011", "gone")
        assert body["data"]["task_list"][0]["status"] == "FAILED"
    finally:
        again.stop()


def test_internal_error(tmp_path, inputs: dict[str, str]) -> None:
    """Losing the database mid-flight answers 500 23500000 in the envelope, not a stack trace."""
    with postgres_schema_server(tmp_path / "pg") as (srv, key, admin, schema):
        assert submit(srv, key, task(inputs)).status_code == 200, "works on PostgreSQL"
        with admin.connect() as conn:  # type: ignore[attr-defined]
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        assert_code(submit(srv, key, task(inputs)), 500, "23500000")


def test_relit_image_changes_the_subject(server: EaselServer, app_code: str, inputs: dict[str, str]) -> None:
    left = submit(server, app_code, task(inputs, positive_prompt="strong light from the left"),
                  task(inputs, positive_prompt="strong light from the right"))
    done = wait_batch(server, app_code, left.json()["data"]["result_key"]).json()["data"]["task_list"]
    images = [np.asarray(Image.open(io.BytesIO(httpx.get(t["results"][0]).content)).convert("L"), dtype=float)
              for t in done]
    face = (slice(90, 260), slice(170, 290))
    half = (face[1].start + face[1].stop) // 2
    left_img, right_img = images
    left_gain = left_img[face[0], face[1].start:half].mean() - left_img[face[0], half:face[1].stop].mean()
    right_gain = right_img[face[0], face[1].start:half].mean() - right_img[face[0], half:face[1].stop].mean()
    assert left_gain > right_gain + 10, (left_gain, right_gain)
