"""The outermost layer of every request: request id, body limit, metrics, access log, and the
last-resort conversion of an unexpected exception into a problem without internals."""

from __future__ import annotations

import re
import secrets
import time

import structlog
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_body, problem_response
from core.logging import get_logger
from core.telemetry import HTTP_LATENCY, HTTP_REQUESTS

log = get_logger("yatri.http")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class BodyTooLargeError(Exception):
    pass


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        method, path = scope["method"], scope["path"]
        started = time.perf_counter()
        status = 500
        response_started = False
        overflow = False

        def too_large() -> Response:
            body = problem_body(
                slug="payload-too-large",
                detail=f"request body exceeds {self.max_body_bytes} bytes",
                instance=path,
                request_id=request_id,
                max_bytes=self.max_body_bytes,
            )
            return problem_response(body, headers={"connection": "close"})

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if overflow and not response_started:
                # The app saw its body stream fail and answers 400; the truth is 413.
                await too_large()(scope, receive, send_direct)
                return
            if overflow:
                return
            await send_direct(message)

        async def send_direct(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received, overflow
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    overflow = True
                    raise BodyTooLargeError
            return message

        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        try:
            if declared > self.max_body_bytes:
                raise BodyTooLargeError
            await self.app(scope, limited_receive, send_with_id)
        except BodyTooLargeError:
            if not response_started:
                await too_large()(scope, receive, send_direct)
        except Exception:
            log.exception("unhandled error", method=method, path=path)
            if not response_started:
                body = problem_body(
                    slug="internal-error",
                    detail="an unexpected error occurred; quote the request id to support",
                    instance=path,
                    request_id=request_id,
                )
                await problem_response(body)(scope, receive, send_direct)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", "unmatched")
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_LATENCY.labels(method, template).observe(elapsed)
            log.info(
                "request",
                method=method,
                path=path,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()
