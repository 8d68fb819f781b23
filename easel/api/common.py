"""Pieces every DashScope-style route shares: request ids, error bodies, authentication, URL bases."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from easel.errors import EaselError, InvalidApiKey, InvalidParameter
from easel.observability.context import request_id
from easel.services import Services
from easel.tasks.store import Owner

log = logging.getLogger("easel.api")


def new_request_id() -> str:
    """The id of the request being answered (fixed on arrival, so its log lines carry it too)."""
    return request_id()


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"request_id": new_request_id(), "code": code, "message": message}, status_code=status)


def services_of(request: Request) -> Services:
    return request.app.state.services


def authenticate(request: Request) -> Owner:
    """The caller's key (Authorization: Bearer ...) and workspace; InvalidApiKey otherwise."""
    return _owner(request, services_of(request).keys.authenticate(_bearer_secret(request)))


async def authenticate_async(request: Request) -> Owner:
    """authenticate() for async routes: a cache hit costs nothing, a miss reads the database off-loop."""
    secret = _bearer_secret(request)
    keys = services_of(request).keys
    key_id = keys.cached(secret)
    if key_id is None:
        key_id = await run_in_threadpool(keys.authenticate, secret)
    return _owner(request, key_id)


def _bearer_secret(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if not header:
        raise InvalidApiKey("No API-key provided. Send the header 'Authorization: Bearer <your Easel API key>'.")
    if scheme.lower() != "bearer" or not secret.strip():
        raise InvalidApiKey("Invalid Authorization header; expected 'Authorization: Bearer <your Easel API key>'.")
    return secret.strip()


# The task row's workspace column holds this many characters.
MAX_WORKSPACE = 128


def _owner(request: Request, key_id: str | None) -> Owner:
    if key_id is None:
        raise InvalidApiKey("Invalid API-key provided.")
    workspace = request.headers.get("x-dashscope-workspace", "").strip()
    if len(workspace) > MAX_WORKSPACE or not workspace.isprintable():
        raise InvalidParameter(f"X-DashScope-WorkSpace must be at most {MAX_WORKSPACE} printable characters.")
    return Owner(key_id=key_id, workspace=workspace)


def public_base_url(request: Request) -> str:
    """Where clients reach this server: EASEL_PUBLIC_URL, else the scheme and host they used."""
    configured = services_of(request).settings.public_url
    if configured:
        return configured
    return str(request.base_url).rstrip("/")


def parse_json(raw: bytes) -> Any:
    """JSON from untrusted bytes; InvalidParameter for anything json.loads chokes on: bad syntax or
    UTF-8, integers over Python's 4300-digit limit (ValueError), nesting beyond the recursion limit
    (RecursionError, raised cleanly by the C decoder)."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidParameter(f"The request body is not valid JSON: {str(exc)[:200]}.") from None


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        raise InvalidParameter("The request body is empty; send a JSON object.")
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidParameter("The request body must be a JSON object.")
    return body


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as JSON {request_id, code, message}: the SDK parses nothing else."""

    @app.exception_handler(EaselError)
    async def _easel_error(_request: Request, exc: EaselError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(400, "InvalidParameter", f"{where}: {first.get('msg', 'invalid request')}.")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "NotFound", 405: "MethodNotAllowed", 413: "RequestTooLarge"}
        return error_response(exc.status_code, codes.get(exc.status_code, "BadRequest"), str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        response = error_response(500, "InternalError", "An internal error occurred; the request was not completed.")
        # This handler runs outside RequestGuard (in Starlette's ServerErrorMiddleware), so it says it itself.
        response.headers["Connection"] = "close"
        return response
