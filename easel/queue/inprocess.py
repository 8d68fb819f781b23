"""The embedded default queue: worker threads in this process claim PENDING tasks from the database.

The database is the queue: claiming is a conditional UPDATE, so pools in several processes may share
one database. Which task a free thread claims is decided here: only lanes with room (their own
concurrency, and the core budget the CPU lanes share) are asked, the highest priority goes first, and
among keys the one whose work in that lane started least recently, so no key starves another.

A RUNNING task whose process died is found by its heartbeat (or its dead pid on this host) and put
back to PENDING.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable

from easel.db.models import Task, TaskStatus
from easel.observability.context import task_scope
from easel.observability.metrics import observe_task_end
from easel.queue.lanes import LaneSpec, lane_spec, served_lanes
from easel.services import Services
from easel.tasks.store import Candidate, utcnow
from easel.tasks.worker import run_task

log = logging.getLogger("easel.worker")

HEARTBEAT_S = 10.0
# A RUNNING task whose worker has been silent this long is presumed orphaned (worker died).
STALE_AFTER_S = 60.0
IDLE_POLL_S = 1.0
# how long the snapshot of pending (lane, key) groups is trusted; tasks stored by other processes are
# seen after at most this long
GROUPS_TTL_S = 0.5


class LaneBook:
    """Which lanes may start another task now, and whose work in each lane started last."""

    def __init__(self, specs: Iterable[LaneSpec], core_budget: int) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.core_budget = core_budget
        self.running = dict.fromkeys(self.specs, 0)
        self.cores_used = 0
        self._ticks = itertools.count()
        self._last_start: dict[tuple[str, str], int] = {}

    def open_lanes(self) -> list[str]:
        cores_free = self.cores_used < self.core_budget
        return [
            name for name, spec in self.specs.items()
            if self.running[name] < spec.concurrency and (cores_free or not spec.cpu)
        ]

    def pick(self, candidates: list[Candidate]) -> Candidate:
        """Highest priority first; then the (lane, key) whose last start is oldest; then the oldest task."""
        top = max(c.priority for c in candidates)
        return min(
            (c for c in candidates if c.priority == top),
            key=lambda c: (self._last_start.get((c.lane, c.owner_key_id), -1), c.oldest),
        )

    def take(self, task: Task) -> None:
        self.running[task.lane] += 1
        self.cores_used += self.specs[task.lane].cpu
        self._last_start[(task.lane, task.owner_key_id)] = next(self._ticks)

    def release(self, task: Task) -> None:
        self.running[task.lane] -= 1
        self.cores_used -= self.specs[task.lane].cpu


class InProcessQueue:
    """`size` worker threads serving `lanes` (default: the lanes this process's engines can run)."""

    def __init__(self, services: Services, size: int, lanes: Iterable[str] | None = None) -> None:
        self.services = services
        self.size = size
        budget = services.settings.core_budget
        self.lanes = served_lanes(services.engines, lanes)
        self.book = LaneBook((lane_spec(name, services.engines, budget) for name in self.lanes), budget)
        # The boot token tells this process from an earlier one that had the same pid (containers
        # restart as pid 1), whose RUNNING tasks are orphans.
        self.prefix = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._changed = threading.Condition()  # a task was stored, or a running one ended
        self._pending_wakeups = 0
        self._groups: list[Candidate] | None = None  # who has pending work in which lane (see _claim_from)
        self._groups_at = 0.0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, str] = {}  # worker id -> task id

    def start(self) -> None:
        requeue_orphans(self.services, self.prefix)
        for n in range(self.size):
            thread = threading.Thread(target=self._loop, args=(f"{self.prefix}:{n}",), daemon=True)
            thread.start()
            self._threads.append(thread)
        beat = threading.Thread(target=self._heartbeat_loop, daemon=True, name="easel-heartbeat")
        beat.start()
        self._threads.append(beat)

    def wake(self, lane: str | None = None) -> None:
        """Called after a task is committed, so an idle worker starts it at once."""
        with self._changed:
            self._pending_wakeups += 1
            self._groups = None  # a new group (key, lane or priority) may have pending work now
            self._changed.notify()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self, worker_id: str) -> None:
        while not self._stop.is_set():
            task = self._claim(worker_id)
            if task is None:
                self._idle()
                continue
            started = time.monotonic()
            ended: TaskStatus | None = None
            try:
                with task_scope(task.id):  # its log lines carry the task id
                    ended = run_task(self.services, task)
            except Exception:  # the store itself failed; the task is requeued at next start
                log.exception("could not record the end of task %s", task.id)
            finally:
                with self._changed:
                    self.book.release(task)
                    self._running.pop(worker_id, None)
                    self._changed.notify_all()  # a lane or a core came free
                observe_end(self.services, task, ended, time.monotonic() - started)

    def _claim(self, worker_id: str) -> Task | None:
        """Under the lock, so two threads never both take a lane's last place."""
        with self._changed:
            lanes = self.book.open_lanes()
            if not lanes:
                return None
            try:
                task = self._claim_from(worker_id, set(lanes))
            except Exception:
                log.exception("could not claim a task")
                return None
            if task is not None:
                self.book.take(task)
                self._running[worker_id] = task.id
            return task

    def _claim_from(self, worker_id: str, lanes: set[str]) -> Task | None:
        """Pick from a snapshot of who has pending work where (rescanned every GROUPS_TTL_S, or when this
        process stored a task, or when the snapshot is used up), then start that group's oldest task."""
        store = self.services.store
        for _ in range(8):
            fresh = self._groups is None or time.monotonic() - self._groups_at > GROUPS_TTL_S
            if fresh:
                self._groups = store.pending_groups(self.lanes)
                self._groups_at = time.monotonic()
            assert self._groups is not None
            usable = [group for group in self._groups if group.lane in lanes]
            if not usable:
                if fresh:
                    return None
                self._groups = None
                continue
            chosen = self.book.pick(usable)
            task_id = store.first_in_group(chosen)
            if task_id is None:  # that group is used up (at this priority)
                self._groups.remove(chosen)
                continue
            task = store.start(task_id, worker_id)
            if task is not None:
                return task
        return None

    def _idle(self) -> None:
        with self._changed:
            if self._pending_wakeups == 0:
                self._changed.wait(IDLE_POLL_S)
            self._pending_wakeups = max(0, self._pending_wakeups - 1)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with self._changed:
                task_ids = list(self._running.values())
            try:
                self.services.store.heartbeat(task_ids)
                requeue_orphans(self.services, self.prefix)
            except Exception:
                log.exception("heartbeat failed")


def observe_end(services: Services, task: Task, status: str | None, seconds: float) -> None:
    """Task-end metrics. `status`: what run_task recorded; None (the row moved on, or the store failed): ask the
    row (a query per task is a tenth of a fast-failing task's cost, so only then)."""
    if status is None:
        try:
            status = services.store.status_of(task.id)
        except Exception:  # metrics must never break the worker loop
            log.exception("could not read the end of task %s for metrics", task.id)
            return
    observe_task_end(task.model, task.function or "", status or "", seconds)


def requeue_orphans(services: Services, own_prefix: str) -> int:
    """Put RUNNING tasks whose worker is gone back to PENDING; returns how many.

    A worker is gone when it ran on this host in a process that no longer exists, or when it has
    not sent a heartbeat for STALE_AFTER_S (another host, or a hung process).
    """
    host = socket.gethostname()
    now = utcnow()
    requeued = 0
    for task_id, worker_id, heartbeat_at, attempts in services.store.running():
        if worker_id and worker_id.startswith(own_prefix + ":"):
            continue  # ours and alive
        dead_here = bool(worker_id) and worker_id.split(":")[0] == host and not _same_process_alive(worker_id)
        stale = heartbeat_at is None or (now - heartbeat_at).total_seconds() > STALE_AFTER_S
        if dead_here or stale:
            give_up = attempts >= services.settings.max_task_attempts
            if services.store.requeue(task_id, worker_id, give_up):
                requeued += 1
                log.warning("task %s was orphaned by worker %s; %s", task_id, worker_id,
                            "failed it" if give_up else "requeued it")
    return requeued


def _same_process_alive(worker_id: str) -> bool:
    try:
        pid = int(worker_id.split(":")[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False  # our pid but not our boot token (checked by the caller): an earlier process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
