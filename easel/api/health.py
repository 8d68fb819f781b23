"""GET /readyz: whether this process can serve requests now, part by part.

/healthz says the process is up; /readyz also proves its dependencies: the database answers a query,
the blob storage takes a write, a read and a delete, and every engine table engines.toml configures is
reported with its status.

A broken engine table does not make the server unready (200, "status": "degraded"): every node reads
the same engines.toml, so taking this one out of rotation helps nobody and would also stop the
functions that do work, while requests for the broken task are already refused with a message that
names the table and the problem. Database and storage failures are 503: no request can succeed.
"""

from __future__ import annotations

import asyncio
import secrets
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from easel.api.common import services_of
from easel.services import Services

router = APIRouter()

PROBE = b"easel-readyz"
# A dependency that hangs (a black-holed database host) must not hang the probe too.
CHECK_TIMEOUT_S = 5.0


def check_database(services: Services) -> str | None:
    """None when the database answers. The query reads a real table: SQLite answers a bare
    SELECT 1 without opening the file, so it would not notice a lost or corrupt database."""
    try:
        with services.db.engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM tasks LIMIT 1"))
    except Exception as exc:
        return _reason(exc)
    return None


def check_storage(services: Services) -> str | None:
    key = f"readyz/{secrets.token_hex(8)}"
    try:
        services.blobs.put(key, PROBE, "application/octet-stream")
        read = services.blobs.get(key)
        services.blobs.delete(key)
    except Exception as exc:
        return _reason(exc)
    return None if read == PROBE else "a probe object written to the blob storage did not read back"


def _reason(exc: Exception) -> str:
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line[:300]}"


def engine_report(services: Services) -> dict[str, str]:
    """The status of each engine task engines.toml (or its environment shortcuts) configures."""
    engines = services.engines
    return {task.value: engines.describe(task) for task in engines.config.tables}


async def readyz(request: Request) -> JSONResponse:
    services = services_of(request)
    started = time.monotonic()
    failing: dict[str, str] = {}
    if not request.app.state.ready:
        failing["lifespan"] = "the server is starting or stopping"
    for name, check in (("database", check_database), ("storage", check_storage)):
        try:
            problem = await asyncio.wait_for(run_in_threadpool(check, services), CHECK_TIMEOUT_S)
        except TimeoutError:
            problem = f"no answer within {CHECK_TIMEOUT_S:g} s"
        if problem:
            failing[name] = problem
    engines = engine_report(services)
    broken = sorted(task for task, state in engines.items() if state.startswith("not available"))
    status = "unready" if failing else ("degraded" if broken else "ready")
    body = {"status": status, "failing": failing, "engines": engines, "broken_engines": broken,
            "checked_in_ms": round((time.monotonic() - started) * 1000, 1)}
    return JSONResponse(body, status_code=503 if failing else 200)


router.add_route("/readyz", readyz, methods=["GET"], include_in_schema=False)
