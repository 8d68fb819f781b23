"""GET /api/v1/tasks/{id}/events: Server-Sent Events of a real task, read with an httpx streaming client."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from easel.db.session import Database
from easel.tasks.store import Outcome, TaskStore
from tests.conftest import EaselServer, photo, png_bytes

CREATE = "/services/aigc/image2image/image-synthesis"


def create_upscale(srv: EaselServer, key: str) -> str:
    image = "data:image/png;base64," + base64.b64encode(png_bytes(photo((512, 512)))).decode()
    body = {"model": "wanx2.1-imageedit", "input": {"function": "super_resolution", "prompt": "图像超分",
                                                    "base_image_url": image}, "parameters": {"upscale_factor": 2}}
    headers = {"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"}
    response = httpx.post(srv.api + CREATE, json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["output"]["task_id"]


def events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs from an SSE line stream; comment lines are skipped."""
    event, data = "", ""
    for line in lines:
        if line.startswith("event: "):
            event = line[len("event: "):]
        elif line.startswith("data: "):
            data = line[len("data: "):]
        elif not line and event:
            yield event, json.loads(data)
            event, data = "", ""


def read_all(srv: EaselServer, key: str, task_id: str) -> list[tuple[str, dict[str, Any]]]:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream("GET", f"{srv.api}/tasks/{task_id}/events", headers=headers, timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(events(response.iter_lines()))


def test_stream_follows_a_task_to_its_end(server: EaselServer, api_key: str) -> None:
    task_id = create_upscale(server, api_key)
    seen = read_all(server, api_key, task_id)
    statuses = [data["task_status"] for event, data in seen if event == "status"]
    order = ["PENDING", "RUNNING", "SUCCEEDED"]
    assert statuses[-1] == "SUCCEEDED" and statuses == sorted(statuses, key=order.index)
    assert len(set(statuses)) == len(statuses)
    assert {"PENDING", "RUNNING"} & set(statuses)
    progress = [data["progress"] for event, data in seen if event == "progress"]
    assert progress == sorted(progress)
    event, final = seen[-1]
    polled = httpx.get(f"{server.api}/tasks/{task_id}", headers={"Authorization": f"Bearer {api_key}"}).json()
    assert event == "end"
    assert {k: v for k, v in final.items() if k != "request_id"} == {k: v for k, v in polled.items()
                                                                     if k != "request_id"}


def test_other_keys_see_an_unknown_task(server: EaselServer, api_key: str) -> None:
    task_id = create_upscale(server, api_key)
    seen = read_all(server, server.new_key("stranger"), task_id)
    assert [(e, d["output"]["task_status"]) for e, d in seen] == [("end", "UNKNOWN")]
    response = httpx.get(f"{server.api}/tasks/{task_id}/events", headers={"Authorization": "Bearer sk-bad"})
    assert response.status_code == 401 and response.json()["code"] == "InvalidApiKey"


def test_client_may_leave_a_pending_task(api_only_server: EaselServer) -> None:
    key = api_only_server.new_key("leaver")
    task_id = create_upscale(api_only_server, key)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream("GET", f"{api_only_server.api}/tasks/{task_id}/events", headers=headers, timeout=30) as r:
        first = next(events(r.iter_lines()))
    assert first == ("status", {"task_id": task_id, "task_status": "PENDING"})
    # the server goes on serving after the stream was dropped mid-way
    assert httpx.get(api_only_server.url + "/healthz").status_code == 200


def test_progress_events_between_status_changes(tmp_path: Path) -> None:
    """The test plays the worker on the server's own database, each step once the stream has shown the
    previous state, so every state is seen, in order."""
    srv = EaselServer(tmp_path / "home", {"EASEL_WORKERS": "0"}).start()
    seen: list[tuple[str, dict[str, Any]]] = []
    try:
        key = srv.new_key("progress")
        task_id = create_upscale(srv, key)

        def read() -> None:
            with httpx.stream("GET", f"{srv.api}/tasks/{task_id}/events", headers={"Authorization": f"Bearer {key}"},
                              timeout=60) as response:
                for item in events(response.iter_lines()):
                    seen.append(item)  # one by one: the steps below wait on what has arrived so far

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        store = TaskStore(Database(f"sqlite:///{tmp_path / 'home' / 'easel.db'}"))
        steps = [lambda: store.claim_next("test-worker"), lambda: store.set_progress(task_id, 40),
                 lambda: store.set_progress(task_id, 80),
                 lambda: store.succeed(task_id, Outcome(results=[{"blob": "results/none.png"}]))]
        for count, step in enumerate(steps, start=1):
            _wait_for(lambda n=count: len(seen) >= n)
            step()
        reader.join(30)
        store.db.dispose()
    finally:
        srv.stop()
    compact = [(e, d.get("task_status", d.get("progress"))) for e, d in seen[:-1]]
    assert compact == [("status", "PENDING"), ("status", "RUNNING"), ("progress", 40), ("progress", 80),
                       ("status", "SUCCEEDED")]
    assert seen[-1][0] == "end" and seen[-1][1]["output"]["task_status"] == "SUCCEEDED"


def _wait_for(condition: Any, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the event stream fell silent"
        time.sleep(0.05)
