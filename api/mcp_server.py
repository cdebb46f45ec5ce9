"""Yatri's tools for AI agents, over MCP (streamable HTTP at `/mcp`).

An agent acts for one traveller, named by its token (scope `bookings:agent`, `act_for`). It
searches, quotes, and books only with a 6-digit code that the quote sends to the traveller out
of band (the sandbox SMS outbox): an agent can never spend a traveller's money on its own say.
This module authenticates the agent, runs the MCP session manager, and rate-limits and audits
every tool call (personal data removed); the tools themselves are api/mcp_tools.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import BookingActor, booking_actor_from
from api.deps import Services
from api.mcp_tools import ACTOR_KEY, INSTRUCTIONS, AgentToolset, actor_in
from api.problems import problem_body, problem_response
from bookings.audit import AuditLog, record_call, scrub_error, summarize_arguments
from bookings.quotes import AgentRateLimit
from core.errors import DependencyUnavailableError, ForbiddenError, StartupError, UnauthorizedError
from core.logging import get_logger
from core.settings import Settings
from core.telemetry import TOOL_CALLS

log = get_logger("yatri.mcp")

MCP_PATH = "/mcp"


@dataclass(slots=True)
class _Running:
    services: Services
    audit: AuditLog
    limit: AgentRateLimit


class AgentTools:
    """The MCP server behind its authentication (an ASGI app: mount the instance), and its
    run-time state while the app serves (`serving`)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._running: _Running | None = None
        self._http: ASGIApp | None = None
        self.server: MCPServer = MCPServer(
            "yatri", instructions=INSTRUCTIONS, middleware=[self._rate_limit_and_audit]
        )
        self._tool_names = AgentToolset(self._services).register(self.server)

    def _services(self) -> Services | None:
        """The app's services while it serves: the tools call through them."""
        return None if self._running is None else self._running.services

    @asynccontextmanager
    async def serving(self, services: Services) -> AsyncIterator[None]:
        """Run the MCP session manager while the app serves (the audit log is the app's)."""
        if self._running is not None:
            raise RuntimeError("the agent tools are already serving")
        if services.audit is None:
            raise StartupError("the agent tools need the audit log")
        settings, redis = services.settings, services.redis
        ns = settings.redis_namespace
        # A session manager runs once, so each serving period builds its own.
        http = self.server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            # Stateless: any replica answers any call, and no session outlives a request.
            stateless_http=True,
            json_response=True,
            # The SDK's DNS-rebinding guard protects unauthenticated local servers; every
            # request here carries a bearer token, which a rebinding page cannot send.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        async with self._session_manager():
            self._running = _Running(
                services=services,
                audit=services.audit,
                limit=AgentRateLimit(
                    redis=redis, namespace=ns, per_minute=settings.agent_rate_per_minute
                ),
            )
            self._http = http
            try:
                yield
            finally:
                self._http = None
                self._running = None

    @asynccontextmanager
    async def _session_manager(self) -> AsyncIterator[None]:
        """Run the SDK's session manager on a task of its own: its task group must be left by
        the task that entered it, and a lifespan's entry and exit may run on two (tests)."""
        manager = self.server.session_manager
        started, stop = asyncio.Event(), asyncio.Event()

        async def run() -> None:
            async with manager.run():
                started.set()
                await stop.wait()

        task = asyncio.create_task(run(), name="mcp-session-manager")
        try:
            waiter = asyncio.create_task(started.wait())
            try:
                await asyncio.wait({task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            if task.done():
                task.result()  # raises why it stopped
            if not started.is_set():
                raise StartupError("the MCP session manager did not start within 10 s")
            yield
        finally:
            stop.set()
            await task

    # --- HTTP: authentication --------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app at /mcp: authenticate the agent, then hand the request to the MCP
        transport with the actor in the scope, where the tools read it for every message."""
        try:
            actor = self._authenticate(Headers(scope=scope))
            http = self._http
            if http is None:
                raise DependencyUnavailableError("the agent tools are starting or stopping")
        except (UnauthorizedError, ForbiddenError, DependencyUnavailableError) as e:
            state = scope.get("state") or {}
            body = problem_body(
                slug=e.problem_type, detail=e.detail, status=e.status,
                instance=scope.get("path"), request_id=state.get("request_id"),
            )  # fmt: skip
            challenge = {"www-authenticate": 'Bearer realm="yatri"'} if e.status == 401 else None
            await problem_response(body, headers=challenge)(scope, receive, send)
            return
        await http({**scope, ACTOR_KEY: actor}, receive, send)

    def _authenticate(self, headers: Headers) -> BookingActor:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("send an agent token: Authorization: Bearer <token>")
        actor = booking_actor_from(
            token.strip(), secret=self._settings.secret_key.get_secret_value()
        )
        if actor.agent_id is None:
            raise ForbiddenError("the agent tools need an agent token (scope bookings:agent)")
        return actor

    # --- every tool call: rate limit, audit, metrics ---------------------------------------

    async def _rate_limit_and_audit(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        params = ctx.params or {}
        name = params.get("name")
        tool = name if isinstance(name, str) and name in self._tool_names else "unknown"
        arguments = params.get("arguments")
        arguments = arguments if isinstance(arguments, Mapping) else {}
        actor = actor_in(ctx.request)
        running = self._running
        started = time.perf_counter()
        result: HandlerResult
        try:
            if actor is None or running is None or actor.agent_id is None:
                result = _error("not authenticated; send an agent token")
            else:
                wait_s = await running.limit.retry_after(actor.agent_id)
                if wait_s is not None:
                    result = _error(
                        f"rate limit: at most {self._settings.agent_rate_per_minute} tool calls "
                        f"a minute per agent; retry in {wait_s} s"
                    )
                else:
                    result = await call_next(ctx)
        except DependencyUnavailableError as e:
            result = _error(f"{e.detail}; retry in a few seconds")
        except Exception as e:  # recorded, then handled by the SDK as a protocol error
            await self._audit(actor=actor, tool=tool, arguments=arguments, started=started,
                              error=f"{type(e).__name__}: {e}")  # fmt: skip
            raise
        error = _error_text(result)
        await self._audit(actor=actor, tool=tool, arguments=arguments, started=started, error=error)
        return result

    async def _audit(
        self,
        *,
        actor: BookingActor | None,
        tool: str,
        arguments: Mapping[str, Any],
        started: float,
        error: str | None,
    ) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        outcome: Literal["ok", "error"] = "ok" if error is None else "error"
        TOOL_CALLS.labels(tool, outcome).inc()
        agent_id = (actor.agent_id if actor else None) or "unauthenticated"
        traveller_id = actor.traveller_id if actor else ""
        summary = summarize_arguments(arguments)
        error = None if error is None else scrub_error(error, arguments)
        log.info(
            "agent tool call", agent=agent_id, traveller=traveller_id, tool=tool,
            arguments=summary, outcome=outcome, error=error, duration_ms=duration_ms,
        )  # fmt: skip
        if self._running is not None:
            await record_call(
                self._running.audit, agent_id=agent_id, traveller_id=traveller_id, tool=tool,
                arguments=summary, error=error, duration_ms=duration_ms,
            )  # fmt: skip


def _error(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def _error_text(result: HandlerResult) -> str | None:
    """A tool result's error message, or None when it succeeded. The chain hands back the
    wire form (a dict), or a `CallToolResult` where this middleware answered itself."""
    if isinstance(result, CallToolResult):
        failed = result.is_error
        texts = [c.text for c in result.content if isinstance(c, TextContent)]
    elif isinstance(result, Mapping):
        failed = result.get("isError") is True
        content = result.get("content")
        texts = [
            str(c["text"])
            for c in (content if isinstance(content, list) else [])
            if isinstance(c, Mapping) and "text" in c
        ]
    else:
        return None
    return (" ".join(texts) or "error") if failed else None
