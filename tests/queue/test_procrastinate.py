"""The PostgreSQL queue with real processes: an API node (`easel serve --workers 0`), `easel worker`s, procrastinate."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.conftest import ROOT, EaselServer, ImageHost, photo, postgres_schema

EDIT = "wanx2.1-imageedit"
STALLED_AFTER_S = 6


@contextmanager
def api_node(home: Path, **env: str) -> Iterator[tuple[EaselServer, str, object, str]]:
    with postgres_schema() as (url, admin, schema):
        srv = EaselServer(home, {"EASEL_DATABASE_URL": url, "EASEL_WORKERS": "0",
                                 "EASEL_STALLED_AFTER_S": str(STALLED_AFTER_S), **env})
        srv.start()
        try:
            yield srv, srv.new_key(), admin, schema
        finally:
            srv.stop()


def start_worker(srv: EaselServer, *args: str) -> subprocess.Popen:
    log = (srv.home / f"worker-{time.time_ns()}.log").open("w")
    return subprocess.Popen([sys.executable, "-m", "easel", "worker", *args], env=srv.env(), cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def submit(srv: EaselServer, key: str, url: str, function: str = "super_resolution", **parameters: object) -> str:
    body = {"model": EDIT, "input": {"function": function, "prompt": "转换成法国绘本风格", "base_image_url": url},
            "parameters": {"n": 1, **parameters}}
    rsp = httpx.post(f"{srv.api}/services/aigc/image2image/image-synthesis", json=body, timeout=30,
                     headers={"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"})
    assert rsp.status_code == 200, rsp.text
    return rsp.json()["output"]["task_id"]


def rows(admin, schema: str, sql: str, **params: object) -> list:
    with admin.connect() as conn:
        conn.execute(text(f"SET search_path TO {schema}"))
        return conn.execute(text(sql), params).all()


def statuses(admin, schema: str) -> dict[str, str]:
    return dict(rows(admin, schema, "SELECT id, status FROM tasks"))


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_fifty_tasks_survive_a_killed_worker_and_none_runs_twice(tmp_path, image_host: ImageHost) -> None:
    with api_node(tmp_path / "home") as (srv, key, admin, schema):
        url = image_host.put_image("scale.png", photo())
        # two upscales of seconds, so a worker is surely killed mid-task, and 48 sub-second stylizations
        ids = [submit(srv, key, url, upscale_factor=2) for _ in range(2)]
        ids += [submit(srv, key, url, function="stylization_all") for _ in range(48)]
        jobs = rows(admin, schema, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")[0][0]
        assert jobs == 50, "each create deferred its job in the same transaction"
        workers = [start_worker(srv, "--workers", "1") for _ in range(2)]
        try:
            wait_until(lambda: rows(admin, schema, "SELECT count(*) FROM tasks WHERE status = 'RUNNING'"
                                    " AND lane = 'upscale' AND worker_id LIKE :w", w=f"%:{workers[0].pid}:%")[0][0],
                       60, "the first worker never started an upscale")
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait(10)
            interrupted = rows(admin, schema, "SELECT count(*) FROM tasks WHERE status = 'RUNNING'"
                                              " AND worker_id LIKE :w", w=f"%:{workers[0].pid}:%")[0][0]
            killed_at = time.monotonic()
            wait_until(lambda: set(statuses(admin, schema).values()) == {"SUCCEEDED"}, 240, "not all tasks succeeded")
        finally:
            for worker in workers:
                stop(worker)
        assert set(statuses(admin, schema)) == set(ids)
        attempts = rows(admin, schema, "SELECT sum(attempts), count(*) FROM tasks")[0]
        assert interrupted >= 1
        assert attempts == (50 + interrupted, 50), "only the tasks of the killed worker ran a second time"
        results = rows(admin, schema, "SELECT results FROM tasks")
        assert all(len(r[0]) == 1 and "blob" in r[0][0] for r in results), "one result written per task"
        logs = "".join(path.read_text() for path in srv.home.glob("worker-*.log"))
        assert logs.count("was stalled (its worker died); retried it") >= interrupted, "stalled-job recovery"
        assert time.monotonic() - killed_at < 240


def test_cancel_pending_and_running_through_procrastinate(tmp_path, image_host: ImageHost) -> None:
    with api_node(tmp_path / "home") as (srv, key, admin, schema):
        url = image_host.put_image("cancel.png", photo((1024, 1024)))  # x4: seconds of work to cancel during
        queued = submit(srv, key, url, upscale_factor=2)
        cancel = httpx.post(f"{srv.api}/tasks/{queued}/cancel", headers={"Authorization": f"Bearer {key}"})
        assert cancel.status_code == 200, cancel.text
        job = rows(admin, schema, "SELECT status FROM procrastinate_jobs WHERE args->>'task_id' = :t", t=queued)
        assert job == [("cancelled",)], "the queued job is cancelled by procrastinate"

        slow = submit(srv, key, url, upscale_factor=4)
        worker = start_worker(srv, "--workers", "1")
        try:
            wait_until(lambda: statuses(admin, schema)[slow] == "RUNNING", 60, "the slow task never started")
            cancel = httpx.post(f"{srv.api}/tasks/{slow}/cancel", headers={"Authorization": f"Bearer {key}"})
            assert cancel.status_code == 200, cancel.text
            aborting = rows(admin, schema, "SELECT abort_requested FROM procrastinate_jobs"
                                           " WHERE args->>'task_id' = :t", t=slow)
            assert aborting == [(True,)], "a running job is asked to abort"
            wait_until(lambda: statuses(admin, schema)[slow] == "CANCELED", 120, "the running task was not stopped")
        finally:
            stop(worker)
        never_ran = rows(admin, schema, "SELECT status, scheduled_time, attempts FROM tasks WHERE id = :t", t=queued)
        assert never_ran == [("CANCELED", None, 0)], "a task cancelled while its job was queued never runs"


def test_a_worker_takes_only_the_lanes_it_serves(tmp_path, image_host: ImageHost) -> None:
    with api_node(tmp_path / "home") as (srv, key, admin, schema):
        url = image_host.put_image("lanes.png", photo())
        other_lanes = start_worker(srv, "--workers", "2", "--lanes", "general,stylize")
        try:
            upscale = submit(srv, key, url, upscale_factor=2)
            stylize = submit(srv, key, url, function="stylization_all")
            wait_until(lambda: statuses(admin, schema)[stylize] == "SUCCEEDED", 90, "the stylize lane was not served")
            assert statuses(admin, schema)[upscale] == "PENDING", "a worker took a job of a lane it does not serve"
            upscaler = start_worker(srv, "--workers", "1", "--lanes", "upscale")
            try:
                wait_until(lambda: statuses(admin, schema)[upscale] == "SUCCEEDED", 90, "upscale lane not served")
            finally:
                stop(upscaler)
            owner = rows(admin, schema, "SELECT worker_id FROM tasks WHERE id = :t", t=upscale)[0][0]
            assert f":{upscaler.pid}:" in owner
        finally:
            stop(other_lanes)
        lanes = dict(rows(admin, schema, "SELECT id, lane FROM tasks"))
        assert lanes == {upscale: "upscale", stylize: "stylize"}


# tasks the in-process queue left on PostgreSQL: one queued, one orphaned by a dead worker, one alive
LEGACY_QUEUE_ROWS = (
    "INSERT INTO tasks (id, owner_key_id, workspace, api, batch_index, model, function, status, request,"
    " submit_time, attempts, lane, priority, worker_id, heartbeat_at) VALUES"
    " ('queued', 'k', '', 'dashscope', 0, 'm', 'f', 'PENDING', '{}', now(), 0, 'upscale', 0, NULL, NULL),"
    " ('orphan', 'k', '', 'dashscope', 0, 'm', 'f', 'RUNNING', '{}', now(), 1, 'stylize', 0, 'h:1:x:0',"
    "  now() - interval '1 hour'),"
    " ('live', 'k', '', 'dashscope', 0, 'm', 'f', 'RUNNING', '{}', now(), 1, 'stylize', 0, 'h:2:x:0',"
    "  now() AT TIME ZONE 'UTC')"
)


def test_tasks_queued_before_the_upgrade_get_their_jobs(tmp_path) -> None:
    from alembic import command

    from easel.db import migrate

    with postgres_schema() as (url, _admin, _schema):
        engine = create_engine(url)
        try:
            config = migrate.alembic_config()
            with engine.connect() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "0004_queue_lanes")  # the in-process queue's last schema
                conn.execute(text(LEGACY_QUEUE_ROWS))
                conn.commit()
            migrate.upgrade(engine)
            with engine.connect() as conn:
                jobs = dict(conn.execute(text("SELECT args->>'task_id', queue_name FROM procrastinate_jobs")).all())
                states = dict(conn.execute(text("SELECT id, status FROM tasks")).all())
            assert jobs == {"queued": "upscale", "orphan": "stylize"}
            assert states == {"queued": "PENDING", "orphan": "PENDING", "live": "RUNNING"}
        finally:
            engine.dispose()


def test_a_server_with_its_own_workers_runs_tasks_through_procrastinate(tmp_path, image_host: ImageHost) -> None:
    with api_node(tmp_path / "home", EASEL_WORKERS="1") as (srv, key, admin, schema):
        url = image_host.put_image("serve.png", photo())
        task_id = submit(srv, key, url, function="stylization_all")
        wait_until(lambda: statuses(admin, schema)[task_id] == "SUCCEEDED", 60, "the server's worker did not run it")


def test_every_lane_can_run_its_jobs_at_once_in_one_process(tmp_path, monkeypatch) -> None:
    """procrastinate runs synchronous jobs on the loop's default executor; with its default size (cores + 4)
    a process serving many lanes would make a fast lane's job wait for a thread behind slow lanes' jobs."""
    from easel.config import load_settings
    from easel.queue.procrastinate import ProcrastinateQueue
    from easel.services import Services

    with postgres_schema() as (url, _admin, _schema):
        monkeypatch.setenv("EASEL_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("EASEL_DATABASE_URL", url)
        monkeypatch.setenv("EASEL_CORE_BUDGET", "16")
        services = Services.build(load_settings())
        queue = ProcrastinateQueue(services, size=8)
        try:
            queue.start()
            jobs_at_once = sum(min(spec.concurrency, 8) for spec in queue.specs.values())
            assert len(queue.specs) >= 5 and jobs_at_once > 16 + 4  # more than the default executor holds
            executor = queue._loop._default_executor  # type: ignore[union-attr]
            assert executor is not None and executor._max_workers >= jobs_at_once
        finally:
            queue.stop()
            services.close()


def test_cancel_finds_its_job_through_an_index_not_a_scan_of_the_backlog() -> None:
    from easel.db.session import Database

    with postgres_schema() as (url, _admin, _schema):
        db = Database(url)
        try:
            with db.engine.begin() as conn:
                conn.execute(text("INSERT INTO procrastinate_jobs (queue_name, task_name, args)"
                                  " SELECT 'general', 'easel.run_task', jsonb_build_object('task_id', 't' || n)"
                                  " FROM generate_series(1, 5000) AS n"))
                conn.execute(text("ANALYZE procrastinate_jobs"))
                plan = "\n".join(conn.execute(text(
                    "EXPLAIN SELECT id FROM procrastinate_jobs"
                    " WHERE status IN ('todo', 'doing') AND args->>'task_id' = 't77'")).scalars())
            assert "easel_jobs_task_id" in plan and "Seq Scan" not in plan, plan
        finally:
            db.dispose()
