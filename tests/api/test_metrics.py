"""GET /metrics on real servers: counters that move with real requests and tasks, queue depth, the worker port."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import EaselServer, ImageHost, free_port, photo

CREATE = "/api/v1/services/aigc/image2image/image-synthesis"
CREATE_ROUTE = "/api/v1/services/aigc/image2image/image-synthesis"


def scrape(url: str, **headers: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition, keyed by (name, labels)."""
    rsp = httpx.get(url, headers=headers, timeout=30)
    assert rsp.status_code == 200, rsp.text
    assert rsp.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(rsp.text) for s in family.samples}


def value(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def create(srv: EaselServer, key: str, url: str) -> str:
    rsp = httpx.post(srv.url + CREATE, timeout=60, headers={"Authorization": f"Bearer {key}",
                                                            "X-DashScope-Async": "enable"},
                     json={"model": "wanx2.1-imageedit", "parameters": {"upscale_factor": 2},
                           "input": {"function": "super_resolution", "prompt": "图像超分", "base_image_url": url}})
    assert rsp.status_code == 200, rsp.text
    return rsp.json()["output"]["task_id"]


def wait_done(srv: EaselServer, key: str, task_id: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(f"{srv.api}/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"}).json()
        if status["output"]["task_status"] in ("SUCCEEDED", "FAILED"):
            return status["output"]["task_status"]
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not end")


def test_counters_move_after_a_real_task(server: EaselServer, api_key: str, image_host: ImageHost) -> None:
    metrics = server.url + "/metrics"  # no API key: Prometheus scrapes it as is
    before = scrape(metrics)
    task_id = create(server, api_key, image_host.put_image("metrics.png", photo((512, 512))))
    assert wait_done(server, api_key, task_id) == "SUCCEEDED"
    failed = create(server, api_key, image_host.url("metrics-missing.png"))
    assert wait_done(server, api_key, failed) == "FAILED"
    httpx.get(server.url + "/no/such/path/12345")
    deadline = time.monotonic() + 10
    while True:  # a task's duration is observed just after its end is stored
        after = scrape(metrics)
        task = {"model": "wanx2.1-imageedit", "function": "super_resolution"}
        done = value(after, "easel_task_duration_seconds_count", **task, outcome="succeeded") - \
            value(before, "easel_task_duration_seconds_count", **task, outcome="succeeded")
        if done >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert done >= 1
    assert value(after, "easel_task_duration_seconds_count", **task, outcome="failed") > \
        value(before, "easel_task_duration_seconds_count", **task, outcome="failed")
    created = {"method": "POST", "route": CREATE_ROUTE, "status": "200"}
    assert value(after, "easel_http_requests_total", **created) - value(before, "easel_http_requests_total",
                                                                        **created) >= 2
    polled = {"method": "GET", "route": "/api/v1/tasks/{task_id}", "status": "200"}
    assert value(after, "easel_http_requests_total", **polled) > value(before, "easel_http_requests_total", **polled)
    assert value(after, "easel_http_requests_total", method="GET", route="unmatched", status="404") >= 1
    assert not any(dict(labels).get("route", "").startswith("/no/such") for _name, labels in after)
    assert value(after, "easel_input_fetch_errors_total", reason="http_status") > \
        value(before, "easel_input_fetch_errors_total", reason="http_status")
    assert value(after, "easel_engine_load_seconds_count", backend="realesrgan") >= 1  # loaded once, for the first


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EaselServer, str]]:
    """An API-only server with a metrics token; tasks stay PENDING until a separate `easel worker` runs."""
    srv = EaselServer(tmp_path_factory.mktemp("easel-metrics"), {"EASEL_WORKERS": "0",
                                                                 "EASEL_METRICS_TOKEN": "scrape-secret"})
    srv.home.mkdir(parents=True, exist_ok=True)
    key = srv.new_key()
    srv.start()
    yield srv, key
    srv.stop()


def test_queue_depth_by_lane(shared_db: tuple[EaselServer, str], image_host: ImageHost) -> None:
    srv, key = shared_db
    auth = {"Authorization": "Bearer scrape-secret"}
    before = value(scrape(srv.url + "/metrics", **auth), "easel_queue_depth", lane="wanx2.1-imageedit")
    url = image_host.put_image("queued.png", photo((512, 512)))
    for _ in range(3):
        create(srv, key, url)
    after = scrape(srv.url + "/metrics", **auth)
    assert value(after, "easel_queue_depth", lane="wanx2.1-imageedit") == before + 3
    assert ("easel_queue_depth", frozenset({("lane", "wanx-x-painting")})) in after  # idle lanes read 0
    assert value(after, "easel_queue_depth", lane="wanx-x-painting") == 0


def test_metrics_token(shared_db: tuple[EaselServer, str]) -> None:
    srv, key = shared_db
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {key}"}):
        rsp = httpx.get(srv.url + "/metrics", headers=headers)
        assert rsp.status_code == 401 and rsp.json()["code"] == "InvalidApiKey", rsp.text
    assert "EASEL_METRICS_TOKEN" in rsp.json()["message"]


def test_separate_worker_serves_its_own_metrics(shared_db: tuple[EaselServer, str], image_host: ImageHost,
                                                tmp_path: Path) -> None:
    srv, key = shared_db
    port = free_port()
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([sys.executable, "-m", "easel", "worker", "--workers", "1", "--metrics-port", str(port)],
                              env=srv.env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        task_id = create(srv, key, image_host.put_image("worker.png", photo((512, 512))))
        assert wait_done(srv, key, task_id, timeout=180) == "SUCCEEDED"
        deadline = time.monotonic() + 10
        while True:
            try:
                samples = scrape(f"http://127.0.0.1:{port}/metrics")
            except httpx.HTTPError:
                samples = {}
            ran = value(samples, "easel_task_duration_seconds_count", model="wanx2.1-imageedit",
                        function="super_resolution", outcome="succeeded")
            if ran >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert ran >= 1, (tmp_path / "worker.log").read_text()
        assert not any(name == "easel_queue_depth" for name, _ in samples)  # the API's /metrics has it
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()
