"""Webhooks through real servers: a loopback receiver gets each ended task's JSON, signed, retried, persisted.

Signatures are checked with examples/verify_webhook.py, the snippet docs/operations.md prints for receivers.
"""

from __future__ import annotations

import base64
import http.server
import json
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from easel.webhooks.signing import signature
from tests.api.test_relight_api import subject_mask
from tests.conftest import ROOT, EaselServer, ImageHost, photo, png_bytes, postgres_schema_server

CREATE = "/api/v1/services/aigc/image2image/image-synthesis"
SNIPPET = ROOT / "examples" / "verify_webhook.py"


def load_verifier() -> Callable[..., bool]:
    namespace: dict[str, object] = {}
    exec(compile(SNIPPET.read_text(), str(SNIPPET), "exec"), namespace)
    return namespace["verify_easel_webhook"]  # type: ignore[return-value]


verify = load_verifier()


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A loopback HTTP server that records every POST and answers from a script of statuses (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[Delivery] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.received.append(Delivery(path, headers, body))
            return self.statuses.pop(0) if self.statuses else 200

    def for_path(self, path: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.received if d.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 60) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.for_path(path)
            if len(got) >= count:
                return got
            time.sleep(0.1)
        raise AssertionError(f"{path} got {len(self.for_path(path))} deliveries, expected {count}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = rec.answer(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield rec
    httpd.shutdown()


def hook_path() -> str:
    return f"/hook/{uuid.uuid4().hex}"


# Retries after a fraction of a second, so the retry tests take seconds, not minutes.
FAST_RETRIES = {"EASEL_WEBHOOK_RETRY_BASE_S": "0.2", "EASEL_WEBHOOK_RETRY_MAX_S": "1"}


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EaselServer]:
    srv = EaselServer(tmp_path_factory.mktemp("easel-webhooks"), dict(FAST_RETRIES))
    srv.home.mkdir(parents=True, exist_ok=True)
    srv.new_key("bootstrap")  # no first-key banner
    srv.start()
    yield srv
    srv.stop()


def key_with_secret(srv: EaselServer, *args: str) -> tuple[str, str]:
    """A new API key and the webhook secret `easel keys callback` printed for it."""
    key = srv.new_key("hooks")
    out = srv.cli("keys", "callback", key[:10], *args, "--secret")
    secret = out.strip().splitlines()[-1]
    assert re.fullmatch(r"whsec_[0-9a-f]{48}", secret), out
    return key, secret


def create(srv: EaselServer, key: str, image_url: str, callback: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"}
    if callback is not None:
        headers["X-Easel-Callback"] = callback
    body = {"model": "wanx2.1-imageedit",
            "input": {"function": "super_resolution", "prompt": "图像超分", "base_image_url": image_url},
            "parameters": {"upscale_factor": 2}}
    return httpx.post(srv.url + CREATE, headers=headers, json=body, timeout=60)


def task_json(srv: EaselServer, key: str, task_id: str) -> dict:
    return httpx.get(f"{srv.api}/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"}).json()


def without_request_id(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "request_id"}


def assert_signed(delivery: Delivery, secret: str) -> dict:
    assert delivery.headers["content-type"] == "application/json"
    assert verify(secret, delivery.body, delivery.headers["x-easel-signature"])
    return json.loads(delivery.body)


def test_succeeded_task_is_posted_signed(hooks: EaselServer, receiver: Receiver, image_host: ImageHost) -> None:
    key, secret = key_with_secret(hooks)
    path = hook_path()
    created = create(hooks, key, image_host.put_image("hook-ok.png", photo((512, 512))), receiver.url(path))
    assert created.status_code == 200, created.text
    task_id = created.json()["output"]["task_id"]
    (delivery,) = receiver.wait_for(path)
    body = assert_signed(delivery, secret)
    assert body["output"]["task_id"] == task_id and body["output"]["task_status"] == "SUCCEEDED"
    assert delivery.headers["x-easel-attempt"] == "1"
    # the same JSON a poll returns (its request_id aside)
    assert without_request_id(body) == without_request_id(task_json(hooks, key, task_id))
    assert httpx.get(body["output"]["results"][0]["url"]).status_code == 200
    time.sleep(1.5)
    assert len(receiver.for_path(path)) == 1  # delivered once: a 200 settles it


def test_forged_or_tampered_deliveries_fail_verification(hooks: EaselServer, receiver: Receiver) -> None:
    key, secret = key_with_secret(hooks)
    path = hook_path()
    uri = "data:image/png;base64," + base64.b64encode(png_bytes(photo((512, 512)))).decode()
    create(hooks, key, uri, receiver.url(path))
    (delivery,) = receiver.wait_for(path)
    header = delivery.headers["x-easel-signature"]
    assert verify(secret, delivery.body, header)
    tampered = delivery.body.replace(b"SUCCEEDED", b"FAILED")
    assert tampered != delivery.body and not verify(secret, tampered, header)
    assert not verify("whsec_" + "0" * 48, delivery.body, header)  # another secret
    stale = signature(secret, delivery.body, int(time.time()) - 3600)  # a replay of an old delivery
    assert not verify(secret, delivery.body, stale)
    assert not verify(secret, delivery.body, "t=abc,v1=00")


def test_failed_task_is_posted(hooks: EaselServer, receiver: Receiver, image_host: ImageHost) -> None:
    key, secret = key_with_secret(hooks)
    path = hook_path()
    created = create(hooks, key, image_host.url("no-such-image.png"), receiver.url(path))
    task_id = created.json()["output"]["task_id"]
    (delivery,) = receiver.wait_for(path)
    body = assert_signed(delivery, secret)
    assert body["output"]["task_status"] == "FAILED" and body["output"]["code"] == "InvalidURL"
    assert without_request_id(body) == without_request_id(task_json(hooks, key, task_id))


def test_receiver_errors_are_retried(hooks: EaselServer, receiver: Receiver) -> None:
    key, secret = key_with_secret(hooks)
    path = hook_path()
    receiver.statuses.extend([500, 503])
    uri = "data:image/png;base64," + base64.b64encode(png_bytes(photo((512, 512)))).decode()
    create(hooks, key, uri, receiver.url(path))
    first, second, third = receiver.wait_for(path, 3)
    assert [d.headers["x-easel-attempt"] for d in (first, second, third)] == ["1", "2", "3"]
    assert first.body == second.body == third.body  # the body is fixed once; each attempt is signed anew
    for delivery in (first, second, third):
        assert_signed(delivery, secret)
    time.sleep(1.5)
    assert len(receiver.for_path(path)) == 3


def test_key_default_callback_needs_no_header(hooks: EaselServer, receiver: Receiver) -> None:
    path = hook_path()
    key, secret = key_with_secret(hooks, receiver.url(path))
    uri = "data:image/png;base64," + base64.b64encode(png_bytes(photo((512, 512)))).decode()
    task_id = create(hooks, key, uri).json()["output"]["task_id"]
    (delivery,) = receiver.wait_for(path)
    assert assert_signed(delivery, secret)["output"]["task_id"] == task_id


def test_bad_callback_urls_are_refused_on_create(hooks: EaselServer) -> None:
    key, _secret = key_with_secret(hooks)
    for bad in ("ftp://example.com/hook", "not a url", "http://[::1/hook", "http://" + "a" * 3000 + ".com/"):
        rsp = create(hooks, key, "data:image/png;base64,AAAA", bad)
        assert rsp.status_code == 400, rsp.text
        data = rsp.json()
        assert data["code"] == "InvalidURL" and data["request_id"], data
        assert "X-Easel-Callback" in data["message"], data
    no_secret = hooks.new_key("no-webhook-secret")
    rsp = create(hooks, no_secret, "data:image/png;base64,AAAA", "http://127.0.0.1:9/hook")
    assert rsp.status_code == 400 and rsp.json()["code"] == "InvalidParameter"
    assert "easel keys callback" in rsp.json()["message"]


def test_relight_batch_is_posted_once_it_ends(hooks: EaselServer, receiver: Receiver, image_host: ImageHost) -> None:
    key, secret = key_with_secret(hooks)
    path = hook_path()
    item = {"image": image_host.put_image("hook-relight.png", photo((512, 512))),
            "mask": image_host.put_image("hook-relight-mask.png", subject_mask()),
            "positive_prompt": "warm light from the left", "guidance_scale": 3.5, "steps": 15}
    body = {"data": {"task_list": [item, dict(item, positive_prompt="cold moonlight")]}}

    def submit(callback: str) -> httpx.Response:
        headers = {"Authorization": f"APPCODE {key}", "X-Ca-Nonce": uuid.uuid4().hex, "X-Easel-Callback": callback}
        return httpx.post(hooks.url + "/api/v1/relight/submit", headers=headers, json=body, timeout=60)

    rsp = submit(receiver.url(path))
    assert rsp.status_code == 200 and rsp.json()["success"], rsp.text
    result_key = rsp.json()["data"]["result_key"]
    (delivery,) = receiver.wait_for(path, timeout=240)  # one delivery for the batch
    posted = assert_signed(delivery, secret)
    assert posted["success"] is True and posted["data"]["result_key"] == result_key
    assert [t["status"] for t in posted["data"]["task_list"]] == ["SUCCESS", "SUCCESS"]
    query = httpx.post(hooks.url + "/api/v1/relight/query", json={"data": {"result_key": result_key}},
                       headers={"Authorization": f"APPCODE {key}", "X-Ca-Nonce": uuid.uuid4().hex}).json()
    assert {k: v for k, v in posted.items() if k != "requestId"} == {k: v for k, v in query.items() if k != "requestId"}
    refused = submit("gopher://example.com/")
    assert refused.status_code == 400 and refused.json()["success"] is False
    assert "X-Easel-Callback" in refused.json()["message"]


def test_pending_delivery_survives_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    srv = EaselServer(tmp_path / "home", dict(FAST_RETRIES))
    srv.home.mkdir(parents=True)
    key, secret = key_with_secret(srv)
    path = hook_path()
    receiver.statuses.extend([503] * 200)  # down until the test says otherwise
    srv.start()
    try:
        uri = "data:image/png;base64," + base64.b64encode(png_bytes(photo((512, 512)))).decode()
        task_id = create(srv, key, uri, receiver.url(path)).json()["output"]["task_id"]
        receiver.wait_for(path, 1)
    finally:
        srv.stop()
    receiver.statuses.clear()  # the receiver is back
    seen = len(receiver.for_path(path))
    srv.start()
    try:
        delivered = receiver.wait_for(path, seen + 1)[-1]
    finally:
        srv.stop()
    assert int(delivered.headers["x-easel-attempt"]) >= 2
    assert assert_signed(delivered, secret)["output"]["task_id"] == task_id


def test_private_callbacks_are_refused_without_the_allowlist(tmp_path: Path, receiver: Receiver) -> None:
    """Loopback is admitted only by EASEL_URL_ALLOWLIST: without it the create is refused, and a key default
    set while it was admitted is refused again at delivery (the guard runs on every attempt)."""
    srv = EaselServer(tmp_path / "home", {"EASEL_URL_ALLOWLIST": "", **FAST_RETRIES})
    srv.home.mkdir(parents=True)
    path = hook_path()
    key = srv.new_key()
    admitted = dict(srv.env(), EASEL_URL_ALLOWLIST="127.0.0.1")
    refused_cli = subprocess.run([sys.executable, "-m", "easel", "keys", "callback", key[:10], receiver.url(path)],
                                 env=srv.env(), capture_output=True, text=True, timeout=60)
    assert refused_cli.returncode == 1 and "non-public address" in refused_cli.stderr
    subprocess.run([sys.executable, "-m", "easel", "keys", "callback", key[:10], receiver.url(path)],
                   env=admitted, check=True, capture_output=True, timeout=60)
    srv.start()
    try:
        uri = "data:image/png;base64," + base64.b64encode(png_bytes(photo((512, 512)))).decode()
        rsp = create(srv, key, uri, receiver.url("/private"))
        assert rsp.status_code == 400, rsp.text
        assert rsp.json()["code"] == "InvalidURL" and "non-public address" in rsp.json()["message"]
        task_id = create(srv, key, uri).json()["output"]["task_id"]  # the key's default URL
        deadline = time.monotonic() + 60
        while task_json(srv, key, task_id)["output"]["task_status"] not in ("SUCCEEDED", "FAILED"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        while 'easel_webhook_deliveries_total{outcome="refused"} 1.0' not in httpx.get(srv.url + "/metrics").text:
            assert time.monotonic() < deadline, "the delivery was not refused"
            time.sleep(0.2)
    finally:
        srv.stop()
    assert receiver.for_path(path) == [] and receiver.for_path("/private") == []


def test_synchronous_calls_refuse_a_callback(hooks: EaselServer, receiver: Receiver) -> None:
    key, _secret = key_with_secret(hooks)
    headers = {"Authorization": f"Bearer {key}", "X-Easel-Callback": receiver.url(hook_path())}
    sync = httpx.post(hooks.api + "/services/aigc/multimodal-generation/generation", headers=headers,
                      json={"model": "qwen-image-edit", "input": {"messages": []}})
    assert sync.status_code == 400 and sync.json()["code"] == "InvalidParameter", sync.text
    assert "asynchronous" in sync.json()["message"]
    edit = httpx.post(hooks.url + "/v1/images/edits", headers=headers, files={"prompt": (None, "x")})
    assert edit.status_code == 400 and "asynchronous" in edit.json()["error"]["message"], edit.text


def test_canceled_task_is_posted_on_postgresql(tmp_path: Path, receiver: Receiver) -> None:
    """The delivery tables and their queries on PostgreSQL; a task canceled while PENDING is reported too."""
    with postgres_schema_server(tmp_path / "home") as (srv, _key, _admin, _schema):
        key, secret = key_with_secret(srv)
        path = hook_path()
        task_id = create(srv, key, "data:image/png;base64,AAAA", receiver.url(path)).json()["output"]["task_id"]
        cancel = httpx.post(f"{srv.api}/tasks/{task_id}/cancel", headers={"Authorization": f"Bearer {key}"})
        assert cancel.status_code == 200, cancel.text
        (delivery,) = receiver.wait_for(path)
        body = assert_signed(delivery, secret)
        assert body["output"]["task_id"] == task_id and body["output"]["task_status"] == "CANCELED"


def test_the_docs_print_the_snippet_the_tests_use() -> None:
    assert SNIPPET.read_text().strip() in (ROOT / "docs" / "operations.md").read_text()
