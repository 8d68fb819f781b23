"""Running one claimed task: its RunContext (inputs, results, notes, progress, cancellation) and run_task.

Who claims which task, when, is the queue's (easel/queue/).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np
from PIL import Image

from easel.catalog.registry import find_model
from easel.config import Settings
from easel.db.models import Task, TaskStatus
from easel.engines.base import EngineRequest, EngineTask, TaskCanceled
from easel.errors import EaselError
from easel.inputs.decode import ImageLimits
from easel.services import Services
from easel.tasks.store import Outcome

log = logging.getLogger("easel.worker")

# How often a running engine's steps ask the database whether the task was cancelled.
CANCEL_POLL_S = 0.5


class TaskContext:
    """RunContext for one task (or one synchronous call): inputs and results, scoped to the owner."""

    def __init__(self, services: Services, task_id: str, owner_key_id: str, submitted: datetime,
                 aborted: Callable[[], bool] | None = None) -> None:
        self.settings: Settings = services.settings
        self.task_id = task_id
        self.engines = services.engines
        self._services = services
        self._owner = owner_key_id
        self._day = submitted.strftime("%Y-%m-%d")
        self.notes: list[str] = []
        self._percent = -1
        self._next_cancel_check = 0.0
        # the queue's own cancellation signal (procrastinate's abort), besides the task's
        self._aborted = aborted

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
            if store.cancel_requested(self.task_id) or (self._aborted is not None and self._aborted()):
                raise TaskCanceled(self.task_id)
        percent = min(99, int(100 * done / max(1, total)))  # 100 is SUCCEEDED's to say
        if percent > self._percent:
            self._percent = percent
            store.set_progress(self.task_id, percent)

    @classmethod
    def for_task(cls, services: Services, task: Task, aborted: Callable[[], bool] | None = None) -> TaskContext:
        return cls(services, task.id, task.owner_key_id, task.submit_time, aborted)

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


def run_task(services: Services, task: Task, aborted: Callable[[], bool] | None = None) -> TaskStatus | None:
    """Run one claimed task to SUCCEEDED or FAILED; never raises. `aborted`: the queue's cancellation signal.

    Returns the status it recorded, or None when the row had left RUNNING meanwhile (then the row says)."""
    model = find_model(task.model)
    try:
        if model is None:
            raise EaselError(f"Model {task.model} is no longer served by this Easel.", code="InvalidParameter")
        ctx = TaskContext.for_task(services, task, aborted)
        outcome = with_notes(model.run(task.request, ctx), ctx.notes)
        if services.store.cancel_requested(task.id):  # asked while an engine with no steps ran
            raise TaskCanceled(task.id)
    except TaskCanceled:
        return _recorded(services.store.end_canceled(task.id), TaskStatus.CANCELED)
    except EaselError as exc:
        return _recorded(services.store.fail(task.id, exc.code, exc.message), TaskStatus.FAILED)
    except MemoryError:
        return _recorded(services.store.fail(task.id, "InternalError", "The task ran out of memory; try a smaller "
                                             "image."), TaskStatus.FAILED)
    except Exception:
        log.exception("task %s (%s) failed", task.id, task.model)
        return _recorded(services.store.fail(task.id, "InternalError", "An internal error occurred while running "
                                             "the task."), TaskStatus.FAILED)
    ok = services.store.succeed(task.id, outcome)
    return _recorded(ok, outcome.status)


def _recorded(written: bool, status: TaskStatus) -> TaskStatus | None:
    return status if written else None


def with_notes(outcome: Outcome, notes: list[str]) -> Outcome:
    if not notes:
        return outcome
    extra = dict(outcome.extra_output or {})
    extra["notes"] = [*extra.get("notes", []), *notes]
    return replace(outcome, extra_output=extra)
