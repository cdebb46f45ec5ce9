"""Yatri's tools for AI agents, over MCP (streamable HTTP at `/mcp`).

An agent acts for one traveller, named by its token (scope `bookings:agent`, `act_for`). It
searches, quotes, and books only with a 6-digit code that the quote sends to the traveller out
of band (the sandbox SMS outbox): an agent can never spend a traveller's money on its own say.
Every tool call is rate-limited per agent and written to the audit log with personal data
removed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
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
from bookings.audit import AuditLog, ToolCallEntry
from bookings.consent import ApprovalCodes
from bookings.models import (
    BookingRecord,
    BookingStatus,
    ChangeQuote,
    Contact,
    FlightSelection,
    Traveller,
)
from bookings.quotes import (
    AgentRateLimit,
    CodeNotifier,
    RedisQuotes,
    SandboxSmsOutbox,
    StoredQuote,
)
from bookings.service import BookingAnswer, BookingOrder, BookingService, booking_id_for
from bookings.views import booking_view, quote_summary, quote_view
from core.errors import (
    DependencyUnavailableError,
    ForbiddenError,
    StartupError,
    UnauthorizedError,
    YatriError,
)
from core.logging import get_logger
from core.money import rupees
from core.party import check_travellers
from core.redaction import redact_text, redact_value
from core.settings import Settings
from core.telemetry import TOOL_CALLS
from fares.models import Cabin, FareOffer, FareQuery, Passengers

log = get_logger("yatri.mcp")

MCP_PATH = "/mcp"
MAX_CODE_ATTEMPTS = 5
# A confirmed quote is kept a day so that a retried confirm_booking finds its booking.
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
    quotes: RedisQuotes
    outbox: CodeNotifier
    limit: AgentRateLimit


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
        for tool, hints in (
            (self.search_flights, _READ),
            # A quote changes no booking, but it keeps a quote and sends the traveller a code:
            # not read-only, and not idempotent.
            (self.quote_booking, _QUOTE),
            (self.confirm_booking, destructive.model_copy(update={"idempotent_hint": True})),
            (self.get_booking, _READ.model_copy(update={"open_world_hint": False})),
            (self.modify_booking, destructive.model_copy(update={"idempotent_hint": False})),
            (self.cancel_booking, destructive.model_copy(update={"idempotent_hint": True})),
        ):
            self.server.add_tool(tool, annotations=hints)

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
                quotes=RedisQuotes(redis=redis, namespace=ns),
                outbox=SandboxSmsOutbox(redis=redis, namespace=ns),
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
        tool = name if isinstance(name, str) and name in _TOOL_NAMES else "unknown"
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
        entry = ToolCallEntry(
            at=dt.datetime.now(dt.UTC),
            agent_id=(actor.agent_id if actor else None) or "unauthenticated",
            traveller_id=actor.traveller_id if actor else "",
            tool=tool,
            arguments=summarize_arguments(arguments),
            outcome=outcome,
            error=None if error is None else _scrub(error, arguments),
            duration_ms=duration_ms,
        )
        log.info(
            "agent tool call", agent=entry.agent_id, traveller=entry.traveller_id, tool=tool,
            arguments=entry.arguments, outcome=outcome, error=entry.error, duration_ms=duration_ms,
        )  # fmt: skip
        running = self._running
        if running is None:
            return
        try:
            await running.audit.record(entry)
        except Exception:
            # The call has already happened; failing its answer now would hide a booking.
            log.exception("tool audit write failed", agent=entry.agent_id, tool=tool)

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
                _query(
                    origin=origin,
                    destination=destination,
                    date=date,
                    adults=adults,
                    children=children,
                    cabin=cabin,
                )
            )
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
        running, actor = self._serving(), _actor_of(ctx)
        with _tool_errors():
            check_travellers(travellers, adults=adults, children=children, infants=infants,
                             travel_date=date)  # fmt: skip
            query = _query(
                origin=origin,
                destination=destination,
                date=date,
                adults=adults,
                children=children,
                infants=infants,
                cabin=Cabin(cabin),
            )
            found = await running.services.fares.search(query)
            offer = next(
                (o for o in found.offers
                 if (o.flight_number, o.fare_family) == (flight_number, fare_family)),
                None,
            )  # fmt: skip
            repriced = None if offer is None else await running.services.fares.reprice(offer)
        if repriced is None or repriced.offer is None:
            raise ToolError(
                f"{flight_number} {fare_family} is not sold on {date.isoformat()} for this "
                "party; call search_flights again"
            )
        total = repriced.offer.price.total
        with _tool_errors():
            # Asking again sends a fresh code with fresh tries: the daily cap bounds guessing.
            await _approvals(running).reserve(traveller_id=actor.traveller_id, action="book")
        quote_id = "q_" + secrets.token_urlsafe(18)
        code = f"{secrets.randbelow(10**6):06d}"
        ttl_s = self._settings.quote_ttl_s
        expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl_s)
        selection = FlightSelection(
            origin=origin, destination=destination, date=date, flight_number=flight_number,
            fare_family=fare_family, cabin=cabin, adults=adults, children=children,
            infants=infants,
        )  # fmt: skip
        quote = StoredQuote(
            traveller_id=actor.traveller_id,
            agent_id=actor.agent_id or "",
            selection=selection,
            travellers=tuple(travellers),
            contact=contact,
            total_paise=total,
            expires_at=expires_at,
            code_mac=self._code_mac(quote_id, code),
        )
        with _tool_errors():
            await running.quotes.put(quote_id, quote, ttl_s=ttl_s)
            await running.outbox.send(
                traveller_id=actor.traveller_id,
                text=f"Yatri: {code} is your code to book {flight_number} {origin}-{destination} "
                f"on {date.isoformat()} for {rupees(total)}. It expires in "
                f"{int(ttl_s // 60)} min. Share it only to approve this booking.",
            )
        return QuoteResult(
            quote_id=quote_id,
            total=Money(total_paise=total, display=rupees(total)),
            expires_at=expires_at,
            previous_total_paise=repriced.previous_total if repriced.price_changed else None,
            next_step="ask the traveller for the 6-digit code sent to them by SMS, then call "
            "confirm_booking with it",
        )

    async def confirm_booking(
        self, quote_id: QuoteId, confirmation: ConfirmationCode, ctx: Context
    ) -> dict[str, Any]:
        """Book a quote with the code the traveller received. Retrying with the same quote
        returns the same booking; it never books twice."""
        running, actor = self._serving(), _actor_of(ctx)
        service = _bookings(running)
        expired = ToolError(f"quote {quote_id} has expired or does not exist; call "
                            "quote_booking again")  # fmt: skip
        with _tool_errors():
            attempts = 0
            state = await running.quotes.get(quote_id)
            if state is None or state.quote.traveller_id != actor.traveller_id:
                raise expired
            if state.booking_id is None:
                if dt.datetime.now(dt.UTC) >= state.quote.expires_at:
                    raise expired
                # Counted before comparing, so parallel guesses cannot exceed the limit.
                attempts = await running.quotes.count_attempt(quote_id)
                if attempts > MAX_CODE_ATTEMPTS:
                    await running.quotes.burn(quote_id)
                    raise expired
            matches = hmac.compare_digest(
                self._code_mac(quote_id, confirmation), state.quote.code_mac
            )
            if not matches:
                if state.booking_id is not None:
                    raise ToolError("confirmation code does not match")
                left = MAX_CODE_ATTEMPTS - attempts
                if left <= 0:
                    await running.quotes.burn(quote_id)
                    raise ToolError("confirmation code does not match and no attempts are "
                                    "left; call quote_booking again for a new code")  # fmt: skip
                raise ToolError(f"confirmation code does not match ({left} attempts left)")
            booking_id = booking_id_for(
                actor=BookingActor(traveller_id=actor.traveller_id).name,
                idempotency_key=f"quote:{quote_id}",
            )
            await running.quotes.confirmed(quote_id, booking_id=booking_id)
            quote = state.quote
            answer = await service.book(
                booking_id=booking_id,
                traveller_id=actor.traveller_id,
                order=BookingOrder(
                    expected_total_paise=quote.total_paise,
                    travellers=quote.travellers,
                    contact=quote.contact,
                    flight=quote.selection,
                ),
            )
        return _view(answer)

    async def get_booking(self, booking_id: BookingId, ctx: Context) -> dict[str, Any]:
        """One booking of the traveller, with its status and history."""
        running, actor = self._serving(), _actor_of(ctx)
        with _tool_errors():
            record = await _bookings(running).get(booking_id, traveller_id=actor.traveller_id)
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
        running, actor = self._serving(), _actor_of(ctx)
        service, approvals = _bookings(running), _approvals(running)
        with _tool_errors():
            record = await service.get(booking_id, traveller_id=actor.traveller_id)
            if _already_on(record, new_date=new_date, new_flight=new_flight_number):
                return _view(BookingAnswer(record, None))
            if confirmation is None:
                quote = await service.quote_modify(
                    booking_id=booking_id, traveller_id=actor.traveller_id, new_date=new_date,
                    new_flight_number=new_flight_number,
                )  # fmt: skip
                return await self._ask(approvals, actor, quote, action="modify")
            approved = await approvals.verify(traveller_id=actor.traveller_id, action="modify",
                                              scope=booking_id, code=confirmation)  # fmt: skip
            quote = await service.quote(approved.subject, traveller_id=actor.traveller_id)
            if quote.new_date != new_date or new_flight_number not in (
                None, quote.new_flight_number,
            ):  # fmt: skip
                raise ToolError("the code approved a different change; call without "
                                "confirmation to quote this one")  # fmt: skip
            answer = await service.modify(
                booking_id=booking_id,
                traveller_id=actor.traveller_id,
                # Derived from the approved quote: a retry attaches to the same workflow.
                request_id=hashlib.blake2b(quote.quote_id.encode(), digest_size=8).hexdigest(),
                quote_id=quote.quote_id,
            )
        return _view(answer)

    async def cancel_booking(
        self, booking_id: BookingId, ctx: Context, confirmation: ConfirmationCode | None = None
    ) -> dict[str, Any]:
        """Cancel a confirmed booking; the fare rules' cancellation fee applies, so the
        traveller approves it: the first call quotes the fee and refund, sends them a 6-digit
        code by SMS with those amounts, and answers `confirmation_required` with the quote;
        call again with `confirmation` set to the code. Cancelling a cancelled booking returns
        it unchanged."""
        running, actor = self._serving(), _actor_of(ctx)
        service, approvals = _bookings(running), _approvals(running)
        with _tool_errors():
            record = await service.get(booking_id, traveller_id=actor.traveller_id)
            if record.status in (BookingStatus.CANCELLED, BookingStatus.CANCELLING):
                return _view(await service.cancel(booking_id=booking_id,
                                                  traveller_id=actor.traveller_id))  # fmt: skip
            if confirmation is None:
                quote = await service.quote_cancel(booking_id=booking_id,
                                                   traveller_id=actor.traveller_id)  # fmt: skip
                return await self._ask(approvals, actor, quote, action="cancel")
            approved = await approvals.verify(traveller_id=actor.traveller_id, action="cancel",
                                              scope=booking_id, code=confirmation)  # fmt: skip
            answer = await service.cancel(booking_id=booking_id, traveller_id=actor.traveller_id,
                                          quote_id=approved.subject)  # fmt: skip
        return _view(answer)

    async def _ask(
        self, approvals: ApprovalCodes, actor: BookingActor, quote: ChangeQuote, *,
        action: Literal["modify", "cancel"],
    ) -> dict[str, Any]:  # fmt: skip
        """Send the traveller a code approving `quote`, naming its amounts."""
        await approvals.request(
            traveller_id=actor.traveller_id, action=action, scope=quote.booking_id,
            subject=quote.quote_id,
            text="Yatri: {code} is your code to approve this: " + quote_summary(quote)
            + f" It expires in {int(self._settings.quote_ttl_s // 60)} min. Share it only "
            "to approve this.",
        )  # fmt: skip
        return {
            "status": "confirmation_required",
            "quote": quote_view(quote),
            "next_step": "tell the traveller the amounts in `quote`, ask for the 6-digit code "
            "sent to them by SMS, then call this tool again with the same arguments and "
            "confirmation=<code>",
        }

    # --- helpers ---------------------------------------------------------------------------

    def _serving(self) -> _Running:
        if self._running is None:
            raise ToolError("the agent tools are starting or stopping; retry in a few seconds")
        return self._running

    def _code_mac(self, quote_id: str, code: str) -> str:
        # A key of its own, derived from the secret that also signs tokens.
        secret = self._settings.secret_key.get_secret_value().encode()
        key = hmac.new(secret, b"yatri quote confirmation code", hashlib.sha256).digest()
        return hmac.new(key, f"{quote_id}:{code}".encode(), hashlib.sha256).hexdigest()


_TOOL_NAMES = frozenset(
    {"search_flights", "quote_booking", "confirm_booking", "get_booking", "modify_booking",
     "cancel_booking"}
)  # fmt: skip
# Arguments that reach the audit log as given (after redaction); others are summarised.
_PLAIN_ARGUMENTS = frozenset(
    {"origin", "destination", "date", "adults", "children", "cabin", "flight_number",
     "fare_family", "quote_id", "booking_id", "new_date", "new_flight_number"}
)  # fmt: skip
_INPUT_VALUE = re.compile(r"input_value=.*?, input_type=")


def summarize_arguments(arguments: Mapping[str, Any]) -> str:
    """The arguments as the audit log keeps them: traveller names counted; contact details,
    the confirmation code and anything unexpected left out."""
    summary: dict[str, Any] = {}
    for key, value in arguments.items():
        if key in _PLAIN_ARGUMENTS:
            summary[key] = redact_value(value if not isinstance(value, str) else value[:64])
        elif key == "travellers" and isinstance(value, list):
            summary[key] = f"{len(value)} names"
        elif key == "contact":
            summary[key] = "[redacted]"
        else:
            summary[key] = "[omitted]"
    return orjson.dumps(summary).decode()[:2000]


def _scrub(error: str, arguments: Mapping[str, Any]) -> str:
    """An error message fit for the audit log: the SDK's validation messages quote the
    rejected values, which may be a name or the code."""
    error = _INPUT_VALUE.sub("input_value=[omitted], input_type=", error)
    code = arguments.get("confirmation")
    if isinstance(code, str) and code:
        error = error.replace(code, "[omitted]")
    return redact_text(error)[:1000]


@contextmanager
def _tool_errors() -> Iterator[None]:
    """Domain errors become tool errors the model can act on; the retryable ones say so."""
    try:
        yield
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


def _approvals(running: _Running) -> ApprovalCodes:
    if running.services.approvals is None:
        raise ToolError("bookings are not available on this server")
    return running.services.approvals


def _bookings(running: _Running) -> BookingService:
    if running.services.bookings is None:
        raise ToolError("bookings are not available on this server")
    return running.services.bookings


def _query(
    *, origin: str, destination: str, date: dt.date, adults: int, children: int, cabin: Cabin,
    infants: int = 0,
) -> FareQuery:  # fmt: skip
    return FareQuery(origin=origin, destination=destination, date=date,
                     passengers=Passengers(adults, children, infants), cabin=cabin)  # fmt: skip


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


def _already_on(record: BookingRecord, *, new_date: dt.date, new_flight: str | None) -> bool:
    flight = record.flight
    return (
        record.status is BookingStatus.CONFIRMED
        and flight is not None
        and flight.date == new_date
        and new_flight in (None, flight.flight_number)
    )


def _view(answer: BookingAnswer) -> dict[str, Any]:
    view = booking_view(answer.record, answer.outcome)
    view["next_step"] = _NEXT_STEP.get(answer.record.status, "")
    return view
