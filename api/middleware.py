"""The outermost layer of every request: request id, body limit and read deadline, metrics,
access log, and the last-resort conversion of an unexpected exception into a problem without
internals; inside it, load shedding."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from collections.abc import Iterable, Mapping

import structlog
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_body, problem_response
from core import tracing
from core.logging import get_logger
from core.telemetry import (
    HTTP_IN_FLIGHT,
    HTTP_LATENCY,
    HTTP_READ_TIMEOUTS,
    HTTP_REQUESTS,
    HTTP_SHED,
)

log = get_logger("yatri.http")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class BodyTooLargeError(Exception):
    pass


class BodyTimeoutError(Exception):
    pass


def _text_headers(headers: Mapping[bytes, bytes]) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in headers.items()}


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_timeout_s: float,
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_limits = dict(body_limits or {})  # path -> its own limit (document uploads)
        self.body_timeout_s = body_timeout_s

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
        max_body_bytes = self.body_limits.get(path, self.max_body_bytes)
        started = time.perf_counter()
        status = 500
        response_started = False
        failed: Exception | None = None  # the body stream failed: too large, or too slow
        body_deadline = asyncio.get_running_loop().time() + self.body_timeout_s
        more_body = True

        def body_refused() -> Response:
            # Connection: close, so that the rest of the body is never read.
            if isinstance(failed, BodyTimeoutError):
                body = problem_body(
                    slug="request-timeout",
                    detail=f"the request body did not arrive within {self.body_timeout_s:g} s",
                    instance=path, request_id=request_id,
                )  # fmt: skip
            else:
                body = problem_body(
                    slug="payload-too-large",
                    detail=f"request body exceeds {max_body_bytes} bytes",
                    instance=path, request_id=request_id, max_bytes=max_body_bytes,
                )  # fmt: skip
            return problem_response(body, headers={"connection": "close"})

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if failed is not None and not response_started:
                # The app saw its body stream fail and answers 400; the truth is 413 or 408.
                await body_refused()(scope, receive, send_direct)
                return
            if failed is not None:
                return
            await send_direct(message)

        async def send_direct(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message.setdefault("headers", [])
                extra = [(b"x-request-id", request_id.encode())]
                if (trace := tracing.trace_id()) is not None:
                    extra.append((b"x-trace-id", trace.encode()))
                message["headers"] = [*message["headers"], *extra]
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received, failed, more_body
            if not more_body:  # the body is in: what follows is waiting for a disconnect
                return await receive()
            try:
                async with asyncio.timeout_at(body_deadline):
                    message = await receive()
            except TimeoutError:
                HTTP_READ_TIMEOUTS.labels("body").inc()
                failed = BodyTimeoutError()
                raise failed from None
            if message["type"] == "http.request":
                more_body = bool(message.get("more_body", False))
                received += len(message.get("body", b""))
                if received > max_body_bytes:
                    failed = BodyTooLargeError()
                    raise failed
            return message

        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        request_span = contextlib.ExitStack()
        request_span.enter_context(tracing.extracted(_text_headers(headers)))
        http_span = request_span.enter_context(
            tracing.span(f"HTTP {method}", server=True, **{"http.method": method, "url.path": path})
        )
        try:
            if declared > max_body_bytes:
                raise BodyTooLargeError
            await self.app(scope, limited_receive, send_with_id)
        except (BodyTooLargeError, BodyTimeoutError) as e:
            failed = e
            if not response_started:
                await body_refused()(scope, receive, send_direct)
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
            http_span.update_name(f"HTTP {method} {template}")
            http_span.set_attribute("http.route", template)
            http_span.set_attribute("http.status_code", status)
            if status >= 500:
                tracing.mark_error(f"HTTP {status}")
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_LATENCY.labels(method, template).observe(elapsed)
            log.info(
                "request",
                method=method,
                path=path,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            request_span.close()
            structlog.contextvars.clear_contextvars()


# Where load is shed: the routes that run the models on the query lane (a chat turn, a policy
# answer, an utterance understood, a webhook's turn), whose latency grows with the queue.
# Bookings and fares wait on I/O with bulkheads of their own, a slow upload on its client;
# probes, metrics, docs and problem pages always answer.
SHED_PREFIXES = ("/v1/chat", "/v1/answers", "/v1/intents/", "/v1/asr/")


def _route_for(routes: Iterable[BaseRoute], scope: Scope) -> BaseRoute | None:
    """The route the router would hand `scope` to, found without running it: the first that
    matches fully, looked for inside a router FastAPI includes lazily (which matches, but keeps
    the route it found to itself); None when none matches."""
    for route in routes:
        match, child_scope = route.matches(scope)
        if match is not Match.FULL:
            continue
        found: BaseRoute = child_scope.get("route", route)
        if getattr(found, "path_format", None):
            return found
        included = getattr(getattr(route, "original_router", None), "routes", None)
        if included is not None and (inner := _route_for(included, scope)) is not None:
            return inner
    return None


class LoadShedMiddleware:
    """Refuses a request at once (503 problem, Retry-After) while `max_in_flight` requests are
    in progress in this process, so that the ones admitted keep their latency instead of all
    of them queueing past their deadline.

    A refused request never reaches the router, so the route it would have reached is found
    here and put in the scope as the router would: the metrics count its 503 under that route
    template (what the SLO rules select), "unmatched" only when no route matches."""

    def __init__(self, app: ASGIApp, *, max_in_flight: int, retry_after_s: int = 1) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after_s = retry_after_s
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not self.max_in_flight or not path.startswith(SHED_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            HTTP_SHED.inc()
            if (app := scope.get("app")) is not None and (
                route := _route_for(app.router.routes, scope)
            ) is not None:
                scope["route"] = route
            request_id = scope.get("state", {}).get("request_id")
            body = problem_body(
                slug="overloaded",
                detail="the server is at capacity; retry after the time in Retry-After",
                instance=path, request_id=request_id, retry_after_s=self.retry_after_s,
            )  # fmt: skip
            response = problem_response(body, headers={"retry-after": str(self.retry_after_s)})
            await response(scope, receive, send)
            return
        self.in_flight += 1
        HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            HTTP_IN_FLIGHT.dec()
