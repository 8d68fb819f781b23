"""Task records rendered in DashScope's wire shape (PROTOCOL.md §3.5 and §4.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from easel.db.models import Task, TaskStatus
from easel.storage import BlobStore


def format_time(value: datetime | None) -> str | None:
    """DashScope's "2026-11-21 05:02:03.435" (UTC here)."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


class UrlMaker:
    """Turns stored blob references into signed links that expire with the task's retention."""

    def __init__(self, blobs: BlobStore, base_url: str, retention_hours: float) -> None:
        self.blobs = blobs
        self.base_url = base_url
        self.retention = timedelta(hours=retention_hours)

    def resolve(self, value: Any, ends: datetime) -> Any:
        """{"blob": key} -> {"url": link}; {"$url": key} -> link; containers are walked."""
        if isinstance(value, dict):
            if set(value) == {"blob"}:
                return {"url": self.link(value["blob"], ends)}
            if set(value) == {"$url"}:
                return self.link(value["$url"], ends)
            return {k: self.resolve(v, ends) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, ends) for v in value]
        return value

    def link(self, key: str, ends: datetime) -> str:
        expires = int((ends + self.retention).replace(tzinfo=UTC).timestamp())
        return self.blobs.url(key, expires, self.base_url)


def task_output(task: Task, urls: UrlMaker, progress: int | None = None) -> dict[str, Any]:
    output: dict[str, Any] = {"task_id": task.id, "task_status": task.status}
    if progress is not None and task.status == TaskStatus.RUNNING:
        output["progress"] = progress  # Easel extension: percent of the engine's steps done
    output["submit_time"] = format_time(task.submit_time)
    if task.scheduled_time:
        output["scheduled_time"] = format_time(task.scheduled_time)
        output["start_time"] = output["scheduled_time"]  # seed 004 names the start of the run so
    if task.end_time:
        output["end_time"] = format_time(task.end_time)
    ends = task.end_time or task.submit_time
    if task.results is not None:
        results = urls.resolve(task.results, ends)
        output["results"] = results
        succeeded = sum(1 for r in results if "url" in r)
        output["task_metrics"] = {"TOTAL": len(results), "SUCCEEDED": succeeded, "FAILED": len(results) - succeeded}
    elif task.status in (TaskStatus.RUNNING, TaskStatus.FAILED):
        # seeds 001/003/004 show the batch counts on RUNNING and FAILED tasks too
        total = requested_images(task)
        failed = total if task.status == TaskStatus.FAILED else 0
        output["task_metrics"] = {"TOTAL": total, "SUCCEEDED": 0, "FAILED": failed}
    if task.extra_output:
        output.update(urls.resolve(task.extra_output, ends))
    if task.status == TaskStatus.FAILED:
        output["code"] = task.code or "InternalError"
        output["message"] = task.message or ""
    return output


def requested_images(task: Task) -> int:
    parameters = (task.request or {}).get("parameters") if isinstance(task.request, dict) else None
    n = parameters.get("n", 1) if isinstance(parameters, dict) else 1
    return n if isinstance(n, int) and n > 0 else 1


def task_body(task: Task, urls: UrlMaker, request_id: str, progress: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"request_id": request_id, "output": task_output(task, urls, progress)}
    if task.usage is not None:
        body["usage"] = task.usage
    elif task.status == TaskStatus.FAILED:
        body["usage"] = {"image_count": 0, "image_num": 0}  # seed 004's failed example: image_num 0
    return body


def unknown_task_body(task_id: str, request_id: str) -> dict[str, Any]:
    return {"request_id": request_id, "output": {"task_id": task_id, "task_status": TaskStatus.UNKNOWN.value}}


def list_item(task: Task) -> dict[str, Any]:
    created_ms = int(task.submit_time.replace(tzinfo=UTC).timestamp() * 1000)
    return {
        "task_id": task.id,
        "status": task.status,
        "task_status": task.status,
        "model_name": task.model,
        "function": task.function or None,
        "region": "local",
        "gmt_create": created_ms,
        "submit_time": format_time(task.submit_time),
        "end_time": format_time(task.end_time),
    }
