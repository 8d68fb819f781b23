"""In-process workers: threads that claim PENDING tasks from the database and run them.

The database is the queue. Claiming is a conditional UPDATE, so any number of pools in any number
of processes (`easel serve`, `easel worker`) can share one PostgreSQL database safely.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from PIL import Image

from easel.catalog.registry import find_model
from easel.config import Settings
from easel.engines.base import EngineRequest, EngineTask, TaskCanceled
from easel.errors import EaselError
from easel.inputs.decode import ImageLimits
from easel.services import Services
from easel.tasks.models import Task
from easel.tasks.store import Outcome, utcnow

log = logging.getLogger("easel.worker")

HEARTBEAT_S = 10.0
# A RUNNING task whose worker has been silent this long is presumed orphaned (worker died).
STALE_AFTER = timedelta(seconds=60)
IDLE_POLL_S = 1.0
# How often a running engine's steps ask the database whether the task was cancelled.
CANCEL_POLL_S = 0.5


class TaskContext:
    """RunContext for one task (or one synchronous call): inputs and results, scoped to the owner."""

    def __init__(self, services: Services, task_id: str, owner_key_id: str, submitted: datetime) -> None:
        self.settings: Settings = services.settings
        self.task_id = task_id
        self._services = services
        self._owner = owner_key_id
        self._day = submitted.strftime("%Y-%m-%d")
        self.notes: list[str] = []
        self._percent = -1
        self._next_cancel_check = 0.0

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def run_engine(self, task: EngineTask, request: EngineRequest) -> list[Image.Image]:
        return self._services.engines.run(task, request, self)

    def progress(self, done: int, total: int) -> None:
        """Called by engines at each step: stores the percent, and stops the task when its cancellation
        was requested. The database is asked at most every CANCEL_POLL_S, so steps stay cheap."""
        store = self._services.store
        now = time.monotonic()
        if now >= self._next_cancel_check:
            self._next_cancel_check = now + CANCEL_POLL_S
            if store.cancel_requested(self.task_id):
                raise TaskCanceled(self.task_id)
        percent = min(99, int(100 * done / max(1, total)))  # 100 is SUCCEEDED's to say
        if percent > self._percent:
            self._percent = percent
            store.set_progress(self.task_id, percent)

    @classmethod
    def for_task(cls, services: Services, task: Task) -> TaskContext:
        return cls(services, task.id, task.owner_key_id, task.submit_time)

    def load_image(self, url: str, limits: ImageLimits, what: str) -> Image.Image:
        return self._services.inputs.load_image(url, self._owner, limits, what)

    def save_image(self, image: Image.Image | np.ndarray, index: int, fmt: str = "PNG") -> dict[str, Any]:
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        buffer = io.BytesIO()
        if fmt == "JPEG":
            image.convert("RGB").save(buffer, "JPEG", quality=95)
        else:
            # compress_level 3: a 2048-px PNG encodes ~3x faster than the default, ~10 % larger
            image.save(buffer, "PNG", compress_level=3)
        data = buffer.getvalue()
        key = f"results/{self._day}/{self.task_id}/{index}.{'jpg' if fmt == 'JPEG' else 'png'}"
        self._services.blobs.put(key, data, "image/jpeg" if fmt == "JPEG" else "image/png")
        self._services.store.record_blob(key, self._owner, len(data))
        return {"blob": key}


def run_task(services: Services, task: Task) -> None:
    """Run one claimed task to SUCCEEDED or FAILED; never raises."""
    model = find_model(task.model)
    try:
        if model is None:
            raise EaselError(f"Model {task.model} is no longer served by this Easel.", code="InvalidParameter")
        ctx = TaskContext.for_task(services, task)
        outcome = with_notes(model.run(task.request, ctx), ctx.notes)
        if services.store.cancel_requested(task.id):  # asked while an engine with no steps ran
            raise TaskCanceled(task.id)
    except TaskCanceled:
        services.store.end_canceled(task.id)
        return
    except EaselError as exc:
        services.store.fail(task.id, exc.code, exc.message)
        return
    except MemoryError:
        services.store.fail(task.id, "InternalError", "The task ran out of memory; try a smaller image.")
        return
    except Exception:
        log.exception("task %s (%s) failed", task.id, task.model)
        services.store.fail(task.id, "InternalError", "An internal error occurred while running the task.")
        return
    services.store.succeed(task.id, outcome)


def with_notes(outcome: Outcome, notes: list[str]) -> Outcome:
    if not notes:
        return outcome
    extra = dict(outcome.extra_output or {})
    extra["notes"] = [*extra.get("notes", []), *notes]
    return replace(outcome, extra_output=extra)


class WorkerPool:
    def __init__(self, services: Services, size: int) -> None:
        self.services = services
        self.size = size
        # The boot token tells this process from an earlier one that had the same pid (containers
        # restart as pid 1), whose RUNNING tasks are orphans.
        self.prefix = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._wake = threading.Condition()
        self._pending_wakeups = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, str] = {}  # worker id -> task id
        self._running_lock = threading.Lock()

    def start(self) -> None:
        requeue_orphans(self.services, self.prefix)
        for n in range(self.size):
            thread = threading.Thread(target=self._loop, args=(f"{self.prefix}:{n}",), daemon=True)
            thread.start()
            self._threads.append(thread)
        beat = threading.Thread(target=self._heartbeat_loop, daemon=True, name="easel-heartbeat")
        beat.start()
        self._threads.append(beat)

    def wake(self) -> None:
        """Called after a task is committed, so an idle worker starts it at once."""
        with self._wake:
            self._pending_wakeups += 1
            self._wake.notify()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self, worker_id: str) -> None:
        while not self._stop.is_set():
            try:
                task = self.services.store.claim_next(worker_id)
            except Exception:
                log.exception("could not claim a task")
                task = None
            if task is None:
                self._idle()
                continue
            with self._running_lock:
                self._running[worker_id] = task.id
            try:
                run_task(self.services, task)
            except Exception:  # the store itself failed; the task is requeued at next start
                log.exception("could not record the end of task %s", task.id)
            finally:
                with self._running_lock:
                    self._running.pop(worker_id, None)

    def _idle(self) -> None:
        with self._wake:
            if self._pending_wakeups == 0:
                self._wake.wait(IDLE_POLL_S)
            self._pending_wakeups = max(0, self._pending_wakeups - 1)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with self._running_lock:
                task_ids = list(self._running.values())
            try:
                self.services.store.heartbeat(task_ids)
                requeue_orphans(self.services, self.prefix)
            except Exception:
                log.exception("heartbeat failed")


def requeue_orphans(services: Services, own_prefix: str) -> int:
    """Put RUNNING tasks whose worker is gone back to PENDING; returns how many.

    A worker is gone when it ran on this host in a process that no longer exists, or when it has
    not sent a heartbeat for STALE_AFTER (another host, or a hung process).
    """
    host = socket.gethostname()
    now = utcnow()
    requeued = 0
    for task_id, worker_id, heartbeat_at, attempts in services.store.running():
        if worker_id and worker_id.startswith(own_prefix + ":"):
            continue  # ours and alive
        dead_here = bool(worker_id) and worker_id.split(":")[0] == host and not _same_process_alive(worker_id)
        stale = heartbeat_at is None or now - heartbeat_at > STALE_AFTER
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
