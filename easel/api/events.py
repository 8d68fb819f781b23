"""GET /api/v1/tasks/{id}/events: a task's life as Server-Sent Events, an Easel extension to polling.

Events: `status` ({"task_id", "task_status"}) on every status change, the first at once; `progress`
({"task_id", "progress"}) whenever the engine's percentage changes while RUNNING; `end` with the task
JSON exactly as GET /api/v1/tasks/{id} answers it, after which the stream closes. A task that does not
exist or is not the caller's gets only `end` with the UNKNOWN body, as GET answers it. The store is
polled (every POLL_S): workers may be other processes, so there is nothing in-process to subscribe to.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from easel.api.common import authenticate_async, new_request_id, public_base_url, services_of
from easel.api.dashscope.render import UrlMaker, task_body, unknown_task_body
from easel.api.dashscope.router import TERMINAL
from easel.db.models import Task, TaskStatus
from easel.tasks.store import Owner

router = APIRouter()

POLL_S = 0.2
# A comment line this often keeps proxies from closing a stream that waits on a long queue.
KEEPALIVE_S = 15.0


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


async def task_events(request: Request) -> StreamingResponse:
    owner = await authenticate_async(request)
    task_id = request.path_params["task_id"]
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_stream(request, owner, task_id), media_type="text/event-stream", headers=headers)


async def _read(request: Request, task_id: str, owner: Owner) -> tuple[Task | None, int | None]:
    store = services_of(request).store
    task = await run_in_threadpool(store.get, task_id, owner)
    if task is None or task.api != "dashscope":  # the same tasks GET /api/v1/tasks/{id} shows
        return None, None
    progress = await run_in_threadpool(store.progress_of, task_id) if task.status == TaskStatus.RUNNING else None
    return task, progress


async def _stream(request: Request, owner: Owner, task_id: str) -> AsyncIterator[bytes]:
    status: str | None = None
    progress: int | None = None
    last_sent = time.monotonic()
    while not await request.is_disconnected():
        task, now_progress = await _read(request, task_id, owner)
        if task is None:
            yield sse("end", unknown_task_body(task_id, new_request_id()))
            return
        if task.status != status:
            status = task.status
            yield sse("status", {"task_id": task_id, "task_status": status})
            last_sent = time.monotonic()
        if now_progress is not None and now_progress != progress:
            progress = now_progress
            yield sse("progress", {"task_id": task_id, "progress": progress})
            last_sent = time.monotonic()
        if task.status in TERMINAL:
            yield sse("end", task_body(task, _url_maker(request), new_request_id()))
            return
        if time.monotonic() - last_sent > KEEPALIVE_S:
            yield b": keepalive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(POLL_S)


def _url_maker(request: Request) -> UrlMaker:
    services = services_of(request)
    return UrlMaker(services.blobs, public_base_url(request), services.settings.retention_hours)


router.add_route("/api/v1/tasks/{task_id}/events", task_events, methods=["GET"], include_in_schema=False)
