"""Yatri's tools for AI agents, over MCP (streamable HTTP at `/mcp`).

An agent acts for one traveller, named by its token (scope `bookings:agent`, `act_for`). It
searches, quotes, and books only with a 6-digit code that the quote sends to the traveller out
of band (the sandbox SMS outbox): an agent can never spend a traveller's money on its own say.
Every tool call is rate-limited per agent and written to the audit log with personal data
removed. The tools translate calls to `AgentBookings` (bookings/agents.py), which holds the
quotes and the approval codes' rules, and map its errors to tool errors.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import BookingActor, booking_actor_from
from api.deps import Services
from api.problems import problem_body, problem_response
from bookings.agents import AgentBookings, ApprovalAsked
from bookings.audit import AuditLog, record_call, scrub_error, summarize_arguments
from bookings.models import BookingStatus, Contact, FlightSelection, Traveller
from bookings.quotes import AgentRateLimit, RedisBookingQuotes
from bookings.service import BookingAnswer
from bookings.views import booking_view, quote_view
from core.errors import (
    DependencyUnavailableError,
    ForbiddenError,
    RateLimitedError,
    StartupError,
    UnauthorizedError,
    YatriError,
)
from core.logging import get_logger
from core.money import rupees
from core.settings import Settings
from core.telemetry import TOOL_CALLS
from fares.models import Cabin, FareOffer, FareQuery, Passengers

log = get_logger("yatri.mcp")

MCP_PATH = "/mcp"
_ACTOR_KEY = "yatri.booking_actor"  # where the auth wrapper leaves the actor in the ASGI scope

IataCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="IATA airport code, e.g. DEL")]
FlightNumber = Annotated[
    str, Field(pattern=r"^[A-Z0-9]{2} ?[0-9]{1,4}$", description="As search returned it: 6E 2134")
]
FareFamily = Annotated[str, Field(min_length=1, max_length=20, description="e.g. Saver, Flexi")]
Adults = Annotated[int, Field(ge=1, le=9)]
Children = Annotated[int, Field(ge=0, le=8, description="Aged 2-11, with their own seat")]
Infants = Annotated[
    int, Field(ge=0, le=4, description="Under 2 on the travel date, on an adult's lap")
]
BookableCabin = Literal["economy", "premium_economy", "business"]
QuoteId = Annotated[str, Field(pattern=r"^q_[A-Za-z0-9_-]{16,64}$")]
BookingId = Annotated[str, Field(pattern=r"^bk_[0-9a-f]{20}$")]
ConfirmationCode = Annotated[
    str, Field(pattern=r"^[0-9]{6}$", description="The 6-digit code the traveller received")
]

_READ = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=True)
_QUOTE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
_NEXT_STEP = {
    BookingStatus.PENDING: "still being booked; call get_booking in a few seconds",
    BookingStatus.PRICE_CHANGED: "the airline's price changed and nothing was charged; call "
    "quote_booking again so the traveller can confirm the new price",
    BookingStatus.CONFIRMED: "done; give the traveller the PNR",
    BookingStatus.FAILED: "nothing was booked or charged; search again or pick another flight",
    BookingStatus.MODIFYING: "the change is still running; call get_booking in a few seconds",
    BookingStatus.CANCELLING: "the cancellation is still running; call get_booking shortly",
    BookingStatus.CANCELLED: "cancelled; any refund follows the fare rules",
}


class Money(BaseModel):
    total_paise: int
    display: str
    currency: str = "INR"


class OfferOut(BaseModel):
    flight_number: str
    carrier: str
    fare_family: str
    cabin: str
    departure: dt.datetime
    arrival: dt.datetime
    seats_left: int
    refundable: bool
    price: Money


class SearchResult(BaseModel):
    offers: list[OfferOut] = Field(description="Cheapest first; prices for all passengers.")
    price_confirmation_required: bool = Field(
        description="True when the airline did not answer and these are the last known prices."
    )


class QuoteResult(BaseModel):
    quote_id: str
    total: Money
    expires_at: dt.datetime
    previous_total_paise: int | None = Field(
        default=None, description="Set when the live price differs from the searched one."
    )
    next_step: str


@dataclass(slots=True)
class _Running:
    services: Services
    audit: AuditLog
    limit: AgentRateLimit
    agents: AgentBookings | None  # None where bookings are not served


class AgentTools:
    """The MCP server behind its authentication (an ASGI app: mount the instance), and its
    run-time state while the app serves (`serving`)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._running: _Running | None = None
        self._http: ASGIApp | None = None
        self.server: MCPServer = MCPServer(
            "yatri",
            instructions="Flights for the traveller you act for. To book: search_flights, then "
            "quote_booking (the traveller gets a 6-digit code by SMS), ask the traveller for "
            "the code, then confirm_booking. Prices are integer paise (100 paise = 1 INR).",
            middleware=[self._rate_limit_and_audit],
        )
        destructive = ToolAnnotations(destructive_hint=True, open_world_hint=True)
        tools = (
            (self.search_flights, _READ),
            # A quote changes no booking, but it keeps a quote and sends the traveller a code:
            # not read-only, and not idempotent.
            (self.quote_booking, _QUOTE),
            (self.confirm_booking, destructive.model_copy(update={"idempotent_hint": True})),
            (self.get_booking, _READ.model_copy(update={"open_world_hint": False})),
            (self.modify_booking, destructive.model_copy(update={"idempotent_hint": False})),
            (self.cancel_booking, destructive.model_copy(update={"idempotent_hint": True})),
        )
        for tool, hints in tools:
            self.server.add_tool(tool, annotations=hints)
        self._tool_names = frozenset(tool.__name__ for tool, _ in tools)

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
        agents = None
        if services.bookings is not None and services.approvals is not None:
            agents = AgentBookings(
                fares=services.fares, bookings=services.bookings, approvals=services.approvals,
                quotes=RedisBookingQuotes(redis=redis, namespace=ns),
            )  # fmt: skip
        async with self._session_manager():
            self._running = _Running(
                services=services,
                audit=services.audit,
                limit=AgentRateLimit(
                    redis=redis, namespace=ns, per_minute=settings.agent_rate_per_minute
                ),
                agents=agents,
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
        await http({**scope, _ACTOR_KEY: actor}, receive, send)

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
        actor = _actor_in(ctx.request)
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

    # --- the tools -------------------------------------------------------------------------

    async def search_flights(
        self,
        origin: IataCode,
        destination: IataCode,
        date: dt.date,
        adults: Adults = 1,
        children: Children = 0,
        cabin: Cabin = Cabin.ECONOMY,
    ) -> SearchResult:
        """Flight offers for a route and date, cheapest first, priced for the whole party."""
        running = self._serving()
        with _tool_errors():
            result = await running.services.fares.search(
                FareQuery(origin=origin, destination=destination, date=date,
                          passengers=Passengers(adults, children, 0), cabin=cabin)
            )  # fmt: skip
        return SearchResult(
            offers=[_offer_out(o) for o in result.offers],
            price_confirmation_required=result.price_confirmation_required,
        )

    async def quote_booking(
        self,
        origin: IataCode,
        destination: IataCode,
        date: dt.date,
        flight_number: FlightNumber,
        fare_family: FareFamily,
        adults: Adults,
        children: Children,
        travellers: Annotated[list[Traveller], Field(min_length=1, max_length=9)],
        contact: Contact,
        ctx: Context,
        cabin: BookableCabin = "economy",
        infants: Infants = 0,
    ) -> QuoteResult:
        """Price one offer live and hold the price for a few minutes under a quote_id. The
        traveller receives a 6-digit confirmation code by SMS; ask them for it, then call
        confirm_booking. One traveller per passenger, lap infants included; children and
        infants with passenger_type and date_of_birth."""
        agents, actor = self._agents(), _actor_of(ctx)
        selection = FlightSelection(
            origin=origin, destination=destination, date=date, flight_number=flight_number,
            fare_family=fare_family, cabin=cabin, adults=adults, children=children,
            infants=infants,
        )  # fmt: skip
        with _tool_errors():
            quote = await agents.quote_booking(
                traveller_id=actor.traveller_id, agent_id=actor.agent_id or "",
                selection=selection, travellers=tuple(travellers), contact=contact,
            )  # fmt: skip
        return QuoteResult(
            quote_id=quote.quote_id,
            total=Money(total_paise=quote.total_paise, display=rupees(quote.total_paise)),
            expires_at=quote.expires_at,
            previous_total_paise=quote.previous_total_paise,
            next_step="ask the traveller for the 6-digit code sent to them by SMS, then call "
            "confirm_booking with it",
        )

    async def confirm_booking(
        self, quote_id: QuoteId, confirmation: ConfirmationCode, ctx: Context
    ) -> dict[str, Any]:
        """Book a quote with the code the traveller received. Retrying with the same quote
        returns the same booking; it never books twice."""
        agents, actor = self._agents(), _actor_of(ctx)
        with _tool_errors():
            answer = await agents.confirm_booking(
                traveller_id=actor.traveller_id, quote_id=quote_id, code=confirmation
            )
        return _view(answer)

    async def get_booking(self, booking_id: BookingId, ctx: Context) -> dict[str, Any]:
        """One booking of the traveller, with its status and history."""
        agents, actor = self._agents(), _actor_of(ctx)
        with _tool_errors():
            record = await agents.get(booking_id, traveller_id=actor.traveller_id)
        return _view(BookingAnswer(record, None))

    async def modify_booking(
        self,
        booking_id: BookingId,
        new_date: dt.date,
        ctx: Context,
        new_flight_number: FlightNumber | None = None,
        confirmation: ConfirmationCode | None = None,
    ) -> dict[str, Any]:
        """Move a confirmed flight booking to another date (and optionally another flight on
        that date). The change fee and any fare difference are charged or refunded, so the
        traveller approves the amount: the first call quotes it, sends them a 6-digit code by
        SMS with the amount, and answers `confirmation_required` with the quote; call again
        with the same arguments and `confirmation` set to the code."""
        agents, actor = self._agents(), _actor_of(ctx)
        with _tool_errors():
            answer = await agents.modify(
                traveller_id=actor.traveller_id, booking_id=booking_id, new_date=new_date,
                new_flight_number=new_flight_number, code=confirmation,
            )  # fmt: skip
        return _view(answer)

    async def cancel_booking(
        self, booking_id: BookingId, ctx: Context, confirmation: ConfirmationCode | None = None
    ) -> dict[str, Any]:
        """Cancel a confirmed booking; the fare rules' cancellation fee applies, so the
        traveller approves it: the first call quotes the fee and refund, sends them a 6-digit
        code by SMS with those amounts, and answers `confirmation_required` with the quote;
        call again with `confirmation` set to the code. Cancelling a cancelled booking returns
        it unchanged."""
        agents, actor = self._agents(), _actor_of(ctx)
        with _tool_errors():
            answer = await agents.cancel(traveller_id=actor.traveller_id,
                                         booking_id=booking_id, code=confirmation)  # fmt: skip
        return _view(answer)

    # --- helpers ---------------------------------------------------------------------------

    def _serving(self) -> _Running:
        if self._running is None:
            raise ToolError("the agent tools are starting or stopping; retry in a few seconds")
        return self._running

    def _agents(self) -> AgentBookings:
        agents = self._serving().agents
        if agents is None:
            raise ToolError("bookings are not available on this server")
        return agents


@contextmanager
def _tool_errors() -> Iterator[None]:
    """Domain errors become tool errors the model can act on; the retryable ones say so."""
    try:
        yield
    except RateLimitedError as e:  # its detail says when to retry
        raise ToolError(e.detail) from e
    except YatriError as e:
        hint = "; retry in a few seconds" if e.retryable or e.status >= 500 else ""
        raise ToolError(f"{e.detail}{hint}") from e


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


def _actor_in(request: object) -> BookingActor | None:
    scope = getattr(request, "scope", None)
    actor = scope.get(_ACTOR_KEY) if isinstance(scope, Mapping) else None
    return actor if isinstance(actor, BookingActor) else None


def _actor_of(ctx: Context) -> BookingActor:
    actor = _actor_in(ctx.request_context.request)
    if actor is None:
        raise ToolError("not authenticated; send an agent token")
    return actor


def _offer_out(offer: FareOffer) -> OfferOut:
    return OfferOut(
        flight_number=offer.flight_number,
        carrier=offer.carrier_name,
        fare_family=offer.fare_family,
        cabin=offer.cabin.value,
        departure=offer.departure,
        arrival=offer.arrival,
        seats_left=offer.seats_left,
        refundable=offer.refundable,
        price=Money(total_paise=offer.price.total, display=rupees(offer.price.total)),
    )


def _view(answer: BookingAnswer | ApprovalAsked) -> dict[str, Any]:
    if isinstance(answer, ApprovalAsked):
        return {
            "status": "confirmation_required",
            "quote": quote_view(answer.quote),
            "next_step": "tell the traveller the amounts in `quote`, ask for the 6-digit code "
            "sent to them by SMS, then call this tool again with the same arguments and "
            "confirmation=<code>",
        }
    view = booking_view(answer.record, answer.outcome)
    view["next_step"] = _NEXT_STEP.get(answer.record.status, "")
    return view
