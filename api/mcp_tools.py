"""The agent tools over MCP: their argument and result schemas, the tools, and the views they
answer with. Each tool translates a call to `AgentBookings` (bookings/agents.py), which holds
the quotes and the approval codes' rules, or to the fare search, and maps domain errors to
tool errors the model can act on. api/mcp_server.py serves them behind authentication."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from api.auth import BookingActor
from api.deps import Services
from bookings.agents import AgentBookings, ApprovalAsked
from bookings.models import BookingStatus, Contact, FlightSelection, Traveller
from bookings.service import BookingAnswer
from bookings.views import booking_view, quote_view
from core.errors import RateLimitedError, YatriError
from core.money import rupees
from fares.models import Cabin, FareOffer, FareQuery, Passengers

ACTOR_KEY = "yatri.booking_actor"  # where the auth wrapper leaves the actor in the ASGI scope
INSTRUCTIONS = (
    "Flights for the traveller you act for. To book: search_flights, then quote_booking (the "
    "traveller gets a 6-digit code by SMS), ask the traveller for the code, then "
    "confirm_booking. Prices are integer paise (100 paise = 1 INR)."
)

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


class AgentToolset:
    """The tools an agent calls. `services` answers the app's services while the app serves,
    and None while it starts or stops."""

    def __init__(self, services: Callable[[], Services | None]) -> None:
        self._services = services

    def register(self, server: MCPServer) -> frozenset[str]:
        """Add the tools to `server` with their hints; answer their names."""
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
            server.add_tool(tool, annotations=hints)
        return frozenset(tool.__name__ for tool, _ in tools)

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
        services = self._serving()
        with _tool_errors():
            result = await services.fares.search(
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

    def _serving(self) -> Services:
        services = self._services()
        if services is None:
            raise ToolError("the agent tools are starting or stopping; retry in a few seconds")
        return services

    def _agents(self) -> AgentBookings:
        agents = self._serving().agent_bookings
        if agents is None:
            raise ToolError("bookings are not available on this server")
        return agents


def actor_in(request: object) -> BookingActor | None:
    """The actor the auth wrapper left in a request's ASGI scope, if any."""
    scope = getattr(request, "scope", None)
    actor = scope.get(ACTOR_KEY) if isinstance(scope, Mapping) else None
    return actor if isinstance(actor, BookingActor) else None


def _actor_of(ctx: Context) -> BookingActor:
    actor = actor_in(ctx.request_context.request)
    if actor is None:
        raise ToolError("not authenticated; send an agent token")
    return actor


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
