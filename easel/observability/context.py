"""What a log line knows about where it was written: the request id and the task id, via contextvars.

The request id is the one the response carries (DashScope's `request_id`, the relight API's `requestId`,
the `X-Request-Id` header), fixed when the request arrives, so a client's error report finds its log line.
The holder is a mutable object: a sync route runs in a thread with a *copy* of the context, and what it
notes (the task it created) must still reach the access-log line written after it returned.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from easel.ids import new_id


@dataclass(slots=True)
class RequestContext:
    request_id: str
    task_id: str | None = None


_request: ContextVar[RequestContext | None] = ContextVar("easel_request", default=None)
_task_id: ContextVar[str | None] = ContextVar("easel_task_id", default=None)


def current_request() -> RequestContext | None:
    return _request.get()


def request_id() -> str:
    """The current request's id, or a fresh one outside any request."""
    ctx = _request.get()
    return ctx.request_id if ctx is not None else new_id()


def current_task_id() -> str | None:
    ctx = _request.get()
    if ctx is not None and ctx.task_id:
        return ctx.task_id
    return _task_id.get()


def note_task(task_id: str) -> None:
    """Tell the current request's log lines which task it is about (e.g. the one a create made)."""
    ctx = _request.get()
    if ctx is not None:
        ctx.task_id = task_id


class RequestScope:
    """`with RequestScope() as ctx:` a request's context. A class, not @contextmanager: this runs for every
    request, and a generator-based manager costs several times more."""

    __slots__ = ("_ctx", "_token")

    def __init__(self, rid: str | None = None) -> None:
        self._ctx = RequestContext(rid or new_id())

    def __enter__(self) -> RequestContext:
        self._token = _request.set(self._ctx)
        return self._ctx

    def __exit__(self, *_exc: object) -> None:
        _request.reset(self._token)


@contextlib.contextmanager
def task_scope(task_id: str) -> Iterator[None]:
    """Log lines written while a worker runs this task carry its id."""
    token = _task_id.set(task_id)
    try:
        yield
    finally:
        _task_id.reset(token)
