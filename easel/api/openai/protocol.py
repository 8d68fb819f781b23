"""OpenAI's Images API wire shapes: the edit form, the model names it accepts, the error envelope.

Only parsing and mapping live here; serving.py turns a parsed edit into a catalog request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse
from starlette.datastructures import FormData, UploadFile

from easel.catalog.wanx_imageedit import Function
from easel.errors import EaselError
from easel.inputs.sources import DEFAULT_MAX_BYTES

IMAGEEDIT = "wanx2.1-imageedit"
XPAINTING = "wanx-x-painting"
QWEN_EDIT = "qwen-image-edit"
# No `model` field: the general editor, whose function follows from the mask (see resolve_model).
DEFAULT_MODEL = IMAGEEDIT
MAX_N = 4
RESPONSE_FORMATS = ("url", "b64_json")


class OpenAIError(Exception):
    """An error answered as {"error": {message, type, param, code}} with an HTTP status."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code

    @classmethod
    def from_easel(cls, exc: EaselError, param: str | None = None) -> OpenAIError:
        # OpenAI's codes are snake_case: InvalidApiKey -> invalid_api_key (OpenAI's own name for it),
        # EngineUnavailable -> engine_unavailable; the body cap in RequestGuard names its code the same way.
        return cls(exc.status, exc.message, param=param, code=snake_case(exc.code))

    def response(self) -> JSONResponse:
        kind = "server_error" if self.status >= 500 else (
            "authentication_error" if self.status == 401 else "invalid_request_error")
        body = {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status)


def snake_case(code: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", code).lower()


def bad_input(message: str, param: str) -> OpenAIError:
    return OpenAIError(400, message, param=param, code="invalid_value")


@dataclass(frozen=True)
class ImageFile:
    data: bytes
    content_type: str


@dataclass(frozen=True)
class EditForm:
    images: list[ImageFile]
    mask: ImageFile | None
    prompt: str
    n: int
    size: str  # "auto" or "WxH"
    response_format: str
    model: str


@dataclass(frozen=True)
class ModelChoice:
    """The catalog model behind an OpenAI `model` name, and the wanx2.1-imageedit function if any."""

    model: str
    function: str | None


async def read_file(value: Any, param: str) -> ImageFile:
    if not isinstance(value, UploadFile):
        raise bad_input(f"{param} must be an uploaded file (multipart file part), not a text field.", param)
    data = await value.read(DEFAULT_MAX_BYTES + 1)
    if not data:
        raise bad_input(f"{param} is empty.", param)
    if len(data) > DEFAULT_MAX_BYTES:
        raise bad_input(f"{param} is larger than {DEFAULT_MAX_BYTES // 1048576} MB.", param)
    return ImageFile(data, value.content_type or "application/octet-stream")


async def parse_edit_form(form: FormData) -> EditForm:
    # The SDK sends one image as `image` and a list as `image[]`; both are accepted.
    parts = [*form.getlist("image"), *form.getlist("image[]")]
    if not parts:
        raise bad_input("image is required: the picture to edit, as a multipart file.", "image")
    images = [await read_file(part, "image") for part in parts]
    mask = await read_file(form["mask"], "mask") if form.get("mask") is not None else None
    prompt = _text(form, "prompt", "")
    if not prompt.strip() and mask is None:
        raise bad_input("prompt is required.", "prompt")
    response_format = _text(form, "response_format", "url")
    if response_format not in RESPONSE_FORMATS:
        raise bad_input(f"response_format must be url or b64_json, not {response_format!r}.", "response_format")
    size = parse_size(_text(form, "size", "auto"))
    return EditForm(images=images, mask=mask, prompt=prompt, n=_count(form), size=size,
                    response_format=response_format, model=_text(form, "model", "") or DEFAULT_MODEL)


def _text(form: FormData, name: str, default: str) -> str:
    value = form.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_input(f"{name} must be a text field.", name)
    return value.strip() if name != "prompt" else value


def _count(form: FormData) -> int:
    raw = _text(form, "n", "1")
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_N):
        raise bad_input(f"n must be an integer from 1 to {MAX_N}, not {raw!r}.", "n")
    return int(raw)


def parse_size(raw: str) -> str:
    """"auto" or "WxH" (positive integers); whether a model can honour it is decided in serving.py."""
    if raw in ("", "auto"):
        return "auto"
    width, sep, height = raw.lower().partition("x")
    if not sep or not all(v.isascii() and v.isdigit() and 0 < len(v) <= 5 and int(v) > 0 for v in (width, height)):
        raise bad_input(f"size must be \"auto\" or WIDTHxHEIGHT such as 1024x1024, not {raw!r}.", "size")
    return f"{int(width)}x{int(height)}"


def resolve_model(name: str, has_mask: bool) -> ModelChoice:
    """"wanx2.1-imageedit:<function>", bare "wanx2.1-imageedit" (description_edit, or
    description_edit_with_mask when a mask is sent), "wanx-x-painting", "qwen-image-edit"."""
    model, _, function = name.partition(":")
    if model == IMAGEEDIT:
        if not function:
            function = Function.DESCRIPTION_EDIT_WITH_MASK if has_mask else Function.DESCRIPTION_EDIT
        if function not in {f.value for f in Function}:
            raise bad_input(f"{IMAGEEDIT} has no function {function!r}; functions: "
                            f"{', '.join(f.value for f in Function)}.", "model")
        return ModelChoice(IMAGEEDIT, str(function))
    if model in (XPAINTING, QWEN_EDIT) and not function:
        return ModelChoice(model, None)
    raise bad_input(f"The model {name!r} is not served on /v1/images/edits; use one of: {', '.join(model_ids())}.",
                    "model")


def model_ids() -> list[str]:
    """Every `model` value /v1/images/edits accepts (also what GET /v1/models lists)."""
    return [IMAGEEDIT, *(f"{IMAGEEDIT}:{f.value}" for f in Function), XPAINTING, QWEN_EDIT]
