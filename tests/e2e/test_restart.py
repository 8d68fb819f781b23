"""Durability: tasks left PENDING by a stop, or RUNNING by a crash, finish after a restart."""

from __future__ import annotations

import signal
import time

import httpx
from dashscope import ImageSynthesis

from tests.conftest import EaselServer, ImageHost, photo

MODEL = "wanx2.1-imageedit"


def status(srv: EaselServer, key: str, task_id: str) -> str:
    rsp = httpx.get(f"{srv.api}/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"})
    return rsp.json()["output"]["task_status"]


def wait_for(srv: EaselServer, key: str, task_id: str, wanted: set[str], timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = status(srv, key, task_id)
        if current in wanted:
            return current
        time.sleep(0.2)
    raise AssertionError(f"{task_id} never reached {wanted}; last {current}")


def test_pending_tasks_finish_after_restart(tmp_path, use_server, image_host: ImageHost) -> None:
    home = tmp_path / "home"
    srv = EaselServer(home, {"EASEL_WORKERS": "0"}).start()
    key = srv.new_key()
    use_server(srv, key)
    url = image_host.put_image("restart.png", photo())
    ids = [ImageSynthesis.async_call(model=MODEL, function="super_resolution", prompt="x",
                                     base_image_url=url).output.task_id for _ in range(2)]
    srv.stop()

    again = EaselServer(home, {"EASEL_WORKERS": "2"}, port=srv.port).start()
    try:
        for task_id in ids:
            assert wait_for(again, key, task_id, {"SUCCEEDED", "FAILED"}) == "SUCCEEDED"
    finally:
        again.stop()


def test_running_task_survives_a_crash(tmp_path, use_server, image_host: ImageHost) -> None:
    home = tmp_path / "home"
    # x4plus at x4 on 512 px takes tens of seconds: long enough to kill the server mid-task
    slow = EaselServer(home, {"EASEL_WORKERS": "1", "EASEL_SUPERRES_MODEL": "x4plus"}).start()
    key = slow.new_key()
    use_server(slow, key)
    url = image_host.put_image("crash.png", photo())
    task_id = ImageSynthesis.async_call(model=MODEL, function="super_resolution", prompt="x", base_image_url=url,
                                        upscale_factor=4).output.task_id
    wait_for(slow, key, task_id, {"RUNNING"})
    slow.stop(signal.SIGKILL)

    fast = EaselServer(home, {"EASEL_WORKERS": "1"}, port=slow.port).start()
    try:
        assert wait_for(fast, key, task_id, {"SUCCEEDED", "FAILED"}) == "SUCCEEDED"
        done = ImageSynthesis.fetch(task_id)
        assert done.output.results[0].url
    finally:
        fast.stop()
