"""RequestGuard: the ASGI middleware every request passes before routing or authentication.

One place enforces what no route should have to remember:
- a body cap per route, checked on Content-Length and again on every streamed chunk, so a 400 MB
  POST is answered 413 without being buffered (and before the caller is authenticated);
- no control characters in the path or query (a NUL reaches PostgreSQL as an error, not a miss);
- every 5xx response carries `Connection: close`, so a client never reuses a connection whose
  state the server no longer vouches for.
Refusals are written in the shape of the API the path belongs to (route_limits: DashScope, the relight
market API, the OpenAI-compatible Images API).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from easel.api.files import UPLOAD_PATH
from easel.api.relight.errors import ILLEGAL_PARAMETER
from easel.inputs.sources import DEFAULT_MAX_BYTES, data_uri_max_chars
from easel.observability.context import request_id

# The multipart fields around the file (policy, signature, key, headers) fit well within this.
FORM_OVERHEAD = 64 * 1024
# A create may carry up to three images as data: URIs of DEFAULT_MAX_BYTES each, plus the JSON around them.
JSON_CREATE_MAX = 3 * data_uri_max_chars(DEFAULT_MAX_BYTES) + 1024 * 1024
# An OpenAI-style multipart edit: a few raw images and a mask of DEFAULT_MAX_BYTES each, plus fields.
FORM_EDIT_MAX = 5 * DEFAULT_MAX_BYTES + 1024 * 1024
# Polls, queries, lists, downloads: nothing that needs more than a small JSON object.
SMALL_BODY_MAX = 1024 * 1024
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


class BodyTooLarge(Exception):
    """Raised from the capped receive(); caught by RequestGuard, never seen by a route handler."""


def dashscope_error(code: str, message: str) -> bytes:
    return _json({"request_id": request_id(), "code": code, "message": message})


def relight_error(code: str, message: str) -> bytes:
    # The seed's table has no row for an over-sized body or a bad URL: both are illegal input.
    return _json({"success": False, "code": ILLEGAL_PARAMETER.code, "message": f"{ILLEGAL_PARAMETER.message}: "
                  f"{message}", "requestId": request_id(), "severity": "error"})


def openai_error(code: str, message: str) -> bytes:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", code).lower()  # RequestTooLarge -> request_too_large
    return _json({"error": {"message": message, "type": "invalid_request_error", "param": None, "code": snake}})


@dataclass(frozen=True)
class RouteLimit:
    """The body cap and error shape of every path starting with `prefix` (the first match wins)."""

    prefix: str
    max_body: int
    shape: Callable[[str, str], bytes]  # (DashScope-style code, message) -> error body


def route_limits(upload_max_bytes: int) -> tuple[RouteLimit, ...]:
    """One table for every API Easel serves; a new API adds its row here."""
    return (
        RouteLimit(UPLOAD_PATH, upload_max_bytes + FORM_OVERHEAD, dashscope_error),
        RouteLimit("/api/v1/services/", JSON_CREATE_MAX, dashscope_error),
        RouteLimit("/api/v1/relight/submit", JSON_CREATE_MAX, relight_error),
        RouteLimit("/api/v1/relight/", SMALL_BODY_MAX, relight_error),
        RouteLimit("/v1/", FORM_EDIT_MAX, openai_error),  # the OpenAI-compatible Images API
        RouteLimit("", SMALL_BODY_MAX, dashscope_error),
    )


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class RequestGuard:
    def __init__(self, app: ASGIApp, upload_max_bytes: int) -> None:
        self.app = app
        self.limits = route_limits(upload_max_bytes)

    def limit_for(self, path: str) -> RouteLimit:
        return next(limit for limit in self.limits if path.startswith(limit.prefix))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] >= 500:
                    message = _with_connection_close(message)
            await send(message)

        limit = self.limit_for(path)
        early = _early_refusal(scope, limit)
        if early is not None:
            await _send_json(send, *early)
            return
        try:
            await self.app(scope, _capped(receive, limit.max_body), guarded_send)
        except BodyTooLarge:
            if not started:
                await _send_json(send, *_too_large(path, limit))
        except ClientDisconnect:
            pass  # the client left (or a slow-client timeout closed it): nobody to answer, nothing to log


def _early_refusal(scope: Scope, limit: RouteLimit) -> tuple[int, bytes] | None:
    """A refusal decided from the request line and headers alone, before any body byte is read."""
    path: str = scope["path"]
    query = unquote_to_bytes(scope.get("query_string", b"").decode("latin-1"))
    if _CONTROL.search(path.encode("utf-8", "surrogateescape")) or _CONTROL.search(query):
        return 400, limit.shape("InvalidParameter", "The URL contains control characters (such as %00).")
    declared = _content_length(scope)
    if declared is not None and declared > limit.max_body:
        return _too_large(path, limit)
    return None


def _too_large(path: str, limit: RouteLimit) -> tuple[int, bytes]:
    cap = limit.max_body
    size = f"{cap / 1048576:.1f} MB" if cap >= 1048576 else f"{cap // 1024} KB"
    return 413, limit.shape("RequestTooLarge", f"The request body is larger than {size}, the limit for {path}.")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # Digits only and bounded in length: int() of a 5000-digit string raises ValueError.
            return int(text) if text.isdigit() and len(text) <= 18 else None
    return None


def _capped(receive: Receive, cap: int) -> Receive:
    received = 0

    async def capped_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > cap:
                raise BodyTooLarge
        return message

    return capped_receive


def _with_connection_close(message: Message) -> Message:
    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
    return {**message, "headers": [*headers, (b"connection", b"close")]}


async def _send_json(send: Send, status: int, body: bytes) -> None:
    # Connection: close: the unread rest of the body must not be parsed as a next request.
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
