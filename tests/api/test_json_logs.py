"""EASEL_LOG_FORMAT=json on a real server: every line one JSON object, carrying the request id of the response
(and the task id) it is about; the default stays human-readable."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from tests.conftest import EaselServer, ImageHost, photo

CREATE = "/api/v1/services/aigc/image2image/image-synthesis"


def log_entries(srv: EaselServer) -> list[dict]:
    assert srv.log_path is not None
    lines = [line for line in srv.log_path.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # each line parses, or the test fails here
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry), entry
    return entries


def wait_for_entry(srv: EaselServer, match: dict, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in log_entries(srv) if all(e.get(k) == v for k, v in match.items())]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no log line with {match}"
        time.sleep(0.1)


def test_json_logs_carry_request_and_task_ids(tmp_path: Path, image_host: ImageHost) -> None:
    srv = EaselServer(tmp_path / "home", {"EASEL_LOG_FORMAT": "json", "EASEL_ACCESS_LOG": "1"})
    srv.start()  # no key yet: the first-key notice is a JSON line too
    try:
        notice = wait_for_entry(srv, {"logger": "easel", "level": "WARNING"})
        key = re.search(r"sk-[0-9a-f]{48}", notice["message"]).group(0)  # type: ignore[union-attr]
        auth = {"Authorization": f"Bearer {key}"}
        created = httpx.post(srv.url + CREATE, headers={**auth, "X-DashScope-Async": "enable"}, json={
            "model": "wanx2.1-imageedit", "parameters": {"upscale_factor": 2},
            "input": {"function": "super_resolution", "prompt": "图像超分",
                      "base_image_url": image_host.put_image("json-logs.png", photo((512, 512)))}}).json()
        task_id, request_id = created["output"]["task_id"], created["request_id"]
        access = wait_for_entry(srv, {"request_id": request_id})
        assert access["logger"] == "easel.access" and access["status"] == 200 and access["task_id"] == task_id
        assert access["route"] == CREATE and access["method"] == "POST"

        bad = httpx.post(srv.url + CREATE, headers={**auth, "X-DashScope-Async": "enable"}, json={"model": 7})
        assert bad.status_code == 400 and bad.headers["x-request-id"] == bad.json()["request_id"]
        assert wait_for_entry(srv, {"request_id": bad.json()["request_id"]})["status"] == 400

        too_big = httpx.get(srv.url + "/api/v1/tasks/x%00y", headers=auth)  # refused by the guard, before routing
        assert wait_for_entry(srv, {"request_id": too_big.json()["request_id"]})["status"] == 400

        relight = httpx.post(srv.url + "/api/v1/relight/query", json={"data": {"result_key": "nope"}},
                             headers={"Authorization": f"APPCODE {key}", "X-Ca-Nonce": uuid.uuid4().hex})
        assert wait_for_entry(srv, {"request_id": relight.json()["requestId"]})["route"] == "/api/v1/relight/query"

        deadline = time.monotonic() + 120
        while httpx.get(f"{srv.api}/tasks/{task_id}", headers=auth).json()["output"]["task_status"] != "SUCCEEDED":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        poll = wait_for_entry(srv, {"route": "/api/v1/tasks/{task_id}"})
        assert poll["task_id"] == task_id
        # written by the worker while it ran the task: the engine's first load
        loaded = wait_for_entry(srv, {"logger": "easel.engines"})
        assert loaded["task_id"] == task_id and "request_id" not in loaded
    finally:
        srv.stop()
    log_entries(srv)  # shutdown lines too


def test_default_logs_are_text_with_ids(tmp_path: Path) -> None:
    srv = EaselServer(tmp_path / "home", {"EASEL_WORKERS": "0", "EASEL_ACCESS_LOG": "1"})
    srv.home.mkdir(parents=True)
    key = srv.new_key()
    srv.start()
    try:
        rsp = httpx.get(f"{srv.api}/tasks/{uuid.uuid4()}", headers={"Authorization": f"Bearer {key}"})
        request_id = rsp.json()["request_id"]
        assert srv.log_path is not None
        deadline = time.monotonic() + 10
        while request_id not in srv.log_path.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        srv.stop()
    (line,) = [line for line in srv.log_path.read_text().splitlines() if request_id in line]
    assert " INFO easel.access: " in line and '"GET /api/v1/tasks/' in line and " 200 " in line
    assert line.endswith(f"request_id={request_id} task_id={rsp.json()['output']['task_id']}")


def test_no_access_log_by_default(server: EaselServer, api_key: str) -> None:
    rsp = httpx.get(f"{server.api}/tasks/{uuid.uuid4()}", headers={"Authorization": f"Bearer {api_key}"})
    assert rsp.status_code == 200 and rsp.headers["x-request-id"] == rsp.json()["request_id"]
    time.sleep(0.5)
    assert server.log_path is not None and rsp.json()["request_id"] not in server.log_path.read_text()


def test_log_level_warning_keeps_problems_only(tmp_path: Path) -> None:
    srv = EaselServer(tmp_path / "home", {"EASEL_WORKERS": "0", "EASEL_ACCESS_LOG": "1", "EASEL_LOG_LEVEL": "warning"})
    srv.home.mkdir(parents=True)
    key = srv.new_key()
    srv.start()
    try:
        ok = httpx.get(f"{srv.api}/tasks/{uuid.uuid4()}", headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
        time.sleep(0.5)
    finally:
        srv.stop()
    assert srv.log_path is not None
    text = srv.log_path.read_text()
    assert ok.json()["request_id"] not in text and " INFO " not in text  # the access line is INFO


def test_unknown_log_level_is_refused_at_start(tmp_path: Path) -> None:
    srv = EaselServer(tmp_path / "home", {"EASEL_LOG_LEVEL": "loud"})
    srv.home.mkdir(parents=True)
    result = subprocess.run([sys.executable, "-m", "easel", "serve", "--port", str(srv.port)], env=srv.env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "EASEL_LOG_LEVEL must be one of" in result.stderr
