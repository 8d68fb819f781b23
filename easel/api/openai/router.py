"""OpenAI-compatible routes: POST /v1/images/edits and GET /v1/models, for the official `openai` client.

Errors leave in OpenAI's envelope ({"error": {...}}), not DashScope's: each route converts its own
errors, because the app-wide handlers speak DashScope.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from easel.api.common import authenticate_async
from easel.api.openai.protocol import OpenAIError, model_ids, parse_edit_form, resolve_model
from easel.api.openai.serving import run_edit
from easel.errors import EaselError
from easel.webhooks.callbacks import refuse_callback_on_sync_call

log = logging.getLogger("easel.api.openai")
router = APIRouter()

# OpenAI's `created` of a model; Easel's models exist as long as this process does.
STARTED = int(time.time())
# A few images, a mask and the text fields; anything more is not an image edit.
MAX_FORM_FILES = 8
MAX_FORM_FIELDS = 32


def openai_errors(endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Answer every failure of `endpoint` in OpenAI's error shape."""
    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except OpenAIError as exc:
            return exc.response()
        except EaselError as exc:
            return OpenAIError.from_easel(exc).response()
        except (MultiPartException, StarletteHTTPException) as exc:  # request.form() raises the latter in an app
            message = getattr(exc, "message", None) or getattr(exc, "detail", "")
            return OpenAIError(400, f"The multipart form is malformed: {message}.", code="invalid_value").response()
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return OpenAIError(500, "An internal error occurred; the request was not completed.",
                               code="internal_error").response()
    return wrapped


@openai_errors
async def images_edits(request: Request) -> Response:
    owner = await authenticate_async(request)
    refuse_callback_on_sync_call(request)
    async with request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS) as raw:
        form = await parse_edit_form(raw)
    choice = resolve_model(form.model, form.mask is not None)
    data = await run_edit(request, owner, form, choice)
    return JSONResponse({"created": int(time.time()), "data": data})


@openai_errors
async def list_models(request: Request) -> Response:
    await authenticate_async(request)
    data = [{"id": name, "object": "model", "created": STARTED, "owned_by": "easel"} for name in model_ids()]
    return JSONResponse({"object": "list", "data": data})


router.add_route("/v1/images/edits", images_edits, methods=["POST"], include_in_schema=False)
router.add_route("/v1/models", list_models, methods=["GET"], include_in_schema=False)
