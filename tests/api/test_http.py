"""Raw HTTP: the seed documents' curl request shapes, and every error answer in DashScope's shape."""

from __future__ import annotations

import base64
import io
import json
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image

from tests.conftest import EaselServer, ImageHost, photo, png_bytes

CREATE = "/api/v1/services/aigc/image2image/image-synthesis"


def headers(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "X-DashScope-Async": "enable",
            **extra}


def body(url: str, function: str = "super_resolution", **parameters: object) -> dict:
    return {"model": "wanx2.1-imageedit",
            "input": {"function": function, "prompt": "图像超分", "base_image_url": url},
            "parameters": parameters}


def wait_done(srv: EaselServer, key: str, task_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rsp = httpx.get(f"{srv.api}/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"})
        assert rsp.status_code == 200
        output = rsp.json()["output"]
        if output["task_status"] in ("SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"):
            return rsp.json()
        time.sleep(0.3)
    raise AssertionError(f"task {task_id} did not finish")


def assert_error(rsp: httpx.Response, status: int, code: str, fragment: str = "") -> None:
    assert rsp.status_code == status, rsp.text
    assert rsp.headers["content-type"].startswith("application/json")
    data = rsp.json()
    assert data["code"] == code, data
    assert data["request_id"] and data["message"]
    assert fragment.lower() in data["message"].lower(), data["message"]


def test_seed_curl_create_and_query(server: EaselServer, api_key: str, image_host: ImageHost) -> None:
    url = image_host.put_image("curl.png", photo())
    rsp = httpx.post(server.url + CREATE, headers=headers(api_key), json=body(url, upscale_factor=2))
    assert rsp.status_code == 200
    created = rsp.json()
    assert created["output"]["task_status"] == "PENDING" and created["request_id"]
    done = wait_done(server, api_key, created["output"]["task_id"])
    assert done["output"]["task_status"] == "SUCCEEDED"
    assert done["usage"] == {"image_count": 1}
    result_url = done["output"]["results"][0]["url"]
    image = Image.open(io.BytesIO(httpx.get(result_url).content))
    assert image.size == (1024, 1024)


def test_trailing_slash_variants(server: EaselServer, api_key: str, image_host: ImageHost) -> None:
    url = image_host.put_image("slash.png", photo())
    rsp = httpx.post(server.url + CREATE + "/", headers=headers(api_key), json=body(url))
    assert rsp.status_code == 200
    task_id = rsp.json()["output"]["task_id"]
    polled = httpx.get(f"{server.api}/tasks/{task_id}/", headers=headers(api_key))
    assert polled.status_code == 200 and polled.json()["output"]["task_id"] == task_id
    wait_done(server, api_key, task_id)
    late_cancel = httpx.post(f"{server.api}/tasks/{task_id}/cancel/", headers=headers(api_key),
                             json={"model": "", "parameters": {}, "input": ""})
    assert_error(late_cancel, 400, "UnsupportedOperation", "PENDING")


def test_data_uri_input(server: EaselServer, api_key: str) -> None:
    uri = "data:image/png;base64," + base64.b64encode(png_bytes(photo((512, 512), "coffee"))).decode()
    rsp = httpx.post(server.url + CREATE, headers=headers(api_key), json=body(uri, upscale_factor=1))
    done = wait_done(server, api_key, rsp.json()["output"]["task_id"])
    assert done["output"]["task_status"] == "SUCCEEDED"


def test_results_download_only_with_valid_signature(server: EaselServer, api_key: str,
                                                    image_host: ImageHost) -> None:
    url = image_host.put_image("sig.png", photo())
    task_id = httpx.post(server.url + CREATE, headers=headers(api_key), json=body(url)).json()["output"]["task_id"]
    result_url = wait_done(server, api_key, task_id)["output"]["results"][0]["url"]
    assert httpx.get(result_url).status_code == 200
    parts = urlsplit(result_url)
    query = parse_qs(parts.query)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    assert_error(httpx.get(base), 403, "AccessDenied", "signature")
    assert_error(httpx.get(base, params={"Expires": query["Expires"][0], "Signature": "0" * 40}),
                 403, "AccessDenied", "signature")
    later = str(int(query["Expires"][0]) + 1)
    assert_error(httpx.get(base, params={"Expires": later, "Signature": query["Signature"][0]}),
                 403, "AccessDenied", "signature")
    other = base.replace("/0.png", "/1.png")
    assert_error(httpx.get(other, params={k: v[0] for k, v in query.items()}), 403, "AccessDenied")


@pytest.mark.parametrize(
    ("auth", "fragment"),
    [(None, "No API-key"), ("Bearer sk-wrong", "Invalid API-key"), ("Basic abc", "Invalid Authorization")],
)
def test_auth_errors(server: EaselServer, auth: str | None, fragment: str) -> None:
    hdrs = {"X-DashScope-Async": "enable"}
    if auth:
        hdrs["Authorization"] = auth
    assert_error(httpx.post(server.url + CREATE, headers=hdrs, json=body("http://x/y.png")), 401,
                 "InvalidApiKey", fragment)
    assert_error(httpx.get(server.api + "/tasks/abc", headers=hdrs), 401, "InvalidApiKey")
    assert_error(httpx.get(server.api + "/tasks", headers=hdrs), 401, "InvalidApiKey")
    assert_error(httpx.get(server.api + "/uploads?action=getPolicy&model=m", headers=hdrs), 401, "InvalidApiKey")


def test_revoked_key_is_refused(server: EaselServer) -> None:
    key = server.new_key("short-lived")
    assert httpx.get(server.api + "/tasks", headers=headers(key)).status_code == 200
    server.cli("keys", "revoke", key[:10])
    listing = server.cli("keys", "list")
    assert "revoked" in listing and key not in listing
    # the server caches authentications briefly; revocation reaches it within that time
    deadline = time.monotonic() + 40
    while httpx.get(server.api + "/tasks", headers=headers(key)).status_code == 200:
        assert time.monotonic() < deadline, "revoked key still accepted"
        time.sleep(1)
    assert_error(httpx.get(server.api + "/tasks", headers=headers(key)), 401, "InvalidApiKey")


def test_sync_call_to_async_service_is_refused(server: EaselServer, api_key: str) -> None:
    hdrs = headers(api_key)
    del hdrs["X-DashScope-Async"]
    assert_error(httpx.post(server.url + CREATE, headers=hdrs, json=body("http://example.com/a.png")),
                 403, "AccessDenied", "X-DashScope-Async")


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"input": {}}).encode(), "model is required"),
        (json.dumps({"model": "no-such-model", "input": {}}).encode(), "does not exist"),
    ],
)
def test_malformed_bodies(server: EaselServer, api_key: str, payload: bytes, fragment: str) -> None:
    rsp = httpx.post(server.url + CREATE, headers=headers(api_key), content=payload)
    assert_error(rsp, 400, "InvalidParameter", fragment)


def test_model_on_the_wrong_path(server: EaselServer, api_key: str) -> None:
    rsp = httpx.post(server.api + "/services/aigc/background-generation/generation", headers=headers(api_key),
                     json=body("http://example.com/a.png"))
    assert_error(rsp, 400, "InvalidParameter", "image2image/image-synthesis")


def test_text2image_path_is_accepted_for_image_edit_models(server: EaselServer, api_key: str,
                                                           image_host: ImageHost) -> None:
    url = image_host.put_image("t2i.png", photo())
    rsp = httpx.post(server.api + "/services/aigc/text2image/image-synthesis", headers=headers(api_key),
                     json=body(url))
    assert rsp.status_code == 200


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"input": {"prompt": "x", "base_image_url": "http://e.com/a.png"}}, "input.function is required"),
        ({"input": {"function": "sharpen", "prompt": "x", "base_image_url": "http://e.com/a.png"}},
         "input.function"),
        ({"input": {"function": "super_resolution", "base_image_url": "http://e.com/a.png"}},
         "input.prompt is required"),
        ({"input": {"function": "super_resolution", "prompt": "长" * 801, "base_image_url": "http://e.com/a.png"}},
         "input.prompt"),
        ({"input": {"function": "super_resolution", "prompt": "x"}}, "input.base_image_url is required"),
        ({"input": {"function": "description_edit_with_mask", "prompt": "x", "base_image_url": "http://e.com/a.png"}},
         "mask_image_url is required"),
        ({"parameters": {"n": 5}}, "parameters.n"),
        ({"parameters": {"n": 0}}, "parameters.n"),
        ({"parameters": {"n": 1.5}}, "parameters.n"),
        ({"parameters": {"seed": -1}}, "parameters.seed"),
        ({"parameters": {"seed": 2147483648}}, "parameters.seed"),
        ({"parameters": {"strength": 1.5}}, "parameters.strength"),
        ({"parameters": {"top_scale": 2.5}}, "parameters.top_scale"),
        ({"parameters": {"left_scale": 0.5}}, "parameters.left_scale"),
        ({"parameters": {"upscale_factor": 5}}, "parameters.upscale_factor"),
        ({"parameters": {"upscale_factor": "big"}}, "parameters.upscale_factor"),
        ({"parameters": {"watermark": "maybe"}}, "parameters.watermark"),
        ({"parameters": {"is_sketch": [1]}}, "parameters.is_sketch"),
        ({"parameters": "n=2"}, "parameters must be a JSON object"),
        ({"input": "x"}, "input must be a JSON object"),
    ],
)
def test_contract_violations(server: EaselServer, api_key: str, change: dict, fragment: str) -> None:
    payload = body("http://e.com/a.png")
    payload.update(change)
    assert_error(httpx.post(server.url + CREATE, headers=headers(api_key), json=payload), 400,
                 "InvalidParameter", fragment)


@pytest.mark.parametrize(
    ("url", "code", "fragment"),
    [
        ("file:///etc/passwd", "InvalidParameter", "file://"),
        ("ftp://example.com/a.png", "InvalidURL", "http(s)"),
        ("", "InvalidParameter", "non-empty"),
        ("data:image/png,abc", "InvalidURL", "base64"),
        ("oss://easel-uploads/nobody/2026-01-01/x/a.png", "InvalidParameter", "not a file uploaded"),
    ],
)
def test_bad_urls_at_creation(server: EaselServer, api_key: str, url: str, code: str, fragment: str) -> None:
    assert_error(httpx.post(server.url + CREATE, headers=headers(api_key), json=body(url)), 400, code, fragment)


def test_unknown_path_and_method_are_json(server: EaselServer, api_key: str) -> None:
    assert_error(httpx.get(server.api + "/no/such/path", headers=headers(api_key)), 404, "NotFound")
    assert_error(httpx.delete(server.api + "/tasks", headers=headers(api_key)), 405, "MethodNotAllowed")


@pytest.mark.parametrize(
    ("query", "fragment"),
    [("page_size=0", "page_size"), ("page_size=1000", "page_size"), ("page_no=x", "page_no"),
     ("start_time=yesterday", "start_time"), ("status=DONE", "status")],
)
def test_list_parameter_errors(server: EaselServer, api_key: str, query: str, fragment: str) -> None:
    assert_error(httpx.get(f"{server.api}/tasks?{query}", headers=headers(api_key)), 400, "InvalidParameter",
                 fragment)


def test_unknown_ids(server: EaselServer, api_key: str) -> None:
    rsp = httpx.get(server.api + "/tasks/does-not-exist", headers=headers(api_key))
    assert rsp.status_code == 200
    assert rsp.json()["output"] == {"task_id": "does-not-exist", "task_status": "UNKNOWN"}
    assert_error(httpx.post(server.api + "/tasks/does-not-exist/cancel", headers=headers(api_key)), 400,
                 "UnsupportedOperation")


def test_healthz_and_models(server: EaselServer) -> None:
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    models = {m["model"]: m for m in httpx.get(server.api + "/models").json()["data"]}
    functions = models["wanx2.1-imageedit"]["functions"]
    assert len(functions) == 10 and functions["super_resolution"].startswith("available")
    assert functions["colorization"].startswith("not available")


class TestUploads:
    def policy(self, srv: EaselServer, key: str) -> dict:
        rsp = httpx.get(srv.api + "/uploads", params={"action": "getPolicy", "model": "wanx2.1-imageedit"},
                        headers={"Authorization": f"Bearer {key}"})
        assert rsp.status_code == 200
        return rsp.json()["data"]

    def upload(self, issued: dict, key: str, data: bytes, **overrides: str) -> httpx.Response:
        fields = {"OSSAccessKeyId": issued["oss_access_key_id"], "Signature": issued["signature"],
                  "policy": issued["policy"], "key": key, "x-oss-object-acl": "private",
                  "x-oss-forbid-overwrite": "true", "success_action_status": "200",
                  "x-oss-content-type": "image/png", **overrides}
        return httpx.post(issued["upload_host"], data=fields, files={"file": ("a.png", data)})

    def test_upload_then_use(self, server: EaselServer, api_key: str) -> None:
        policy = self.policy(server, api_key)
        key = policy["upload_dir"] + "/a.png"
        assert self.upload(policy, key, png_bytes(photo())).status_code == 200
        rsp = httpx.post(server.url + CREATE, json=body("oss://" + key),
                         headers=headers(api_key, **{"X-DashScope-OssResourceResolve": "enable"}))
        assert wait_done(server, api_key, rsp.json()["output"]["task_id"])["output"]["task_status"] == "SUCCEEDED"

    def test_forged_or_misplaced_uploads_are_refused(self, server: EaselServer, api_key: str) -> None:
        policy = self.policy(server, api_key)
        data = png_bytes(photo((64, 64)))
        assert_error(self.upload(policy, policy["upload_dir"] + "/a.png", data, Signature="f" * 40), 403,
                     "AccessDenied", "signature")
        for bad_key in ("elsewhere/a.png", policy["upload_dir"] + "/../x.png", policy["upload_dir"] + "/",
                        policy["upload_dir"] + "/sub/a.png"):
            assert_error(self.upload(policy, bad_key, data), 403, "AccessDenied", "upload_dir")
        tampered = json.loads(base64.b64decode(policy["policy"]))
        tampered["dir"] = "easel-uploads/someone-else"
        forged = base64.b64encode(json.dumps(tampered).encode()).decode()
        assert_error(self.upload(policy, "easel-uploads/someone-else/a.png", data, policy=forged), 403,
                     "AccessDenied", "signature")

    def test_upload_of_another_key_cannot_be_used(self, server: EaselServer, api_key: str) -> None:
        other = server.new_key("other")
        policy = self.policy(server, other)
        key = policy["upload_dir"] + "/mine.png"
        assert self.upload(policy, key, png_bytes(photo())).status_code == 200
        rsp = httpx.post(server.url + CREATE, json=body("oss://" + key), headers=headers(api_key))
        assert_error(rsp, 400, "InvalidParameter", "not a file uploaded with this API key")

    def test_upload_size_limit(self, api_only_server: EaselServer) -> None:
        key = api_only_server.new_key("big")
        policy = self.policy(api_only_server, key)
        rsp = self.upload(policy, policy["upload_dir"] + "/big.png", b"\0" * (3 * 1024 * 1024))
        assert_error(rsp, 413, "RequestTooLarge")
