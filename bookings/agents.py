"""What an AI agent does for the traveller it acts for, each money move approved by the
traveller: a booking quote priced live, booked once the traveller's code comes back; changes
and cancellations quoted, then run with the code that approved their amount. The codes, their
daily cap, tries and expiry are `ApprovalCodes`' (bookings/consent.py), so every surface that
lets an agent move money holds the same rules."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bookings.consent import ApprovalCodes, ApprovalError, NoApprovalPendingError
from bookings.models import (
    BookingRecord,
    BookingStatus,
    ChangeQuote,
    Contact,
    FlightSelection,
    Traveller,
)
from bookings.pricing import fare_query
from bookings.quotes import BookingQuoteStore, StoredQuote
from bookings.service import (
    BookingAnswer,
    BookingOrder,
    BookingService,
    actor_name,
    booking_id_for,
)
from bookings.views import quote_summary
from core.errors import NotFoundError
from core.money import rupees
from core.party import check_travellers
from fares.service import FareService


@dataclass(frozen=True, slots=True)
class BookingQuote:
    quote_id: str
    total_paise: int
    expires_at: dt.datetime
    previous_total_paise: int | None  # set when the live price differs from the searched one


@dataclass(frozen=True, slots=True)
class ApprovalAsked:
    """Nothing moved: the traveller was sent a code approving `quote`, with its amounts."""

    quote: ChangeQuote


class AgentBookings:
    """The agent's booking operations for one traveller at a time (`traveller_id`)."""

    def __init__(
        self,
        *,
        fares: FareService,
        bookings: BookingService,
        approvals: ApprovalCodes,
        quotes: BookingQuoteStore,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._fares = fares
        self._bookings = bookings
        self._approvals = approvals
        self._quotes = quotes
        self._clock = clock

    async def get(self, booking_id: str, *, traveller_id: str) -> BookingRecord:
        return await self._bookings.get(booking_id, traveller_id=traveller_id)

    async def quote_booking(
        self,
        *,
        traveller_id: str,
        agent_id: str,
        selection: FlightSelection,
        travellers: tuple[Traveller, ...],
        contact: Contact,
    ) -> BookingQuote:
        """Price the selection live and keep it under a quote id for as long as a code lives;
        the traveller is sent the code, naming the flight and the total."""
        check_travellers(travellers, adults=selection.adults, children=selection.children,
                         infants=selection.infants, travel_date=selection.date)  # fmt: skip
        found = await self._fares.search(fare_query(selection))
        offer = next(
            (o for o in found.offers
             if (o.flight_number, o.fare_family) == (selection.flight_number,
                                                     selection.fare_family)),
            None,
        )  # fmt: skip
        repriced = None if offer is None else await self._fares.reprice(offer)
        if repriced is None or repriced.offer is None:
            raise NotFoundError(
                f"{selection.flight_number} {selection.fare_family} is not sold on "
                f"{selection.date.isoformat()} for this party; call search_flights again"
            )
        total = repriced.offer.price.total
        ttl_s = self._approvals.ttl_s
        quote_id = "q_" + secrets.token_urlsafe(18)
        quote = StoredQuote(
            traveller_id=traveller_id, agent_id=agent_id, selection=selection,
            travellers=travellers, contact=contact, total_paise=total,
            expires_at=self._clock() + dt.timedelta(seconds=ttl_s),
        )  # fmt: skip
        await self._quotes.put(quote_id, quote, ttl_s=ttl_s)
        s = selection
        await self._approvals.request(
            traveller_id=traveller_id, action="book", scope=quote_id, subject=quote_id,
            text=f"Yatri: {{code}} is your code to book {s.flight_number} {s.origin}-"
            f"{s.destination} on {s.date.isoformat()} for {rupees(total)}. It expires in "
            f"{int(ttl_s // 60)} min. Share it only to approve this booking.",
        )  # fmt: skip
        return BookingQuote(
            quote_id=quote_id, total_paise=total, expires_at=quote.expires_at,
            previous_total_paise=repriced.previous_total if repriced.price_changed else None,
        )  # fmt: skip

    async def confirm_booking(
        self, *, traveller_id: str, quote_id: str, code: str
    ) -> BookingAnswer:
        """Book the quote with the traveller's code. The quote names the booking, so a retry
        with the same code answers with that booking; it never books twice."""
        expired = NotFoundError(f"quote {quote_id} has expired or does not exist; call "
                                "quote_booking again", field="quote_id")  # fmt: skip
        state = await self._quotes.get(quote_id)
        if state is None or state.quote.traveller_id != traveller_id:
            raise expired
        if state.booking_id is None:
            if self._clock() >= state.quote.expires_at:
                raise expired
            try:
                await self._approvals.verify(traveller_id=traveller_id, action="book",
                                             scope=quote_id, code=code)  # fmt: skip
            except NoApprovalPendingError as e:
                # Burned or expired, or spent a moment ago by a parallel confirm.
                state = await self._quotes.get(quote_id)
                if state is None or state.booking_id is None:
                    raise expired from e
            else:
                # The traveller's own booking (they approved it), named by the quote.
                booking_id = booking_id_for(actor=actor_name(traveller_id=traveller_id),
                                            idempotency_key=f"quote:{quote_id}")  # fmt: skip
                await self._quotes.confirmed(quote_id, booking_id=booking_id,
                                             code_mac=self._approvals.mac(quote_id, code))  # fmt: skip
                return await self._book(state.quote, booking_id=booking_id)
        if state.booking_id is None or not hmac.compare_digest(
            self._approvals.mac(quote_id, code), state.code_mac or ""
        ):
            raise ApprovalError("the code does not match")
        return await self._book(state.quote, booking_id=state.booking_id)

    async def _book(self, quote: StoredQuote, *, booking_id: str) -> BookingAnswer:
        return await self._bookings.book(
            booking_id=booking_id,
            traveller_id=quote.traveller_id,
            order=BookingOrder(
                expected_total_paise=quote.total_paise,
                travellers=quote.travellers,
                contact=quote.contact,
                flight=quote.selection,
            ),
        )

    async def modify(
        self,
        *,
        traveller_id: str,
        booking_id: str,
        new_date: dt.date,
        new_flight_number: str | None,
        code: str | None,
    ) -> BookingAnswer | ApprovalAsked:
        """Without `code`, quote the change and send the traveller a code for its amount; with
        it, run the change that code approved. A booking already on that flight is answered
        as it is."""
        record = await self._bookings.get(booking_id, traveller_id=traveller_id)
        if _already_on(record, new_date=new_date, new_flight=new_flight_number):
            return BookingAnswer(record, None)
        if code is None:
            quote = await self._bookings.quote_modify(
                booking_id=booking_id, traveller_id=traveller_id, new_date=new_date,
                new_flight_number=new_flight_number,
            )  # fmt: skip
            return await self._ask(quote, action="modify")
        approved = await self._approvals.verify(traveller_id=traveller_id, action="modify",
                                                scope=booking_id, code=code)  # fmt: skip
        quote = await self._bookings.quote(approved.subject, traveller_id=traveller_id)
        if quote.new_date != new_date or new_flight_number not in (
            None, quote.new_flight_number,
        ):  # fmt: skip
            raise ApprovalError("the code approved a different change; call without "
                                "confirmation to quote this one")  # fmt: skip
        return await self._bookings.modify(
            booking_id=booking_id,
            traveller_id=traveller_id,
            # Derived from the approved quote: a retry attaches to the same workflow.
            request_id=hashlib.blake2b(quote.quote_id.encode(), digest_size=8).hexdigest(),
            quote_id=quote.quote_id,
        )

    async def cancel(
        self, *, traveller_id: str, booking_id: str, code: str | None
    ) -> BookingAnswer | ApprovalAsked:
        """Without `code`, quote the fee and refund and send the traveller a code for them;
        with it, cancel as that code approved. A cancelled booking is answered as it is."""
        record = await self._bookings.get(booking_id, traveller_id=traveller_id)
        if record.status in (BookingStatus.CANCELLED, BookingStatus.CANCELLING):
            return await self._bookings.cancel(booking_id=booking_id, traveller_id=traveller_id)
        if code is None:
            quote = await self._bookings.quote_cancel(booking_id=booking_id,
                                                      traveller_id=traveller_id)  # fmt: skip
            return await self._ask(quote, action="cancel")
        approved = await self._approvals.verify(traveller_id=traveller_id, action="cancel",
                                                scope=booking_id, code=code)  # fmt: skip
        return await self._bookings.cancel(booking_id=booking_id, traveller_id=traveller_id,
                                           quote_id=approved.subject)  # fmt: skip

    async def _ask(
        self, quote: ChangeQuote, *, action: Literal["modify", "cancel"]
    ) -> ApprovalAsked:
        await self._approvals.request(
            traveller_id=quote.traveller_id, action=action, scope=quote.booking_id,
            subject=quote.quote_id,
            text="Yatri: {code} is your code to approve this: " + quote_summary(quote)
            + f" It expires in {int(self._approvals.ttl_s // 60)} min. Share it only to "
            "approve this.",
        )  # fmt: skip
        return ApprovalAsked(quote)


def _already_on(record: BookingRecord, *, new_date: dt.date, new_flight: str | None) -> bool:
    flight = record.flight
    return (
        record.status is BookingStatus.CONFIRMED
        and flight is not None
        and flight.date == new_date
        and new_flight in (None, flight.flight_number)
    )
