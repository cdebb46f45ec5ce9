"""Bookings as the API and the agent tools see them: create the record, run the workflow,
answer from the record. Ownership is checked here, so every caller gets the same rule: a
traveller sees and changes only their own bookings, and another's is simply not found."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from bookings.models import (
    BookingRecord,
    BookingStatus,
    BookInput,
    CancelInput,
    ChangeQuote,
    Contact,
    FlightSelection,
    HotelSelection,
    ModifyInput,
    Outcome,
    Traveller,
)
from bookings.pricing import FlightPricer
from bookings.quotes import ChangeQuoteStore
from bookings.rules import change_cost, check_name_correction, hours_until
from bookings.store import BookingStore
from bookings.temporal import TemporalClient, run_trip_workflow
from bookings.views import quote_view
from bookings.workflows import cancellation_fee
from core.deadline import call_budget
from core.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    QuoteMismatchError,
    QuoteRequiredError,
)
from core.party import check_travellers


@dataclass(frozen=True, slots=True)
class BookingOrder:
    """What a traveller asks to book, at the total they saw."""

    expected_total_paise: int
    travellers: tuple[Traveller, ...]
    contact: Contact
    flight: FlightSelection | None = None
    hotel: HotelSelection | None = None


@dataclass(frozen=True, slots=True)
class BookingAnswer:
    record: BookingRecord
    outcome: Outcome | None  # None: still running when the wait ended


def actor_name(*, traveller_id: str, agent_id: str | None = None) -> str:
    """Who asked, for whom: idempotency keys and the bookings they derive are scoped to it,
    so an agent's key used for two travellers names two different operations."""
    if agent_id:
        return f"agent:{agent_id}:for:{traveller_id}"
    return f"traveller:{traveller_id}"


def booking_id_for(*, actor: str, idempotency_key: str) -> str:
    """The booking a request creates, derived from who asked and their idempotency key: a
    retried request names the same booking, so Temporal refuses to run it twice even if the
    idempotency record were lost."""
    digest = hashlib.blake2b(f"{actor}\n{idempotency_key}".encode(), digest_size=10).hexdigest()
    return f"bk_{digest}"


class BookingService:
    def __init__(
        self,
        *,
        store: BookingStore,
        temporal: TemporalClient,
        task_queue: str,
        pricer: FlightPricer,
        quotes: ChangeQuoteStore,
        hold_ttl_s: float,
        wait_s: float,
        quote_ttl_s: float = 300.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._store = store
        self._pricer = pricer
        self._quotes = quotes
        self._quote_ttl_s = quote_ttl_s
        self._temporal = temporal
        self._task_queue = task_queue
        self._hold_ttl_s = hold_ttl_s
        self._wait_s = wait_s
        self._clock = clock

    @property
    def store(self) -> BookingStore:
        return self._store

    async def book(
        self, *, booking_id: str, traveller_id: str, order: BookingOrder, wait: bool = True
    ) -> BookingAnswer:
        if order.flight is None and order.hotel is None:
            raise InvalidRequestError("a booking needs a flight, a hotel, or both")
        if order.flight is not None:
            flight = order.flight
            check_travellers(order.travellers, adults=flight.adults, children=flight.children,
                             infants=flight.infants, travel_date=flight.date)  # fmt: skip
        now = self._clock()
        created = await self._store.create(
            BookingRecord(
                booking_id=booking_id,
                traveller_id=traveller_id,
                status=BookingStatus.PENDING,
                created_at=now,
                updated_at=now,
                flight=order.flight,
                hotel=order.hotel,
                travellers=order.travellers,
                contact=order.contact,
            )
        )
        if not created:
            await self.get(booking_id, traveller_id=traveller_id)  # someone else's id: 404
        outcome = await run_trip_workflow(
            self._temporal,
            BookInput(
                booking_id=booking_id,
                traveller_id=traveller_id,
                flight=order.flight,
                hotel=order.hotel,
                expected_total_paise=order.expected_total_paise,
                hold_ttl_s=self._hold_ttl_s,
            ),
            workflow_id=booking_id,
            task_queue=self._task_queue,
            wait_s=self._waited() if wait else None,
        )
        return BookingAnswer(await self.get(booking_id, traveller_id=traveller_id), outcome)

    async def get(self, booking_id: str, *, traveller_id: str) -> BookingRecord:
        record = await self._store.get(booking_id)
        if record is None or record.traveller_id != traveller_id:
            raise NotFoundError(f"no booking {booking_id}")
        return record

    async def list_for(self, traveller_id: str, *, limit: int = 50) -> list[BookingRecord]:
        return await self._store.list_for(traveller_id, limit=limit)

    # --- quotes: what a change costs, before anything moves ------------------------------

    async def quote_modify(
        self,
        *,
        booking_id: str,
        traveller_id: str,
        new_date: dt.date,
        new_flight_number: str | None = None,
    ) -> ChangeQuote:
        """What moving the booking to `new_date` (and flight) costs now. No side effects
        beyond keeping the quote, so that a later modify can name it."""
        record = self._changeable(await self.get(booking_id, traveller_id=traveller_id))
        quote = await self._modify_quote(record, new_date=new_date,
                                         new_flight_number=new_flight_number)  # fmt: skip
        await self._quotes.put(quote)
        return quote

    async def quote_cancel(self, *, booking_id: str, traveller_id: str) -> ChangeQuote:
        """The fee and the refund for cancelling the booking now."""
        record = await self.get(booking_id, traveller_id=traveller_id)
        if record.status is not BookingStatus.CONFIRMED:
            raise ConflictError(f"booking {booking_id} is {record.status.value}; only a "
                                "confirmed booking can be cancelled", reason="not-cancellable")  # fmt: skip
        quote = self._cancel_quote(record)
        await self._quotes.put(quote)
        return quote

    async def quote(self, quote_id: str, *, traveller_id: str) -> ChangeQuote:
        quote = await self._quotes.get(quote_id)
        if quote is None or quote.traveller_id != traveller_id:
            raise NotFoundError(f"quote {quote_id} has expired or does not exist; ask for a "
                                "new quote", field="quote_id")  # fmt: skip
        return quote

    async def modify(
        self,
        *,
        booking_id: str,
        traveller_id: str,
        request_id: str,
        quote_id: str | None = None,
        new_date: dt.date | None = None,
        new_flight_number: str | None = None,
        expected_change_paise: int | None = None,
    ) -> BookingAnswer:
        """Move the flight as quoted. The traveller's agreed amount is the quote's (by id) or
        `expected_change_paise`; without either nothing runs, and a change that now costs
        anything else is refused with the new quote."""
        record = self._changeable(await self.get(booking_id, traveller_id=traveller_id))
        if quote_id is not None:
            quote = await self._agreed(quote_id, record=record, kind="modify")
            if new_date not in (None, quote.new_date) or new_flight_number not in (
                None, quote.new_flight_number,
            ):  # fmt: skip
                raise InvalidRequestError("the change differs from the quoted one; send only "
                                          "the quote_id, or ask for a new quote")  # fmt: skip
            assert quote.new_date is not None  # a modify quote always names the new date
            new_date, new_flight_number = quote.new_date, quote.new_flight_number
            expected = quote.amount_due_paise
        else:
            if new_date is None:
                raise InvalidRequestError("send new_date (a date change) or a quote_id")
            if expected_change_paise is None:
                raise QuoteRequiredError(
                    f"this change moves money: POST /v1/bookings/{booking_id}/modify/quote "
                    "first, then send its quote_id (or its amount as expected_change_paise)"
                )
            expected = expected_change_paise
            now = await self._modify_quote(record, new_date=new_date,
                                           new_flight_number=new_flight_number)  # fmt: skip
            if now.amount_due_paise != expected:
                await self._refuse(now, agreed=expected)
        outcome = await run_trip_workflow(
            self._temporal,
            ModifyInput(
                booking_id=booking_id,
                traveller_id=traveller_id,
                new_date=new_date,
                new_flight_number=new_flight_number,
                expected_total_paise=expected,
                hold_ttl_s=self._hold_ttl_s,
            ),
            workflow_id=f"{booking_id}:modify:{request_id}",
            task_queue=self._task_queue,
            wait_s=self._waited(),
        )
        if outcome is not None and outcome.status is BookingStatus.PRICE_CHANGED:
            # The airline's live price moved since the quote: nothing was charged.
            fresh = await self._modify_quote(record, new_date=new_date,
                                             new_flight_number=new_flight_number)  # fmt: skip
            if outcome.new_total_paise is not None:  # the airline's live figure wins
                due = outcome.new_total_paise
                fresh = fresh.model_copy(update={
                    "amount_due_paise": due, "refund_paise": max(0, -due),
                    "fare_difference_paise": due - fresh.fee_paise,
                })  # fmt: skip
            await self._refuse(fresh, agreed=expected)
        return BookingAnswer(await self.get(booking_id, traveller_id=traveller_id), outcome)

    async def correct_names(
        self,
        *,
        booking_id: str,
        traveller_id: str,
        request_id: str,
        travellers: tuple[Traveller, ...],
    ) -> BookingAnswer:
        """Fix misspelt passenger names on a confirmed booking (free, within the rules)."""
        record = await self.get(booking_id, traveller_id=traveller_id)
        if record.status is not BookingStatus.CONFIRMED:
            raise ConflictError(f"booking {booking_id} is {record.status.value}",
                                reason="not-changeable")  # fmt: skip
        if len(travellers) != len(record.travellers):
            raise InvalidRequestError(
                f"send all {len(record.travellers)} passengers' names, corrected or not"
            )
        for old, new in zip(record.travellers, travellers, strict=True):
            check_name_correction(old=f"{old.first_name} {old.last_name}",
                                  new=f"{new.first_name} {new.last_name}")  # fmt: skip
        # A correction changes spellings only: who each passenger is (type, birth date) stays.
        travellers = tuple(
            new.model_copy(update={"passenger_type": old.passenger_type,
                                   "date_of_birth": old.date_of_birth})
            for old, new in zip(record.travellers, travellers, strict=True)
        )  # fmt: skip
        await self._store.correct_names(
            booking_id=booking_id, step=f"names:{request_id}", travellers=travellers,
            detail="passenger names corrected",
        )  # fmt: skip
        return BookingAnswer(await self.get(booking_id, traveller_id=traveller_id), None)

    async def cancel(
        self,
        *,
        booking_id: str,
        traveller_id: str,
        quote_id: str | None = None,
        expected_refund_paise: int | None = None,
    ) -> BookingAnswer:
        """Cancel at the quoted refund (by quote id, or `expected_refund_paise`); a booking
        already cancelled is answered as it is."""
        record = await self.get(booking_id, traveller_id=traveller_id)
        if record.status in (BookingStatus.CANCELLED, BookingStatus.CANCELLING):
            done = Outcome(booking_id=booking_id, status=record.status, detail="already cancelled")
            return BookingAnswer(record, done if record.status is BookingStatus.CANCELLED else None)
        if record.status is not BookingStatus.CONFIRMED:
            raise ConflictError(
                f"booking {booking_id} is {record.status.value}; only a confirmed booking "
                "can be cancelled",
                reason="not-cancellable",
            )
        if quote_id is not None:
            expected = (await self._agreed(quote_id, record=record, kind="cancel")).refund_paise
        elif expected_refund_paise is None:
            raise QuoteRequiredError(
                f"cancelling has a fee: POST /v1/bookings/{booking_id}/cancel/quote first, then "
                "send its quote_id (or its refund as expected_refund_paise)"
            )
        else:
            expected = expected_refund_paise
        now = self._cancel_quote(record)
        if now.refund_paise != expected:
            await self._refuse(now, agreed=expected)
        outcome = await run_trip_workflow(
            self._temporal,
            CancelInput(
                booking_id=booking_id, traveller_id=traveller_id, expected_refund_paise=expected
            ),  # fmt: skip
            # One cancellation per version of the booking and agreed refund: a retry attaches
            # to it; a refusal (the fee moved) does not block a cancellation at the new quote.
            workflow_id=f"{booking_id}:cancel:{_version(record)}:{expected}",
            task_queue=self._task_queue,
            wait_s=self._waited(),
        )
        if outcome is not None and outcome.failed_step == "quote":
            await self._refuse(self._cancel_quote(await self.get(booking_id,
                                                                 traveller_id=traveller_id)),
                               agreed=expected)  # fmt: skip
        return BookingAnswer(await self.get(booking_id, traveller_id=traveller_id), outcome)

    # --- helpers ---------------------------------------------------------------------------

    def _waited(self) -> float:
        """How long to wait for a workflow's outcome: ``wait_s``, cut to what the request has
        left (a booking still running is answered as pending, never a timed-out request)."""
        return call_budget(self._wait_s)

    def _changeable(self, record: BookingRecord) -> BookingRecord:
        if record.status is not BookingStatus.CONFIRMED or record.flight is None:
            raise ConflictError(
                f"booking {record.booking_id} is {record.status.value}; only a confirmed "
                "flight booking can be changed",
                reason="not-changeable",
            )
        return record

    async def _modify_quote(
        self, record: BookingRecord, *, new_date: dt.date, new_flight_number: str | None
    ) -> ChangeQuote:
        old = record.flight
        if old is None or record.price is None or record.departure is None:
            raise ConflictError(f"booking {record.booking_id} has no flight to change",
                                reason="not-changeable")  # fmt: skip
        wanted = old.model_copy(
            update={"date": new_date, "flight_number": new_flight_number or old.flight_number}
        )
        priced = await self._pricer.price(wanted)
        if priced is None:
            raise InvalidRequestError(
                f"{wanted.flight_number} ({wanted.fare_family}) is not sold on {new_date}",
                field="new_date",
            )
        now = self._clock()
        cost = change_cost(
            fare_family=old.fare_family, seats=old.seats,
            hours_to_departure=hours_until(record.departure, now=now),
            old_total_paise=record.price.total_paise, new_total_paise=priced.price.total_paise,
        )  # fmt: skip
        return ChangeQuote(
            quote_id=_quote_id("mq"), kind="modify", booking_id=record.booking_id,
            traveller_id=record.traveller_id, booking_version=_version(record), created_at=now,
            expires_at=now + dt.timedelta(seconds=self._quote_ttl_s),
            fee_paise=cost.fee_paise, fare_difference_paise=cost.fare_difference_paise,
            amount_due_paise=cost.due_paise, refund_paise=max(0, -cost.due_paise),
            new_date=new_date, new_flight_number=wanted.flight_number,
            new_departure=priced.departure, new_total_paise=priced.price.total_paise,
        )  # fmt: skip

    def _cancel_quote(self, record: BookingRecord) -> ChangeQuote:
        now = self._clock()
        fee = cancellation_fee(record, now=now)
        return ChangeQuote(
            quote_id=_quote_id("cq"), kind="cancel", booking_id=record.booking_id,
            traveller_id=record.traveller_id, booking_version=_version(record), created_at=now,
            expires_at=now + dt.timedelta(seconds=self._quote_ttl_s), fee_paise=fee,
            amount_due_paise=-(record.paid_paise - fee), refund_paise=record.paid_paise - fee,
        )  # fmt: skip

    async def _agreed(self, quote_id: str, *, record: BookingRecord, kind: str) -> ChangeQuote:
        quote = await self.quote(quote_id, traveller_id=record.traveller_id)
        if quote.booking_id != record.booking_id or quote.kind != kind:
            raise InvalidRequestError(f"quote {quote_id} is not a {kind} quote for booking "
                                      f"{record.booking_id}", field="quote_id")  # fmt: skip
        if quote.expires_at <= self._clock():
            raise NotFoundError(f"quote {quote_id} has expired; ask for a new quote",
                                field="quote_id")  # fmt: skip
        if quote.booking_version != _version(record):
            raise QuoteMismatchError(f"booking {record.booking_id} changed since quote "
                                     f"{quote_id}; ask for a new quote")  # fmt: skip
        return quote

    async def _refuse(self, quote: ChangeQuote, *, agreed: int) -> NoReturn:
        """Keep the new quote and refuse with it: the traveller sees the new figures."""
        await self._quotes.put(quote)
        what = "costs" if quote.kind == "modify" else "refunds"
        amount = quote.amount_due_paise if quote.kind == "modify" else quote.refund_paise
        raise QuoteMismatchError(
            f"this {quote.kind} now {what} {amount} paise, not the {agreed} agreed; nothing "
            f"was charged or refunded. Confirm the new quote {quote.quote_id} to go ahead",
            quote=quote_view(quote),
        )


def _version(record: BookingRecord) -> str:
    return hashlib.blake2b(record.updated_at.isoformat().encode(), digest_size=6).hexdigest()


def _quote_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(12)}"
