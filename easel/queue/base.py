"""The TaskQueue seam: the API side tells the queue a task was stored; workers take tasks lane by lane.

The task row stays the one source of truth for DashScope state: a queue only decides who runs what,
when, and drops work for a task that is no longer PENDING (a start is a conditional UPDATE).
"""

from __future__ import annotations

from typing import Protocol


class TaskQueue(Protocol):
    # worker threads in this process, and the lanes they serve
    size: int
    lanes: list[str]

    def start(self) -> None:
        """Start this process's workers for the lanes it serves."""

    def wake(self, lane: str | None = None) -> None:
        """A task was committed (in `lane`, when known): let an idle worker take it now."""

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking tasks and wait (up to `timeout`) for the workers to finish."""
