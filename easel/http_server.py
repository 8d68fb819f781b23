"""Running the ASGI app under uvicorn with limits on slow clients.

uvicorn drops a connection that stays idle after a response (timeout_keep_alive) but has no limit on
how long a client may take to send a request: a client trickling one header byte a second holds its
connection forever, and a thousand of them exhaust file descriptors. GuardedHttpToolsProtocol, a
small subclass of uvicorn's httptools protocol, arms one timer per phase of each request:
- from the connection (or the first byte of the next request) until the headers are complete;
- from the headers until the body is complete;
and closes the transport when it fires. The route then sees an ordinary client disconnect. Idle
connections between requests are still closed by uvicorn's keep-alive timeout.

It also hands uvicorn a CoalescingTransport, so a response's head and body leave in one send.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from easel.config import Settings

log = logging.getLogger("easel.http")


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with header-read and body-read deadlines (class attributes, set by protocol_for)."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 120.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]
        self._arm(self.header_timeout_s, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase_timer is None:  # the first byte of a keep-alive request starts its header clock
            self._arm(self.header_timeout_s, "headers")

    def on_headers_complete(self) -> None:
        self._arm(self.body_timeout_s, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self._phase_timer = self.loop.call_later(seconds, self._expired, phase)

    def _disarm(self) -> None:
        if self._phase_timer is not None:
            self._phase_timer.cancel()
            self._phase_timer = None

    def _expired(self, phase: str) -> None:
        self._phase_timer = None
        if not self.transport.is_closing():
            log.info("closing a connection from %s: its request %s took too long", self.client, phase)
            self.transport.close()


class CoalescingTransport:
    """A transport whose small writes of one event-loop turn leave in one send.

    uvicorn writes a response's status line and headers, then its body: two sends, each a full trip
    through the loopback TCP stack, which measured a sixth of a create's CPU. Writes are held until
    the end of the turn (the body follows the head in the same turn) and sent together. Large writes
    (streamed downloads) go straight through, after whatever is held, so nothing is copied twice.
    """

    DIRECT_BYTES = 16 * 1024

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if len(data) >= self.DIRECT_BYTES:
            self.flush()
            self._transport.write(data)
        elif self._held is None:
            self._held = [data]
            self._loop.call_soon(self.flush)
        else:
            self._held.append(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(b"".join(held))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        # Everything else (get_extra_info, abort, set_protocol, write buffer sizes) sees the data in order.
        self.flush()
        return getattr(self._transport, name)


def protocol_for(settings: Settings) -> type[GuardedHttpToolsProtocol]:
    """A protocol class carrying this server's timeouts (uvicorn instantiates it per connection)."""
    return type("EaselHttpProtocol", (GuardedHttpToolsProtocol,), {
        "header_timeout_s": settings.http_header_timeout_s,
        "body_timeout_s": settings.http_body_timeout_s,
    })


def raise_fd_limit() -> None:
    """Lift the soft open-file limit to the hard one: each connection, slow or not, holds a descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))
        except (ValueError, OSError):
            log.warning("could not raise the open-file limit above %d", soft)


def serve(app: Any, settings: Settings) -> None:
    raise_fd_limit()
    uvicorn.run(
        # log_config None: uvicorn's loggers go through Easel's root handler (text or JSON, see observability.logs)
        app, host=settings.host, port=settings.port, log_level="warning", access_log=False, log_config=None,
        timeout_graceful_shutdown=5, http=protocol_for(settings),
        timeout_keep_alive=settings.http_keepalive_timeout_s,  # type: ignore[arg-type]
        backlog=4096,
    )
