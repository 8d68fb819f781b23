"""An OpenAI image edit served by the catalog: the same validation, capability checks, tasks and engines
as the DashScope routes, so both APIs answer a request the same way.

Inputs are stored as uploads (blob store, `uploads/` keys owned by the caller's key, purged with the
retention period) and named by oss:// URLs, exactly as the dashscope SDK's own uploads are: the task row
stays small and the worker reads them through the usual InputResolver.

Only the first `image` is used: none of the served models edits several images at once, so further
images are ignored.

`size`: "auto" answers at the size the model makes (the input's size for most wanx2.1-imageedit
functions, larger for super_resolution and expand; about a megapixel at the input's aspect ratio for
qwen-image-edit; 1024x1024 for wanx-x-painting). wanx-x-painting also takes 1024x1024, 720x1280 and
1280x720 (its own sizes). wanx2.1-imageedit accepts an explicit WxH only when it equals the input's
size and the function keeps it (not super_resolution or expand); anything else is a 400 rather than a
silently different picture.
"""

from __future__ import annotations

import base64
import io
import secrets
from datetime import UTC, datetime
from typing import Any

import numpy as np
from fastapi import Request
from PIL import Image, UnidentifiedImageError
from starlette.concurrency import run_in_threadpool

from easel.api.common import public_base_url, services_of
from easel.api.dashscope.render import UrlMaker
from easel.api.dashscope.router import _wait_for_end
from easel.api.openai.protocol import QWEN_EDIT, XPAINTING, EditForm, ImageFile, ModelChoice, bad_input
from easel.catalog.base import CatalogModel
from easel.catalog.registry import find_model
from easel.catalog.wanx_imageedit import Function
from easel.catalog.wanx_x_painting import SIZES as XPAINTING_SIZES
from easel.db.models import Task, TaskStatus
from easel.errors import EaselError
from easel.inputs.sources import UPLOAD_PREFIX
from easel.queue.lanes import lane_of
from easel.services import Services
from easel.tasks.store import NewTask, Owner, utcnow

# Tasks behind OpenAI calls: run by workers like any task, never listed by the DashScope routes.
OPENAI_API = "openai"
XPAINTING_DEFAULT_SIZE = "1024*1024"
# The largest side any served model accepts (wanx2.1-imageedit, wanx-x-painting: 4096 px).
MAX_SIDE = 4096
# wanx2.1-imageedit functions whose output is not the input's size.
RESIZING = frozenset({Function.SUPER_RESOLUTION, Function.EXPAND})
# Stands in for the stored images while a request is only checked (validation reads no image).
PLACEHOLDER = "oss://easel-openai/placeholder"


async def run_edit(request: Request, owner: Owner, form: EditForm, choice: ModelChoice) -> list[dict[str, Any]]:
    """Run the edit to its end and answer OpenAI's `data` list."""
    services = services_of(request)
    base_size = image_size(form.images[0])
    mask = await run_in_threadpool(openai_mask, form.mask, base_size) if form.mask is not None else None
    check_request(choice, form, base_size)
    model = find_model(choice.model)
    assert model is not None  # resolve_model names catalog models only
    # Judged before anything is stored: what the engines cannot do does not depend on the images.
    _refuse_gap(request, model, dashscope_body(choice, form, PLACEHOLDER, [PLACEHOLDER] if mask else []))
    files = [(form.images[0].data, form.images[0].content_type)]
    if mask is not None:
        files.append((mask, "image/png"))
    urls = await run_in_threadpool(store_inputs, services, owner, files)
    task = await _create(request, owner, model, dashscope_body(choice, form, urls[0], urls[1:]))
    finished = await _wait_for_end(request, task["id"], owner)
    blobs = _result_blobs(finished)
    if form.response_format == "b64_json":
        return [{"b64_json": await run_in_threadpool(_b64, services, key)} for key in blobs]
    maker = UrlMaker(services.blobs, public_base_url(request), services.settings.retention_hours)
    return [{"url": maker.link(key, finished.end_time or utcnow())} for key in blobs]


def _refuse_gap(request: Request, model: CatalogModel, body: dict[str, Any]) -> None:
    gap = model.capability_gap(model.validate(body), services_of(request).engines)
    if gap is not None:  # refused before queueing, as the synchronous DashScope route does
        raise gap


async def _create(request: Request, owner: Owner, model: CatalogModel, body: dict[str, Any]) -> dict[str, Any]:
    valid = model.validate(body)
    new = NewTask(model=model.name, function=valid.function, request=valid.request, api=OPENAI_API,
                  lane=lane_of(model, valid, services_of(request).engines))
    (task,) = await request.app.state.writer.create(owner, [new])
    if request.app.state.pool is not None:
        request.app.state.pool.wake()
    return task


def _result_blobs(task: Task) -> list[str]:
    if task.status != TaskStatus.SUCCEEDED:
        code = task.code or "InternalError"
        raise EaselError(task.message or "The edit failed.", code=code, status=500 if code == "InternalError" else 400)
    return [r["blob"] for r in task.results or [] if "blob" in r]


def _b64(services: Services, key: str) -> str:
    data = services.blobs.get(key)
    if data is None:
        raise EaselError("The result image is gone from storage.", code="InternalError", status=500)
    return base64.b64encode(data).decode("ascii")


def image_size(image: ImageFile) -> tuple[int, int]:
    """Width and height from the header only; the model decodes and checks the image itself later."""
    try:
        with Image.open(io.BytesIO(image.data)) as opened:
            return opened.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise bad_input("image is not a readable image file (PNG, JPEG, WEBP, …).", "image") from None


def openai_mask(mask: ImageFile, base_size: tuple[int, int]) -> bytes:
    """OpenAI's mask (fully transparent pixels mark the edit area) as Easel's (white marks it), as a PNG."""
    try:
        with Image.open(io.BytesIO(mask.data)) as opened:
            _check_mask_header(opened, base_size)
            alpha = np.asarray(opened.convert("RGBA").getchannel("A"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise bad_input("mask is not a readable PNG image.", "mask") from None
    area = alpha < 128
    if not area.any():
        raise bad_input("mask has no transparent pixels, so it marks nothing to edit.", "mask")
    buffer = io.BytesIO()
    Image.fromarray(np.where(area, 255, 0).astype(np.uint8), "L").save(buffer, "PNG")
    return buffer.getvalue()


def _check_mask_header(opened: Image.Image, base_size: tuple[int, int]) -> None:
    """Judged on the header, before any pixel is decoded: a mask is never bigger than an input may be."""
    if "A" not in opened.getbands() and "transparency" not in opened.info:
        raise bad_input("mask must be a PNG with an alpha channel; its transparent pixels mark where to edit.",
                        "mask")
    if opened.size != base_size:
        raise bad_input(f"mask is {opened.width}x{opened.height} but image is {base_size[0]}x{base_size[1]}; "
                        "they must have the same size.", "mask")
    if max(opened.size) > MAX_SIDE:
        raise bad_input(f"mask is larger than {MAX_SIDE} px per side, the most any served model takes.", "mask")


def check_request(choice: ModelChoice, form: EditForm, base_size: tuple[int, int]) -> None:
    """What the OpenAI form can express but the chosen model cannot do, as a 400 naming the field."""
    has_mask = form.mask is not None
    masked = choice.model == XPAINTING or choice.function == Function.DESCRIPTION_EDIT_WITH_MASK
    if masked and not has_mask:
        raise bad_input(f"{_label(choice)} edits the area a mask marks; send a mask.", "mask")
    if has_mask and not masked:
        raise bad_input(f"{_label(choice)} edits the whole image and takes no mask; for a masked edit use "
                        "wanx2.1-imageedit:description_edit_with_mask or wanx-x-painting.", "mask")
    if choice.model == QWEN_EDIT and form.n != 1:
        raise bad_input(f"{QWEN_EDIT} makes one image per request; send n=1.", "n")
    if form.size == "auto":
        return
    if choice.model == XPAINTING:
        if form.size.replace("x", "*") not in XPAINTING_SIZES:
            raise bad_input(f"{XPAINTING} makes 1024x1024, 720x1280 or 1280x720 images (or size=auto), not "
                            f"{form.size}.", "size")
        return
    keeps_size = choice.model != QWEN_EDIT and choice.function not in RESIZING
    if not keeps_size or form.size != f"{base_size[0]}x{base_size[1]}":
        also = f" (or the input's size, {base_size[0]}x{base_size[1]})" if keeps_size else ""
        raise bad_input(f"{_label(choice)} answers at the size it makes from the input; send size=auto{also}.",
                        "size")


def _label(choice: ModelChoice) -> str:
    return f"{choice.model}:{choice.function}" if choice.function else choice.model


def dashscope_body(choice: ModelChoice, form: EditForm, base_url: str, mask_urls: list[str]) -> dict[str, Any]:
    """The DashScope create body the catalog model validates, as a DashScope client would send it."""
    if choice.model == QWEN_EDIT:
        content = [{"image": base_url}, {"text": form.prompt}]
        return {"model": QWEN_EDIT, "input": {"messages": [{"role": "user", "content": content}]}}
    if choice.model == XPAINTING:
        size = XPAINTING_DEFAULT_SIZE if form.size == "auto" else form.size.replace("x", "*")
        return {"model": XPAINTING, "input": {"prompt": form.prompt, "base_image_url": base_url,
                                              "mask_image_url": mask_urls[0]},
                "parameters": {"n": form.n, "size": size}}
    inp: dict[str, Any] = {"function": choice.function, "prompt": form.prompt, "base_image_url": base_url}
    if mask_urls:
        inp["mask_image_url"] = mask_urls[0]
    return {"model": choice.model, "input": inp, "parameters": {"n": form.n}}


def store_inputs(services: Services, owner: Owner, files: list[tuple[bytes, str]]) -> list[str]:
    """Store the request's images as uploads of the caller's key; their oss:// URLs, in order."""
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    directory = f"easel-uploads/{owner.key_id}/{day}/openai-{secrets.token_hex(8)}"
    urls = []
    for name, (data, content_type) in zip(("image", "mask"), files, strict=False):
        key = f"{directory}/{name}"
        services.blobs.put(UPLOAD_PREFIX + key, data, content_type)
        services.store.record_blob(UPLOAD_PREFIX + key, owner.key_id, len(data))
        urls.append("oss://" + key)
    return urls
