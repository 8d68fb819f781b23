"""Lanes on the embedded default: per-lane concurrency, the shared core budget, priority and key fairness."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from easel.db.session import Database
from easel.engines.base import EngineTask
from easel.engines.config import BackendConfig, EnginesConfig
from easel.engines.manager import Engines
from easel.queue.inprocess import LaneBook
from easel.queue.lanes import GENERAL_LANE, lane_spec, served_lanes
from easel.tasks.store import NewTask, Owner, TaskStore
from tests.conftest import EaselServer, ImageHost, photo, postgres_schema

ALICE, BOB = Owner("key-alice"), Owner("key-bob")
EDIT = "wanx2.1-imageedit"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[TaskStore]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'tasks.db'}")
        yield TaskStore(db)
        db.dispose()
        return
    with postgres_schema() as (url, _admin, _schema):
        db = Database(url)
        try:
            yield TaskStore(db)
        finally:
            db.dispose()


def new(lane: str = "upscale", api: str = "dashscope") -> NewTask:
    return NewTask(model=EDIT, function="super_resolution", request={"input": {}, "parameters": {}}, lane=lane,
                   api=api)


def cpu_book(budget: int = 2) -> LaneBook:
    engines = Engines(EnginesConfig())
    return LaneBook([lane_spec(name, engines, budget) for name in (GENERAL_LANE, "upscale", "stylize")], budget)


def test_one_keys_backlog_does_not_starve_another_key(store: TaskStore) -> None:
    alice = [store.create(ALICE, new()).id for _ in range(5)]
    bob = store.create(BOB, new()).id
    book = cpu_book()
    order = []
    while (task := store.claim_next("w", ["upscale"], book.pick)) is not None:
        book.take(task)
        book.release(task)
        order.append(task.id)
    assert order[:2] == [alice[0], bob], "Bob's one task starts right after Alice's first, not after her five"
    assert order[2:] == alice[1:], "within a key, first come first served"


def test_higher_priority_starts_first_and_sync_calls_are_higher(store: TaskStore) -> None:
    older = store.create(ALICE, new()).id
    sync = store.create(ALICE, new(api="sync")).id
    urgent = store.create(BOB, NewTask(model=EDIT, function="x", request={}, lane="upscale", priority=5)).id
    assert [store.claim_next("w", ["upscale"]).id for _ in range(3)] == [urgent, sync, older]


def test_a_worker_claims_only_the_lanes_it_serves(store: TaskStore) -> None:
    gpu_work = store.create(ALICE, new(lane="instruct_edit")).id
    cpu_work = store.create(ALICE, new(lane="upscale")).id
    assert store.claim_next("cpu-worker", ["upscale", GENERAL_LANE]).id == cpu_work
    assert store.claim_next("cpu-worker", ["upscale", GENERAL_LANE]) is None
    assert store.claim_next("gpu-worker", ["instruct_edit"]).id == gpu_work


def test_cpu_lanes_share_the_core_budget_and_each_leaves_a_core_free(store: TaskStore) -> None:
    book = cpu_book(budget=2)
    for lane in ("upscale", "upscale", "stylize"):
        store.create(ALICE, new(lane))
    started = []
    for _ in range(2):
        task = store.claim_next("w", book.open_lanes(), book.pick)
        assert task is not None
        book.take(task)
        started.append(task)
        if task.lane == "upscale":
            assert "upscale" not in book.open_lanes(), "one upscale lane may not take both cores"
    assert sorted(t.lane for t in started) == ["stylize", "upscale"], "the stylization is not behind the upscales"
    assert book.open_lanes() == [], "the core budget is spent: no CPU lane may start more"
    book.release(started[0])
    assert started[0].lane in book.open_lanes()


def test_gpu_lanes_are_outside_the_core_budget_and_cpu_workers_do_not_serve_them(tmp_path) -> None:
    weights = tmp_path / "pipeline"
    weights.mkdir()
    table = BackendConfig(backend="qwen-image-edit", weights=str(weights), device="cuda", max_batch=2)
    engines = Engines(EnginesConfig(tables={EngineTask.INSTRUCT_EDIT: table}))
    spec = lane_spec("instruct_edit", engines, core_budget=2)
    assert not spec.cpu and spec.concurrency == 2
    assert "instruct_edit" not in served_lanes(Engines(EnginesConfig()))
    with pytest.raises(ValueError, match="unknown lane"):
        served_lanes(engines, ["gpu-please"])


def status(srv: EaselServer, key: str, task_id: str) -> str:
    rsp = httpx.get(f"{srv.api}/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"})
    return rsp.json()["output"]["task_status"]


def submit(srv: EaselServer, key: str, function: str, url: str, **parameters: object) -> str:
    body = {"model": EDIT, "input": {"function": function, "prompt": "转换成法国绘本风格", "base_image_url": url},
            "parameters": {"n": 1, **parameters}}
    rsp = httpx.post(f"{srv.api}/services/aigc/image2image/image-synthesis", json=body,
                     headers={"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"})
    assert rsp.status_code == 200, rsp.text
    return rsp.json()["output"]["task_id"]


def test_a_fast_stylization_starts_while_x4plus_upscales_run(tmp_path, image_host: ImageHost) -> None:
    srv = EaselServer(tmp_path / "home", {"EASEL_WORKERS": "3", "EASEL_SUPERRES_MODEL": "x4plus",
                                          "EASEL_CORE_BUDGET": "2"}).start()
    try:
        key = srv.new_key()
        big = image_host.put_image("lanes-big.png", photo((512, 512)))
        small = image_host.put_image("lanes-small.png", photo((512, 512), "chelsea"))
        slow = [submit(srv, key, "super_resolution", big, upscale_factor=2) for _ in range(2)]
        deadline = time.monotonic() + 60
        while "RUNNING" not in {status(srv, key, t) for t in slow}:
            assert time.monotonic() < deadline, "no upscale started"
            time.sleep(0.1)
        fast = submit(srv, key, "stylization_all", small)
        seen_together = False
        deadline = time.monotonic() + 60
        while (state := status(srv, key, fast)) not in {"SUCCEEDED", "FAILED"}:
            slow_states = [status(srv, key, t) for t in slow]
            assert slow_states.count("RUNNING") <= 1, "two x4plus upscales would take both cores"
            seen_together |= state == "RUNNING" and "RUNNING" in slow_states
            assert time.monotonic() < deadline, "the stylization waited behind the upscales"
            time.sleep(0.05)
        assert state == "SUCCEEDED"
        slow_states = [status(srv, key, t) for t in slow]
        assert "RUNNING" in slow_states or seen_together, f"upscales ended before the stylization: {slow_states}"
        assert "SUCCEEDED" not in slow_states or seen_together
    finally:
        srv.stop()


def test_the_in_process_queue_takes_keys_in_turn_and_sees_new_work(tmp_path) -> None:
    import types

    from easel.queue.inprocess import InProcessQueue

    db = Database(f"sqlite:///{tmp_path / 'tasks.db'}")
    store = TaskStore(db)
    try:
        for key in ("key-a", "key-b", "key-c"):
            store.create_many(Owner(key), [new() for _ in range(20)])
        services = types.SimpleNamespace(store=store, engines=Engines(EnginesConfig()),
                                         settings=types.SimpleNamespace(core_budget=2))
        queue = InProcessQueue(services, 2)  # type: ignore[arg-type]
        owners = []
        for n in range(9):
            if n == 4:  # stored while the queue works through a snapshot of who has pending work
                store.create(Owner("key-late"), new())
                queue.wake("upscale")
            task = queue._claim("w")
            assert task is not None
            owners.append(task.owner_key_id)
            queue.book.release(task)
        assert owners[:3] == ["key-a", "key-b", "key-c"] and owners[3] == "key-a"
        assert owners[4] == "key-late", "a key with nothing started yet goes first among equal priorities"
        assert owners[5:] == ["key-b", "key-c", "key-a", "key-b"]
    finally:
        db.dispose()


def test_easel_worker_refuses_an_unknown_lane(tmp_path) -> None:
    import subprocess
    import sys

    srv = EaselServer(tmp_path / "home")
    result = subprocess.run([sys.executable, "-m", "easel", "worker", "--lanes", "upscale,gpu-please"],
                            env=srv.env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown lane(s) gpu-please" in result.stderr and "instruct_edit" in result.stderr


def test_a_worker_on_sqlite_serves_only_its_lanes(tmp_path, image_host: ImageHost) -> None:
    from tests.queue.test_procrastinate import start_worker, stop

    srv = EaselServer(tmp_path / "home", {"EASEL_WORKERS": "0"}).start()
    worker = None
    try:
        key = srv.new_key()
        url = image_host.put_image("sqlite-lanes.png", photo())
        upscale = submit(srv, key, "super_resolution", url, upscale_factor=2)
        stylize = submit(srv, key, "stylization_all", url)
        worker = start_worker(srv, "--workers", "2", "--lanes", "general,stylize")
        deadline = time.monotonic() + 60
        while status(srv, key, stylize) != "SUCCEEDED":
            assert time.monotonic() < deadline, "the stylize lane was not served"
            time.sleep(0.2)
        time.sleep(1.5)  # more than the idle poll: the worker has looked again
        assert status(srv, key, upscale) == "PENDING", "the worker took a task of a lane it does not serve"
    finally:
        if worker is not None:
            stop(worker)
        srv.stop()
