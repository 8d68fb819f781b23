"""The PostgreSQL queue: procrastinate 3.x jobs, one per task, taken by workers on any number of machines.

- A job is deferred in the transaction that stores its task row (JobLink.defer, on Easel's own
  connection), so a task is never stored without its job, nor a job without its task.
- Each lane is a procrastinate queue; `easel worker` runs one procrastinate worker per lane it serves,
  with the lane's concurrency, and CPU lanes share the core budget.
- A job starts its task by the conditional PENDING -> RUNNING of the row: a job for a task that is no
  longer PENDING (cancelled while queued, or run already) is dropped.
- Jobs of dead workers (no heartbeat for EASEL_STALLED_AFTER_S) are retried by procrastinate's
  stalled-job recovery, after their task row is put back to PENDING.
- Cancelling goes through procrastinate's cancel/abort (procrastinate_cancel_job_v1): a queued job is
  cancelled, a running one is asked to abort, which the engine's progress callback sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import procrastinate
import psycopg
import psycopg_pool
from procrastinate.job_context import JobContext
from procrastinate.worker import Worker
from sqlalchemy import Connection, text

from easel.db.session import PING_AFTER_IDLE_S
from easel.observability.context import task_scope
from easel.queue.inprocess import observe_end
from easel.queue.lanes import LaneSpec, lane_spec, served_lanes
from easel.services import Services
from easel.tasks.worker import run_task

log = logging.getLogger("easel.worker")

JOB_NAME = "easel.run_task"
HEARTBEAT_S = 2.0
STALL_CHECK_S = 2.0
LISTEN_RETRY_S = 2.0

_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY("
    " SELECT ROW(q, :job, p, NULL, NULL, jsonb_build_object('task_id', t), NULL)::procrastinate_job_to_defer_v1"
    " FROM unnest(CAST(:queues AS text[]), CAST(:priorities AS integer[]), CAST(:tasks AS text[])) AS j(q, p, t)))"
)
_ABORT = text(
    "SELECT procrastinate_cancel_job_v1(id, true, false) FROM procrastinate_jobs"
    " WHERE status IN ('todo', 'doing') AND args->>'task_id' = :task"
)


class JobLink:
    """What the task store does to the queue on PostgreSQL, in SQL on its own connection."""

    def defer(self, conn: Connection, records: list[dict[str, Any]]) -> None:
        pending = [r for r in records if r["status"] == "PENDING"]
        if pending:
            conn.execute(_DEFER, {"job": JOB_NAME, "queues": [r["lane"] for r in pending],
                                  "priorities": [r["priority"] for r in pending], "tasks": [r["id"] for r in pending]})

    def abort(self, conn: Connection, task_id: str) -> None:
        conn.execute(_ABORT, {"task": task_id})


def conninfo(database_url: str) -> str:
    """libpq's form of a SQLAlchemy URL (postgresql+psycopg://… -> postgresql://…)."""
    scheme, rest = database_url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgres") else database_url


_idle_since: weakref.WeakKeyDictionary[psycopg.AsyncConnection, float] = weakref.WeakKeyDictionary()


def pool_pinging_when_idle(**kwargs: Any) -> psycopg_pool.AsyncConnectionPool:
    """procrastinate's pool, checking only connections idle for PING_AFTER_IDLE_S: its default check pings
    before every query, two extra round trips per job (as easel.db.session does for SQLAlchemy's pool)."""
    return psycopg_pool.AsyncConnectionPool(**{**kwargs, "check": _check_when_idle, "reset": _stamp_idle})


async def _check_when_idle(conn: psycopg.AsyncConnection) -> None:
    if time.monotonic() - _idle_since.get(conn, 0.0) >= PING_AFTER_IDLE_S:
        await psycopg_pool.AsyncConnectionPool.check_connection(conn)


async def _stamp_idle(conn: psycopg.AsyncConnection) -> None:
    _idle_since[conn] = time.monotonic()


class ProcrastinateQueue:
    """This process's procrastinate workers: one per lane served, in a thread with its own event loop."""

    def __init__(self, services: Services, size: int, lanes: Iterable[str] | None = None) -> None:
        self.services = services
        self.size = size
        budget = services.settings.core_budget
        self.lanes = served_lanes(services.engines, lanes)
        self.specs = {name: lane_spec(name, services.engines, budget) for name in self.lanes}
        self._cores = threading.BoundedSemaphore(budget)
        self.prefix = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(
            conninfo=conninfo(services.settings.database_url), min_size=1, max_size=len(self.lanes) + 4,
            pool_factory=pool_pinging_when_idle))
        self.app.task(name=JOB_NAME, pass_context=True)(self._run_job)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True, name="easel-procrastinate")
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(30)

    def wake(self, lane: str | None = None) -> None:
        """Nothing to do: a deferred job reaches the workers by LISTEN/NOTIFY."""

    def stop(self, timeout: float = 5.0) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout + 5)

    # --- the worker thread ---------------------------------------------------------------------
    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        # procrastinate runs each synchronous job on the loop's default executor, min(32, cores + 4) threads
        # by default: fewer than the lanes' jobs together, and a job that finds no free thread would wait
        # behind other lanes' long ones, which lanes exist to prevent.
        self._loop.set_default_executor(ThreadPoolExecutor(
            sum(self._jobs_at_once(spec) for spec in self.specs.values()) + 2, thread_name_prefix="easel-job"))
        self._stopping = asyncio.Event()
        async with self.app.open_async():
            lane_workers = {name: self._lane_worker(spec) for name, spec in self.specs.items()}
            tasks = [asyncio.create_task(worker.run()) for worker in lane_workers.values()]
            tasks.append(asyncio.create_task(self._listen(lane_workers)))
            tasks.append(asyncio.create_task(self._recover_stalled()))
            self._ready.set()
            await self._stopping.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _lane_worker(self, spec: LaneSpec) -> Worker:
        return Worker(
            app=self.app, queues=[spec.name], concurrency=self._jobs_at_once(spec), name=f"easel-{spec.name}",
            install_signal_handlers=False, update_heartbeat_interval=HEARTBEAT_S,
            stalled_worker_timeout=self.services.settings.stalled_after_s, shutdown_graceful_timeout=5,
            delete_jobs="successful", listen_notify=False,
        )

    async def _listen(self, lane_workers: dict[str, Worker]) -> None:
        """One LISTEN connection for all of this process's lanes, handing each notice to its lane's worker.

        A worker per lane listening for itself would hold a connection per lane, and PostgreSQL wakes every
        listening connection of the database at each commit that notifies: with a dozen lanes in each of two
        worker processes that was 0.9 ms of CPU per task (bench_drain). While this listener is down the
        lane workers still poll for jobs every few seconds."""
        async def hand_over(*, channel: str, notification: Any) -> None:
            worker = lane_workers.get(channel.partition("#")[2])
            if worker is not None:
                # the worker's own notice handling (procrastinate is pinned: 3.10.0)
                await worker._handle_notification(channel=channel, notification=notification)

        while True:
            try:
                await self.app.job_manager.listen_for_jobs(on_notification=hand_over, queues=list(lane_workers))
            except Exception:
                log.exception("the job listener lost its connection; listening again shortly")
            await asyncio.sleep(LISTEN_RETRY_S)

    def _jobs_at_once(self, spec: LaneSpec) -> int:
        return min(spec.concurrency, max(1, self.size))

    async def _recover_stalled(self) -> None:
        """Retry the jobs of workers that stopped sending heartbeats (killed, or their machine died)."""
        manager = self.app.job_manager
        while True:
            await asyncio.sleep(STALL_CHECK_S)
            try:
                stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=self.services.settings.stalled_after_s)
            except Exception:
                log.exception("could not look for stalled jobs")
                continue
            for job in stalled:
                task_id = str(job.task_kwargs.get("task_id", ""))
                try:
                    await asyncio.to_thread(self._reopen, task_id)
                    await manager.retry_job(job)
                    log.warning("job %s of task %s was stalled (its worker died); retried it", job.id, task_id)
                except Exception:  # another worker recovered it first
                    log.info("could not retry stalled job %s", job.id, exc_info=True)

    def _reopen(self, task_id: str) -> None:
        """RUNNING -> PENDING for the task of a stalled job (FAILED after too many crashed attempts)."""
        store = self.services.store
        for found_id, worker_id, _beat, attempts in store.running():
            if found_id == task_id:
                store.requeue(task_id, worker_id, attempts >= self.services.settings.max_task_attempts)
                return

    def _run_job(self, context: JobContext, task_id: str) -> None:
        spec = self.specs[context.job.queue]
        with self._core(spec):
            task = self.services.store.start(task_id, f"{self.prefix}:{context.job.id}")
            if task is None:
                return  # no longer PENDING: cancelled while queued, or already run
            started = time.monotonic()
            with task_scope(task.id):  # its log lines carry the task id
                ended = run_task(self.services, task, aborted=context.should_abort)
            observe_end(self.services, task, ended, time.monotonic() - started)

    @contextlib.contextmanager
    def _core(self, spec: LaneSpec) -> Iterator[None]:
        if not spec.cpu:
            yield
            return
        with self._cores:
            yield
