"""Who runs which task, when: the TaskQueue seam (in-process on the embedded default) and its lanes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from easel.queue.base import TaskQueue
    from easel.services import Services
    from easel.tasks.store import JobLink


def job_link(database_url: str) -> JobLink | None:
    """On PostgreSQL the queue is procrastinate: the store defers each task's job as it stores the row."""
    if not database_url.startswith("postgres"):
        return None
    from easel.queue.procrastinate import JobLink as ProcrastinateJobs

    return ProcrastinateJobs()


def make_queue(services: Services, size: int, lanes: Iterable[str] | None = None) -> TaskQueue:
    """This process's workers: `size` threads serving `lanes` (default: what its engines can run)."""
    if services.store.jobs is not None:
        from easel.queue.procrastinate import ProcrastinateQueue

        return ProcrastinateQueue(services, size, lanes)
    from easel.queue.inprocess import InProcessQueue

    return InProcessQueue(services, size, lanes)
