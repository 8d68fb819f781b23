"""POST /api/v1/relight/submit and /query, answered in the market API's envelope.

Submit fetches and checks every image and mask before answering, because the seed's code table
answers a bad image URL (23500006) or a bad image (23500007) on the submit call itself. The bytes it
checked are stored, so the task later runs on exactly what was validated.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from easel.api.common import public_base_url, services_of
from easel.api.relight import errors as E
from easel.api.relight.errors import RelightError, code_for
from easel.api.relight.protocol import RelightTaskIn, parse_result_key, parse_task_list
from easel.catalog.relight import IMAGE_LIMITS, MODEL_NAME, check_pair, uses_engine
from easel.db.models import Task, TaskStatus
from easel.errors import EaselError
from easel.ids import new_id, random_seed
from easel.inputs.decode import decode_image
from easel.inputs.sources import UPLOAD_PREFIX, check_url
from easel.observability.context import request_id
from easel.services import Services
from easel.tasks.store import NewTask, Owner
from easel.webhooks.callbacks import callback_of_sync
from easel.webhooks.signing import CALLBACK_HEADER
from easel.webhooks.store import RELIGHT

router = APIRouter()
log = logging.getLogger("easel.relight")

STATUS_NAMES = {
    TaskStatus.PENDING: "WAITING",
    TaskStatus.RUNNING: "RUNNING",
    TaskStatus.SUCCEEDED: "SUCCESS",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.CANCELED: "FAILED",
}


def envelope(data: dict[str, Any] | None, status: int = 200, code: E.RelightCode | None = None,
             message: str = "success") -> JSONResponse:
    body: dict[str, Any] = {
        "success": code is None,
        "code": 0 if code is None else code.code,
        "message": message,
        "requestId": request_id(),
        # The seed's responses carry it; "error" on refusals mirrors the gateway's convention.
        "severity": "info" if code is None else "error",
    }
    if data is not None:
        body["data"] = data
    return JSONResponse(body, status_code=status)


def install_relight_errors(app: FastAPI) -> None:
    @app.exception_handler(RelightError)
    async def _relight_error(_request: Request, exc: RelightError) -> JSONResponse:
        return envelope(None, exc.code.status, exc.code, exc.message)


def _owner(request: Request, services: Services) -> Owner:
    scheme, _, code = request.headers.get("authorization", "").partition(" ")
    if scheme != "APPCODE" or not code.strip():
        raise RelightError(E.UNAUTHORIZED, "send 'Authorization: APPCODE <your app code>'")
    key_id = services.keys.authenticate(code.strip())
    if key_id is None:
        raise RelightError(E.UNAUTHORIZED, "the app code is not valid")
    return Owner(key_id=key_id)


def _check_nonce(request: Request, services: Services, owner: Owner) -> None:
    nonce = request.headers.get("x-ca-nonce", "").strip()
    if not nonce:
        raise RelightError(E.MISSING_PARAMETER, "the X-Ca-Nonce header is required")
    if len(nonce) > 128:
        raise RelightError(E.ILLEGAL_PARAMETER, "X-Ca-Nonce is longer than 128 characters")
    if not services.nonces.accept(owner.key_id, nonce):
        raise RelightError(E.ILLEGAL_PARAMETER, "X-Ca-Nonce was already used; send a new random nonce")


def _body(raw: bytes) -> Any:
    if not raw.strip():
        raise RelightError(E.MISSING_BODY, "send a JSON body with a data object")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # bad syntax or UTF-8, 4300+ digit integers, absurd nesting
        raise RelightError(E.ILLEGAL_PARAMETER, "the body is not valid JSON") from None


async def submit(request: Request) -> JSONResponse:
    """Async so that fetching a batch's images (up to 20 URLs, possibly slow) holds no thread of the
    shared pool: polls, queries and /healthz keep their threads while a submit waits on the network."""
    raw = await request.body()
    try:
        return await _submit(request, raw)
    except RelightError:
        raise
    except Exception as exc:
        log.exception("relight submit failed")
        raise RelightError(E.INTERNAL) from exc


async def query(request: Request) -> JSONResponse:
    raw = await request.body()
    return await run_in_threadpool(_guarded, _query, request, raw)


def unknown_service(request: Request, rest: str) -> JSONResponse:
    raise RelightError(E.NO_SERVICE, f"/api/v1/relight/{rest} is not a relight service; use submit or query")


def _guarded(handler: Callable[[Request, bytes], JSONResponse], request: Request, raw: bytes) -> JSONResponse:
    """Anything unexpected still answers in the market API's envelope (500, 23500000)."""
    try:
        return handler(request, raw)
    except RelightError:
        raise
    except Exception as exc:
        log.exception("relight %s failed", handler.__name__)
        raise RelightError(E.INTERNAL) from exc


async def _submit(request: Request, raw: bytes) -> JSONResponse:
    services = services_of(request)
    owner, tasks, callback = await run_in_threadpool(_admit, request, services, raw)
    result_key = new_id().replace("-", "")
    try:
        stored = await _stage_all(services, owner, result_key, tasks)
    except Exception:
        await run_in_threadpool(services.relight_quota.refund, owner.key_id, len(tasks))  # refused: no charge
        raise
    return await run_in_threadpool(_create, request, services, owner, result_key, tasks, stored, callback)


def _admit(request: Request, services: Services, raw: bytes) -> tuple[Owner, list[RelightTaskIn], str | None]:
    """Everything decided before any input is touched: auth, nonce, contract, callback, rate limit, quota."""
    owner = _owner(request, services)
    _check_nonce(request, services, owner)
    tasks = parse_task_list(_body(raw))
    _engine_fields(services)  # a [relight] engine that cannot run refuses before anything is charged
    try:
        callback = callback_of_sync(request.headers.get(CALLBACK_HEADER), services.webhooks, owner.key_id,
                                    services.settings.url_allowlist)
    except EaselError as exc:
        raise RelightError(E.ILLEGAL_PARAMETER, exc.message) from None
    if not services.relight_rate.allow(owner.key_id):
        raise RelightError(E.THROTTLED, "too many submits for this app code; slow down")
    # Quota first: a key that is out of credit must not make Easel fetch, decode or store anything.
    if not services.relight_quota.consume(owner.key_id, len(tasks)):
        raise RelightError(E.CREDIT_EXHAUSTED, f"this app code's quota of {services.relight_quota.limit} is used up")
    return owner, tasks, callback


async def _stage_all(services: Services, owner: Owner, result_key: str, tasks: list[RelightTaskIn]) -> list[dict]:
    """Every task's inputs staged, within one deadline for the whole batch; the first refusal wins."""
    jobs = [asyncio.ensure_future(_stage_inputs(services, owner, result_key, i, t)) for i, t in enumerate(tasks)]
    deadline = services.settings.fetch_timeout_s
    try:
        return list(await asyncio.wait_for(asyncio.gather(*jobs), deadline))
    except TimeoutError:
        raise RelightError(E.BAD_IMAGE_URL, f"fetching the batch's images took longer than {deadline:.0f} s") from None
    finally:
        for job in jobs:
            job.cancel()  # a refusal ends the batch: stop the fetches still running


def _create(request: Request, services: Services, owner: Owner, result_key: str, tasks: list[RelightTaskIn],
            stored: list[dict], callback: str | None) -> JSONResponse:
    seeds = [t.seed if t.seed is not None else random_seed() for t in tasks]
    engine = _engine_fields(services)
    news = [
        NewTask(model=MODEL_NAME, function="relight", api="relight", batch_id=result_key, batch_index=i,
                request={**urls, **engine, **t.model_dump(include={"negative_prompt"}, exclude_none=True),
                         "positive_prompt": t.positive_prompt, "guidance_scale": t.guidance_scale,
                         "steps": t.steps, "seed": seed})
        for i, (t, urls, seed) in enumerate(zip(tasks, stored, seeds, strict=True))
    ]
    services.store.create_many(owner, news)
    if callback is not None:  # one delivery for the batch, once every task in it has ended
        services.webhooks.register(RELIGHT, result_key, owner.key_id, callback, public_base_url(request))
    pool = request.app.state.pool
    if pool is not None:
        for _ in news:
            pool.wake()
    echoed = [{**_echo(t), "seed": seed, "status": "WAITING"} for t, seed in zip(tasks, seeds, strict=True)]
    return envelope({"result_key": result_key, "inference_num": len(tasks), "task_list": echoed})


def _engine_fields(services: Services) -> dict[str, Any]:
    """What the stored request says about the engine: {"generative": True} when IC-Light serves relight here
    (decided at submit, from the same engines.toml the workers read), nothing for the CPU relight."""
    try:
        return {"generative": True} if uses_engine(services.engines) else {}
    except EaselError as exc:
        raise RelightError(E.NO_SERVICE, exc.message) from None


def _echo(task: RelightTaskIn) -> dict[str, Any]:
    return task.model_dump(exclude_none=True, exclude={"seed"})


async def _stage_inputs(services: Services, owner: Owner, result_key: str, index: int,
                        task: RelightTaskIn) -> dict:
    """Fetch one task's image and mask (on the event loop), then check and store them (on a thread)."""
    where = f"data.task_list[{index}]"
    image_bytes = await _read(services, owner, task.image, f"{where}.image")
    mask_bytes = await _read(services, owner, task.mask, f"{where}.mask") if task.mask else None
    return await run_in_threadpool(_check_and_store, services, owner, f"{result_key}/{index}", where,
                                   image_bytes, mask_bytes)


def _check_and_store(services: Services, owner: Owner, name: str, where: str, image_bytes: bytes,
                     mask_bytes: bytes | None) -> dict:
    """Decode and check one task's inputs; store the checked bytes; returns their oss:// URLs."""
    image = _decode(image_bytes, f"{where}.image")
    mask = _decode(mask_bytes, f"{where}.mask") if mask_bytes is not None else None
    try:
        check_pair(image, mask)
    except EaselError as exc:
        code = E.MISSING_PARAMETER if "required" in exc.message else code_for(exc.code, exc.message)
        raise RelightError(code, f"{where}: {exc.message}") from None
    urls = {"image": _store(services, owner, f"{name}-image", image_bytes)}
    if mask_bytes is not None:
        urls["mask"] = _store(services, owner, f"{name}-mask", mask_bytes)
    return urls


async def _read(services: Services, owner: Owner, url: str, where: str) -> bytes:
    try:
        check_url(url, where, IMAGE_LIMITS.max_bytes)
    except EaselError as exc:
        # Any unusable URL (file://, ftp://, malformed) is the seed's "invalid image url"; only an
        # over-sized data: URI is a bad image.
        oversized = code_for(exc.code, exc.message) == E.BAD_IMAGE
        raise RelightError(E.BAD_IMAGE if oversized else E.BAD_IMAGE_URL, exc.message) from None
    try:
        if url.startswith("oss://"):
            await run_in_threadpool(services.inputs.check_upload, url, owner.key_id, where)
        return await services.inputs.read_bytes_async(url, owner.key_id, IMAGE_LIMITS.max_bytes)
    except EaselError as exc:
        raise RelightError(code_for(exc.code, exc.message), exc.message) from None


def _decode(data: bytes, where: str) -> Any:
    try:
        return decode_image(data, IMAGE_LIMITS, where)
    except EaselError as exc:
        raise RelightError(code_for(exc.code, exc.message), exc.message) from None


def _store(services: Services, owner: Owner, name: str, data: bytes) -> str:
    """Keep validated input bytes as an upload of the key's, addressed like any oss:// upload."""
    key = f"relight/{name}"
    services.blobs.put(UPLOAD_PREFIX + key, data, "application/octet-stream")
    services.store.record_blob(UPLOAD_PREFIX + key, owner.key_id, len(data))
    return "oss://" + key


def _query(request: Request, raw: bytes) -> JSONResponse:
    services = services_of(request)
    owner = _owner(request, services)
    _check_nonce(request, services, owner)
    result_key = parse_result_key(_body(raw))
    tasks = services.store.batch(result_key, owner)
    if not tasks:
        raise RelightError(E.NO_RESULT, f"no relight tasks under result_key {result_key!r} for this app code")
    return query_answer(services, result_key, tasks, public_base_url(request))


def query_answer(services: Services, result_key: str, tasks: list[Task], base_url: str) -> JSONResponse:
    """The query's answer for a batch (also the body of its webhook once every task has ended)."""
    items = [_task_view(services, t, base_url) for t in tasks]
    data = {"result_key": result_key, "task_list": items}
    if all(t.status in (TaskStatus.FAILED, TaskStatus.CANCELED) for t in tasks):
        return envelope(data, E.JOB_FAILED.status, E.JOB_FAILED, f"{E.JOB_FAILED.message}: {items[0]['message']}")
    return envelope(data)


def _task_view(services: Services, task: Task, base_url: str) -> dict[str, Any]:
    request = task.request
    view: dict[str, Any] = {
        "positive_prompt": request["positive_prompt"],
        "guidance_scale": request["guidance_scale"],
        "steps": request["steps"],
        "seed": request["seed"],
        **({"negative_prompt": request["negative_prompt"]} if request.get("negative_prompt") else {}),
        "status": STATUS_NAMES[TaskStatus(task.status)],
        "results": [],
    }
    if task.status == TaskStatus.SUCCEEDED:
        ends = task.end_time.replace(tzinfo=UTC)
        expires = int(ends.timestamp() + services.settings.retention_hours * 3600)
        view["results"] = [services.blobs.url(r["blob"], expires, base_url) for r in task.results or [] if "blob" in r]
        view["notes"] = (task.extra_output or {}).get("notes", [])
    elif task.status in (TaskStatus.FAILED, TaskStatus.CANCELED):
        code = code_for(task.code or "", task.message or "")
        view["code"] = code.code
        view["message"] = task.message or code.message
    return view


router.add_api_route("/api/v1/relight/submit", submit, methods=["POST"])
router.add_api_route("/api/v1/relight/query", query, methods=["POST"])
router.add_api_route("/api/v1/relight/{rest:path}", unknown_service, methods=["GET", "POST", "PUT", "DELETE"])
