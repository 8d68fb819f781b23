"""Per-key limits enforced through the database: two API nodes (`easel serve --workers 0`) on one
PostgreSQL database hold a key's create rate and its PENDING + RUNNING tasks in total, another key is not
affected, the real dashscope SDK surfaces the Throttling code, and the relight rate limit answers 23500004
across nodes too."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from dashscope import ImageSynthesis
from PIL import Image

from tests.conftest import EaselServer, ImageHost, photo, postgres_schema

CREATE = "/services/aigc/image2image/image-synthesis"
MODEL = "wanx2.1-imageedit"

Nodes = tuple[EaselServer, EaselServer]


def two_nodes(home: Path, env: dict[str, str], database: str = "postgresql") -> Iterator[Nodes]:
    """Two API-only servers on one database (a fresh PostgreSQL schema, or one SQLite file) and one
    EASEL_HOME (for the signing secret)."""
    if database == "sqlite":
        yield from _start_two(home, {"EASEL_DATABASE_URL": f"sqlite:///{home / 'shared.db'}", **env})
        return
    with postgres_schema() as (url, _admin, _schema):
        yield from _start_two(home, {"EASEL_DATABASE_URL": url, **env})


def _start_two(home: Path, env: dict[str, str]) -> Iterator[Nodes]:
    nodes = (EaselServer(home, {"EASEL_WORKERS": "0", **env}), EaselServer(home, {"EASEL_WORKERS": "0", **env}))
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def concurrency_nodes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    yield from two_nodes(tmp_path_factory.mktemp("limits-active"), {"EASEL_KEY_MAX_ACTIVE_TASKS": "3"},
                         request.param)


@pytest.fixture(scope="module")
def rate_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    yield from two_nodes(tmp_path_factory.mktemp("limits-rate"),
                         {"EASEL_KEY_CREATE_QPS": "4", "EASEL_RELIGHT_RATE_PER_S": "0.2"})


@pytest.fixture(scope="module")
def image_url(image_host: ImageHost) -> str:
    return image_host.put_image("limits.png", photo((512, 512)))


def create(node: EaselServer, key: str, image_url: str) -> httpx.Response:
    return httpx.post(node.api + CREATE, timeout=30, json={
        "model": MODEL, "input": {"function": "super_resolution", "prompt": "图像超分", "base_image_url": image_url},
        "parameters": {}}, headers={"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"})


def burst(nodes: Nodes, key: str, image_url: str, count: int) -> list[httpx.Response]:
    """`count` creates at once, alternating between the two nodes."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: create(nodes[i % 2], key, image_url), range(count)))


def assert_throttled(rsp: httpx.Response, code: str) -> None:
    assert rsp.status_code == 429, rsp.text
    body = rsp.json()
    assert body["code"] == code and body["request_id"], body
    assert body["message"], body


def test_active_tasks_limit_holds_across_nodes_per_key(concurrency_nodes: Nodes, image_url: str) -> None:
    alice, bob = concurrency_nodes[0].new_key("alice"), concurrency_nodes[0].new_key("bob")
    answers = burst(concurrency_nodes, alice, image_url, 12)
    admitted = [r.json()["output"]["task_id"] for r in answers if r.status_code == 200]
    assert len(admitted) == 3, [r.text for r in answers]
    for refused in (r for r in answers if r.status_code != 200):
        assert_throttled(refused, "Throttling.AllocationQuota")
        assert "PENDING or RUNNING" in refused.json()["message"]

    assert create(concurrency_nodes[1], bob, image_url).status_code == 200, "another key is not affected"

    # a task that ends frees its slot, on whichever node the next create arrives
    canceled = httpx.post(f"{concurrency_nodes[0].api}/tasks/{admitted[0]}/cancel",
                          headers={"Authorization": f"Bearer {alice}"})
    assert canceled.status_code == 200, canceled.text
    assert create(concurrency_nodes[1], alice, image_url).status_code == 200
    assert_throttled(create(concurrency_nodes[0], alice, image_url), "Throttling.AllocationQuota")


def test_the_sdk_surfaces_the_throttling_code(concurrency_nodes: Nodes, image_url: str, use_server) -> None:
    carol = concurrency_nodes[0].new_key("carol")
    use_server(concurrency_nodes[1], carol)
    for _ in range(3):
        assert ImageSynthesis.async_call(model=MODEL, function="super_resolution", prompt="图像超分",
                                         base_image_url=image_url).status_code == 200
    refused = ImageSynthesis.async_call(model=MODEL, function="super_resolution", prompt="图像超分",
                                        base_image_url=image_url)
    assert refused.status_code == 429
    assert refused.code == "Throttling.AllocationQuota"
    assert "Allocated quota exceeded" in refused.message


def test_create_rate_limit_holds_across_nodes_per_key(rate_nodes: Nodes, image_url: str) -> None:
    rate, capacity = 4.0, 4.0
    dave, erin = rate_nodes[0].new_key("dave"), rate_nodes[0].new_key("erin")
    started = time.monotonic()
    answers: list[httpx.Response] = []
    while time.monotonic() - started < 2.5:
        answers += burst(rate_nodes, dave, image_url, 8)
    elapsed = time.monotonic() - started
    admitted = sum(r.status_code == 200 for r in answers)
    assert admitted <= capacity + rate * elapsed + 1, (admitted, elapsed, len(answers))
    assert admitted >= rate * elapsed * 0.5, (admitted, elapsed)  # the limit refills: not a refusal of all
    refused = [r for r in answers if r.status_code != 200]
    assert len(refused) > len(answers) / 2
    for rsp in refused:
        assert_throttled(rsp, "Throttling.RateQuota")
        assert "Requests rate limit exceeded" in rsp.json()["message"]
    assert create(rate_nodes[1], erin, image_url).status_code == 200, "another key is not affected"


def test_relight_rate_limit_answers_its_seed_code_across_nodes(rate_nodes: Nodes, image_host: ImageHost) -> None:
    key = rate_nodes[0].new_key("relight")
    image = image_host.put_image("limits-relight.png", photo((512, 512)))
    mask = image_host.put_image("limits-relight-mask.png", Image.new("L", (512, 512), 255))
    item = {"image": image, "mask": mask, "positive_prompt": "light from the left", "guidance_scale": 3.5,
            "steps": 20, "seed": 7}

    def submit(node: EaselServer) -> httpx.Response:
        return httpx.post(node.url + "/api/v1/relight/submit", json={"data": {"task_list": [item]}}, timeout=60,
                          headers={"Authorization": f"APPCODE {key}", "X-Ca-Nonce": uuid.uuid4().hex})

    assert submit(rate_nodes[0]).status_code == 200
    refused = submit(rate_nodes[1])
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "23500004"
