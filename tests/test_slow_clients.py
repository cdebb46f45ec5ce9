"""Slow and greedy clients against the server `yatri serve` runs (`api.transport.server_config`,
the real app, loopback sockets): headers or a body sent a byte at a time are cut off, and
connections past the cap are closed at once, so a few clients cannot hold the process's
sockets. Every wait below is bounded; nothing asserts how long anything took."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import pytest
import uvicorn
import websockets
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from api.transport import FD_RESERVE, connection_cap, server_config
from core.embedded import bind_socket
from core.settings import Settings

HTTP_IMPLS = ["httptools", "h11"]
CAP = 8
# Bounds on a client's patience: far past the server's deadlines (1 s), short enough that the
# old server, which never cut anyone off, fails the test instead of hanging it.
TRICKLE_EVERY_S = 0.05
TRICKLE_BYTES = 200


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """conftest's, with one-second read deadlines and a small connection cap."""
    return settings.model_copy(
        update={
            "header_timeout_s": 1.0,
            "body_timeout_s": 1.0,
            "max_connections": CAP,
            "rate_limit_enabled": False,
        }
    )


@asynccontextmanager
async def serving(
    app: FastAPI | Starlette, settings: Settings, *, http: str
) -> AsyncIterator[tuple[int, uvicorn.Server]]:
    config = server_config(app, settings, http=http)
    config.lifespan = "off"  # the app fixture has started it
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield sock.getsockname()[1], server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)
        sock.close()


async def trickle(port: int, data: bytes, *, first: bytes = b"") -> bytes | None:
    """Send `first` at once, then `data` a byte at a time; what the server sent before it
    closed the connection, or None when it never closed it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = asyncio.create_task(reader.read(65_536 * 4))  # to EOF or the first answer
    try:
        writer.write(first)
        for i in range(len(data)):
            if received.done():
                break
            writer.write(data[i : i + 1])
            await writer.drain()
            await asyncio.sleep(TRICKLE_EVERY_S)
        else:
            await asyncio.sleep(TRICKLE_EVERY_S)
        if not received.done():
            return None
        answer = received.result()
        if answer and not await _closed(reader):
            return None
        return answer
    except ConnectionError:
        return b""
    finally:
        received.cancel()
        writer.close()


async def _closed(reader: asyncio.StreamReader) -> bool:
    try:
        async with asyncio.timeout(5):
            while await reader.read(65_536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


def padded_headers(method: str = "GET", path: str = "/livez") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: yatri\r\nX-Pad: {'a' * TRICKLE_BYTES}".encode()


@pytest.mark.parametrize("http", HTTP_IMPLS)
async def test_headers_sent_a_byte_at_a_time_are_cut_off(
    app: FastAPI, settings: Settings, http: str
) -> None:
    async with serving(app, settings, http=http) as (port, _):
        answers = await asyncio.gather(*(trickle(port, padded_headers()) for _ in range(5)))
    assert answers == [b""] * 5  # closed without an answer, every one of them


@pytest.mark.parametrize("http", HTTP_IMPLS)
async def test_a_slow_next_request_on_a_kept_alive_connection_is_cut_off(
    app: FastAPI, settings: Settings, http: str
) -> None:
    async with serving(app, settings, http=http) as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /livez HTTP/1.1\r\nHost: yatri\r\n\r\n")
        first = await asyncio.wait_for(reader.readuntil(b'{"status":"ok"}'), timeout=10)
        assert first.startswith(b"HTTP/1.1 200")
        closed = False
        for byte in padded_headers():  # the next request, a byte at a time
            if reader.at_eof() or writer.is_closing():
                closed = True
                break
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                closed = True
                break
            await asyncio.sleep(TRICKLE_EVERY_S)
        writer.close()
        assert closed


@pytest.mark.parametrize("http", HTTP_IMPLS)
async def test_a_body_sent_a_byte_at_a_time_gets_408_and_is_closed(
    app: FastAPI, settings: Settings, http: str
) -> None:
    body = b'{"text": "' + b"a" * TRICKLE_BYTES + b'"}'
    head = (
        b"POST /v1/chat HTTP/1.1\r\nHost: yatri\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    async with serving(app, settings, http=http) as (port, _):
        answer = await trickle(port, body, first=head)
    assert answer is not None, "the connection was never closed"
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"application/problem+json" in answer and b"/problems/request-timeout" in answer


async def test_endless_headers_are_refused(app: FastAPI, settings: Settings) -> None:
    async with serving(app, settings, http="httptools") as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /livez HTTP/1.1\r\nHost: yatri\r\n")
        with suppress(ConnectionError):
            for _ in range(64):  # 1 MiB of headers, sent as fast as the server reads them
                writer.write(b"X-Pad: " + b"a" * 16_375 + b"\r\n")
                await writer.drain()
        answer = b""
        with suppress(ConnectionError):
            answer = await asyncio.wait_for(reader.read(1024), timeout=10)
        writer.close()
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431")


@pytest.mark.parametrize("http", HTTP_IMPLS)
async def test_connections_past_the_cap_are_closed_at_once(
    app: FastAPI, settings: Settings, http: str
) -> None:
    patient = settings.model_copy(update={"header_timeout_s": 60.0})
    async with serving(app, patient, http=http) as (port, server):
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(CAP)]
        await _until(lambda: len(server.server_state.connections) == CAP)
        refused = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
        answers = [await asyncio.wait_for(reader.read(4096), timeout=10) for reader, _ in refused]
        for answer in answers:
            assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
            assert b"/problems/overloaded" in answer and b"retry-after: 1" in answer
        await _until(lambda: len(server.server_state.connections) == CAP)
        # A slot freed is a slot served.
        idle.pop()[1].close()
        await _until(lambda: len(server.server_state.connections) < CAP)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /livez HTTP/1.1\r\nHost: yatri\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), timeout=10)).startswith(b"HTTP/1.1 200")
        for _, w in [*idle, *refused, (reader, writer)]:
            w.close()


def test_the_connection_cap_leaves_descriptors_for_the_rest_of_the_process() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert connection_cap(CAP) == CAP
    if soft != resource.RLIM_INFINITY:
        assert connection_cap(10 * soft) == soft - FD_RESERVE


async def _until(condition: object) -> None:
    assert callable(condition)
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def _echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(message)


@pytest.mark.parametrize("http", HTTP_IMPLS)
async def test_a_websocket_outlives_the_header_deadline(settings: Settings, http: str) -> None:
    echo = Starlette(routes=[WebSocketRoute("/echo", _echo)])
    async with (
        serving(echo, settings, http=http) as (port, _),
        websockets.connect(f"ws://127.0.0.1:{port}/echo") as ws,
    ):
        await asyncio.sleep(settings.header_timeout_s * 2.5)  # past the header deadline
        await ws.send("still here")
        assert await asyncio.wait_for(ws.recv(), timeout=10) == "still here"
