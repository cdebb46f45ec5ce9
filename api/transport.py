"""The HTTP server's transport: uvicorn's HTTP/1.1 protocols with a read deadline for request
headers and a cap on open connections, and the uvicorn configuration `yatri serve` runs.

uvicorn closes an idle keep-alive connection, but a client that sends its headers a byte at a
time is never closed, and every connection is accepted however many are open: so a few slow
clients hold sockets (and file descriptors) without limit. The request body has its own
deadline in `api/middleware.py`, where it can be answered with a 408 problem."""

from __future__ import annotations

import asyncio
import resource
from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core.logging import get_logger
from core.settings import Settings
from core.telemetry import HTTP_CONNECTIONS_REFUSED, HTTP_READ_TIMEOUTS

log = get_logger("yatri.transport")

# Descriptors kept back from the connection cap for everything else a process opens: the
# Redis and Temporal pools, the bookings database, model files, the embedded servers' pipes.
FD_RESERVE = 512

# Headers larger than this on one request close the connection (431): h11 has such a limit of
# its own, httptools has none.
MAX_HEADER_BYTES = 64 * 1024

_REFUSED_BODY = orjson.dumps(
    {
        "type": "/problems/overloaded",
        "title": "Server busy",
        "status": 503,
        "detail": "the server has as many connections open as it allows; retry shortly",
    }
)
_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n"
    b"retry-after: 1\r\nconnection: close\r\ncontent-length: "
    + str(len(_REFUSED_BODY)).encode()
    + b"\r\n\r\n"
    + _REFUSED_BODY
)
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n"
    b"content-length: 0\r\n\r\n"
)


class _HeaderGuard(asyncio.Protocol):
    """The deadline and size count of the headers a connection owes, mixed into a uvicorn
    protocol. Armed when a connection opens and when a response ends (the next request's
    headers are owed), disarmed when a request's headers are complete; data received never
    re-arms it, unlike uvicorn's keep-alive timer. The protocol calls `_headers_in`."""

    max_connections: int
    header_timeout_s: float
    # uvicorn's protocols set these (both implementations alike).
    connections: set[Any]
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        full = len(self.connections) >= self.max_connections
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        super().connection_made(transport)
        if full:
            HTTP_CONNECTIONS_REFUSED.inc()
            transport.write(_REFUSED)
            transport.close()
        else:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_in()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._header_bytes += len(data)
        super().data_received(data)
        # Counted only while headers are owed: a chunk that completed them has disarmed.
        if self._deadline is not None and self._header_bytes > MAX_HEADER_BYTES:
            self._headers_in()
            if not self.transport.is_closing():
                self.transport.write(_TOO_LARGE)
                self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing() and self.cycle.response_complete:
            self._arm()

    def _arm(self) -> None:
        self._headers_in()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _headers_in(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._header_bytes = 0

    def _headers_too_slow(self) -> None:
        self._deadline = None
        idle = self.cycle is None or self.cycle.response_complete
        if idle and not self.transport.is_closing():
            HTTP_READ_TIMEOUTS.labels("headers").inc()
            self.transport.close()


class _GuardedH11(_HeaderGuard, H11Protocol):
    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a request's headers are in
            self._headers_in()

    def handle_websocket_upgrade(self, event: Any) -> None:
        self._headers_in()  # the websocket protocol takes the connection over
        super().handle_websocket_upgrade(event)


class _GuardedHttpTools(_HeaderGuard, HttpToolsProtocol):
    def on_headers_complete(self) -> None:
        self._headers_in()  # a request, or a websocket upgrade that takes the connection over
        super().on_headers_complete()


def guarded_protocol(
    http: str, *, max_connections: int, header_timeout_s: float
) -> type[asyncio.Protocol]:
    """uvicorn's h11 or httptools protocol with the header deadline and the connection cap."""
    base = _GuardedH11 if http == "h11" else _GuardedHttpTools
    limits = {"max_connections": max_connections, "header_timeout_s": header_timeout_s}
    return type(f"{base.__name__.lstrip('_')}", (base,), limits)


def connection_cap(configured: int) -> int:
    """`configured`, or fewer where the process's file-descriptor limit would run out first."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or configured <= soft - FD_RESERVE:
        return configured
    cap = max(1, soft - FD_RESERVE)
    log.warning("connection cap lowered to the descriptor limit", configured=configured,
                cap=cap, nofile=soft)  # fmt: skip
    return cap


def server_config(app: Any, settings: Settings, *, http: str = "httptools") -> uvicorn.Config:
    """What `yatri serve` runs: the guarded protocol (httptools; `http="h11"` for the pure
    Python one), keep-alive, trusted proxies, and the graceful stop."""
    protocol = guarded_protocol(
        http,
        max_connections=connection_cap(settings.max_connections),
        header_timeout_s=settings.header_timeout_s,
    )
    return uvicorn.Config(
        app,
        http=protocol,
        log_config=None,
        access_log=False,
        timeout_keep_alive=settings.keep_alive_s,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
        forwarded_allow_ips=settings.forwarded_allow_ips,
        lifespan="on",
    )
