"""DashScope routes: create (async services), poll, cancel, list. Thin: parse, authenticate, validate, store."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from easel.api.common import authenticate, authenticate_async, json_body, new_request_id, public_base_url, services_of
from easel.api.dashscope.render import UrlMaker, list_item, task_body, unknown_task_body
from easel.catalog.base import CatalogModel, ValidRequest
from easel.catalog.registry import MODELS, find_model
from easel.db.models import Task, TaskStatus
from easel.errors import AccessDenied, EaselError, InvalidParameter, UnsupportedOperation
from easel.inputs.sources import check_url
from easel.observability.context import note_task
from easel.queue.lanes import lane_of
from easel.tasks.store import NewTask, Owner, TaskFilter, utcnow
from easel.webhooks.callbacks import callback_of, refuse_callback_on_sync_call, register_callback

router = APIRouter()

# Tasks behind synchronous calls: run by workers like any task, never listed.
SYNC_API = "sync"
TERMINAL = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELED})

ASYNC_SERVICES = (
    "image2image/image-synthesis",
    "text2image/image-synthesis",
    "background-generation/generation",
    "image-generation/generation",
)


def add_route(path: str, endpoint: Callable[..., Any], methods: list[str]) -> None:
    """Register a path with and without its trailing slash (the aio SDK client adds one)."""
    router.add_api_route(path, endpoint, methods=methods, include_in_schema=True)
    router.add_api_route(path + "/", endpoint, methods=methods, include_in_schema=False)


def add_plain_route(path: str, endpoint: Callable[..., Any], methods: list[str]) -> None:
    """Like add_route, as a bare Starlette route: no dependency solving on the hottest path (creates)."""
    router.add_route(path, endpoint, methods=methods, include_in_schema=False)
    router.add_route(path + "/", endpoint, methods=methods, include_in_schema=False)


def _url_maker(request: Request) -> UrlMaker:
    services = services_of(request)
    return UrlMaker(services.blobs, public_base_url(request), services.settings.retention_hours)


async def create_task(request: Request) -> Response:
    """Async on purpose: validation is pure CPU and the commit is awaited from the group writer,
    so a create costs no thread hop (the throughput benchmark is this path)."""
    owner = await authenticate_async(request)
    body = await json_body(request)
    service = "/".join(request.scope["path"].rstrip("/").split("/")[-2:])
    model, valid, gap = _validate_create(request, body, service)
    uploads = [(f, check_url(u, f)) for f, u in valid.image_urls]
    if any(url.startswith("oss://") for _, url in uploads):
        await run_in_threadpool(_check_uploads, request, owner, uploads)
    callback = await callback_of(request, owner)  # X-Easel-Callback or the key's default; checked now
    new = NewTask(
        model=model.name,
        function=valid.function,
        request=valid.request,
        failed_code=gap.code if gap else None,
        failed_message=gap.message if gap else None,
        lane=lane_of(model, valid, services_of(request).engines),
    )
    async with services_of(request).key_limits.creating(owner.key_id):  # 429 Throttling.* over a key's limit
        (task,) = await request.app.state.writer.create(owner, [new])
    note_task(task["id"])
    if callback is not None:
        await register_callback(request, owner, task["id"], callback)
    pool = request.app.state.pool
    if pool is not None and gap is None:
        pool.wake()
    # Built by hand: ids need no escaping, and this is the hottest response. A create always answers
    # PENDING, as the cloud does, even when the task is already stored FAILED: the first query tells.
    return Response(
        f'{{"request_id":"{new_request_id()}","output":{{"task_id":"{task["id"]}","task_status":"PENDING"}}}}',
        media_type="application/json",
    )


def _check_uploads(request: Request, owner: Owner, uploads: list[tuple[str, str]]) -> None:
    for field, url in uploads:
        services_of(request).inputs.check_upload(url, owner.key_id, field)


def _validate_create(
    request: Request, body: dict[str, Any], service: str
) -> tuple[CatalogModel, ValidRequest, EaselError | None]:
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise InvalidParameter("model is required, e.g. \"model\": \"wanx2.1-imageedit\".")
    model = find_model(name)
    if model is None or not model.routes:
        raise InvalidParameter(f"Model {name!r} does not exist here; served models: {', '.join(sorted(MODELS))}.")
    if service not in model.routes or model.synchronous:
        raise InvalidParameter(
            f"Model {name} is not served on /services/aigc/{service}; use /services/aigc/{sorted(model.routes)[0]}."
        )
    if request.headers.get("x-dashscope-async", "").lower() != "enable":
        raise AccessDenied(
            "current user api does not support synchronous calls; send the header 'X-DashScope-Async: enable'."
        )
    valid = model.validate(body)
    return model, valid, model.capability_gap(valid, services_of(request).engines)


async def generate_sync(request: Request) -> JSONResponse:
    """multimodal-generation: validated like a create, run as a task by a worker, answered when it ends.

    The API process never runs engines itself, so an API node with `--workers 0` serves this too."""
    owner = await authenticate_async(request)
    refuse_callback_on_sync_call(request)
    body = await json_body(request)
    name = body.get("model")
    model = find_model(name) if isinstance(name, str) else None
    if model is None or not model.synchronous:
        served = sorted(m.name for m in MODELS.values() if m.synchronous)
        raise InvalidParameter(f"Model {name!r} is not served on multimodal-generation; served: {', '.join(served)}.")
    valid = model.validate(body)
    uploads = [(f, check_url(u, f)) for f, u in valid.image_urls]
    await _check_inputs(request, owner, model, uploads)
    gap = model.capability_gap(valid, services_of(request).engines)
    if gap is not None:
        raise gap
    new = NewTask(model=model.name, function=valid.function, request=valid.request, api=SYNC_API,
                  lane=lane_of(model, valid, services_of(request).engines))
    async with services_of(request).key_limits.creating(owner.key_id):
        (task,) = await request.app.state.writer.create(owner, [new])
    if request.app.state.pool is not None:
        request.app.state.pool.wake()
    finished = await _wait_for_end(request, task["id"], owner)
    return _sync_answer(request, finished)


async def _check_inputs(request: Request, owner: Owner, model: CatalogModel, uploads: list[tuple[str, str]]) -> None:
    """Fetch and decode every input now, so a bad image is a 400 before any queueing. Fetched on the
    event loop (bounded per key, one deadline): a slow URL holds no thread of the shared pool."""
    services = services_of(request)
    await run_in_threadpool(_check_uploads, request, owner, uploads)
    if model.input_limits is None:
        return
    await services.inputs.load_images_async([url for _field, url in uploads], owner.key_id, model.input_limits,
                                            "image")


async def _wait_for_end(request: Request, task_id: str, owner: Owner) -> Task:
    store = services_of(request).store
    deadline = time.monotonic() + services_of(request).settings.sync_timeout_s
    delay = 0.02
    while True:
        task = await run_in_threadpool(store.get, task_id, owner)
        if task is not None and task.status in TERMINAL:
            return task
        if time.monotonic() > deadline:
            await run_in_threadpool(store.cancel, task_id, owner)
            raise EaselError("The edit did not finish in time; no worker may be serving this model.",
                             code="RequestTimeOut", status=504)
        await asyncio.sleep(delay)
        delay = min(0.25, delay * 1.5)


def _sync_answer(request: Request, task: Task) -> JSONResponse:
    if task.status != TaskStatus.SUCCEEDED:
        code = task.code or "InternalError"
        raise EaselError(task.message or "The edit failed.", code=code, status=500 if code == "InternalError" else 400)
    urls = _url_maker(request)
    content = [{"image": urls.link(r["blob"], task.end_time or utcnow())} for r in task.results or [] if "blob" in r]
    body = {
        "request_id": new_request_id(),
        "output": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": content}}]},
        "usage": {**(task.usage or {}), "image_count": len(content)},
    }
    return JSONResponse(body)


def get_task(request: Request, task_id: str) -> JSONResponse:
    owner = authenticate(request)
    store = services_of(request).store
    task = store.get(task_id, owner)
    if task is None or task.api != "dashscope":
        return JSONResponse(unknown_task_body(task_id, new_request_id()))
    progress = store.progress_of(task.id) if task.status == TaskStatus.RUNNING else None
    return JSONResponse(task_body(task, _url_maker(request), new_request_id(), progress))


def cancel_task(request: Request, task_id: str) -> JSONResponse:
    owner = authenticate(request)
    if not services_of(request).store.cancel(task_id, owner):
        raise UnsupportedOperation(
            "Failed to cancel the task, please confirm if the task is in PENDING or RUNNING status."
        )
    return JSONResponse({"request_id": new_request_id()})


def list_tasks(request: Request) -> JSONResponse:
    owner = authenticate(request)
    query = request.query_params
    page_no = _int_param(query.get("page_no"), "page_no", 1, 1, 1_000_000)
    page_size = _int_param(query.get("page_size"), "page_size", 10, 1, 100)
    status = query.get("status") or None
    if status and status not in {s.value for s in TaskStatus if s != TaskStatus.UNKNOWN}:
        raise InvalidParameter(f"status must be one of PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED, not {status!r}.")
    flt = TaskFilter(
        status=status,
        model=query.get("model_name") or None,
        start=_time_param(query.get("start_time"), "start_time"),
        end=_time_param(query.get("end_time"), "end_time"),
    )
    page = services_of(request).store.list(owner, flt, page_no, page_size)
    items = [list_item(t) for t in page.items]
    return JSONResponse(
        {
            "request_id": new_request_id(),
            # the 1.x SDK reads `data`, the 2.x client reads `tasks`
            "data": items,
            "tasks": items,
            "total": page.total,
            "total_page": math.ceil(page.total / page_size) if page.total else 0,
            "page_no": page_no,
            "page_size": page_size,
        }
    )


def _int_param(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter(f"{name} must be an integer, not {raw!r}.") from None
    if not low <= value <= high:
        raise InvalidParameter(f"{name} must be between {low} and {high}, not {value}.")
    return value


def _time_param(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        if not (raw.isascii() and raw.isdigit() and len(raw) == 14):  # strptime also takes unpadded fields
            raise ValueError(raw)
        return datetime.strptime(raw, "%Y%m%d%H%M%S")
    except ValueError:
        raise InvalidParameter(f"{name} must be YYYYMMDDhhmmss, not {raw!r}.") from None


for _service in ASYNC_SERVICES:
    add_plain_route(f"/api/v1/services/aigc/{_service}", create_task, ["POST"])
add_plain_route("/api/v1/services/aigc/multimodal-generation/generation", generate_sync, ["POST"])
add_route("/api/v1/tasks/{task_id}", get_task, ["GET"])
add_route("/api/v1/tasks/{task_id}/cancel", cancel_task, ["POST"])
add_route("/api/v1/tasks", list_tasks, ["GET"])
