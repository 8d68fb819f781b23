"""ObservabilityMiddleware: the outermost ASGI layer. Per request it fixes the request id (the one the
response body and its X-Request-Id header carry), counts and times the request by route template, and
writes one access-log line.

The route template comes from the matched route (Starlette leaves it in the scope): "/api/v1/tasks/{task_id}",
never the raw path, so a scan of random URLs cannot mint unbounded metric series; unmatched paths are
counted as "unmatched".
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from easel.observability.context import RequestScope
from easel.observability.metrics import HTTP_DURATION, HTTP_REQUESTS

access_log = logging.getLogger("easel.access")


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server's own error handling answers when the app raises

        with RequestScope() as ctx:
            rid = ctx.request_id.encode()

            async def send_with_id(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid)]}
                await send(message)

            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                route = _route_template(scope)
                method = scope["method"] if scope["method"] in METHODS else "OTHER"  # clients choose methods
                _count(method, route, status, elapsed)
                if self.access_log:
                    if ctx.task_id is None and isinstance(tid := scope.get("path_params", {}).get("task_id"), str):
                        ctx.task_id = tid
                    _log_access(scope, method, route, status, elapsed)


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Labelled children, looked up once: .labels() costs microseconds on the hottest path (creates).
_requests: dict[tuple[str, str, int], Any] = {}
_durations: dict[tuple[str, str], Any] = {}


def _count(method: str, route: str, status: int, elapsed: float) -> None:
    counter = _requests.get((method, route, status))
    if counter is None:
        counter = _requests[(method, route, status)] = HTTP_REQUESTS.labels(method, route, str(status))
    counter.inc()
    histogram = _durations.get((method, route))
    if histogram is None:
        histogram = _durations[(method, route)] = HTTP_DURATION.labels(method, route)
    histogram.observe(elapsed)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("endpoint") is None:
        return "unmatched"
    # A plain Starlette route or a mount (FastAPI leaves no "route" for those): the path, its parameters
    # put back as {name}, so /web/<anything> stays one series.
    template = scope.get("path", "")
    for name, value in scope.get("path_params", {}).items():
        if value:
            template = template.replace(str(value), "{" + name + "}")
    return template


def _log_access(scope: Scope, method: str, route: str, status: int, elapsed: float) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    client = scope.get("client")
    address = client[0] if client else None
    path = scope.get("path", "")[:2000]
    query = scope.get("query_string", b"")
    shown = f"{path}?{query.decode('latin-1')[:2000]}" if query else path
    # makeRecord + handle, not .info(): .info() walks the stack for a caller nobody reads (~10 µs a line)
    record = access_log.makeRecord(
        access_log.name, logging.INFO, __file__, 0, '%s "%s %s" %d %.1f ms',
        (address or "-", scope["method"][:16], shown, status, elapsed * 1000), None,
        extra={"method": method, "path": path, "route": route, "status": status,
               "duration_ms": round(elapsed * 1000, 3), "client": address},
    )
    access_log.handle(record)
