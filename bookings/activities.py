"""Temporal activities: every call to a supplier or the booking store. A class whose
constructor takes its clients, so the worker wires real or sandbox suppliers alike.

Each activity is one idempotent step: the workflow passes the idempotency key, and the
supplier honours it, so a retried activity (a lost answer, a restarted worker) repeats nothing.
Business refusals become non-retryable `ApplicationError`s typed by the error's problem type;
infrastructure errors propagate and Temporal retries them with backoff.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from bookings.models import (
    BookingRecord,
    FlightSelection,
    HotelSelection,
    PricedFlight,
    PricedHotel,
    StepArgs,
    StepResult,
    Transition,
)
from bookings.pricing import fare_query, priced_flight
from bookings.store import BookingStore
from bookings.suppliers.base import (
    AirlineBookingSupplier,
    HoldExpiredError,
    HotelBookingSupplier,
    PaymentGateway,
    PriceChangedError,
    SoldOutError,
    SupplierDeclinedError,
)
from core.logging import get_logger
from core.telemetry import (
    BOOKING_COMPENSATIONS,
    BOOKING_HOLDS_EXPIRED,
    BOOKING_OUTCOMES,
    BOOKING_RECORD_STUCK,
    HOTEL_CHECKOUT_MISMATCHES,
)
from fares.models import booking_closes
from fares.suppliers.base import AirlineSupplier

PROBE_ACTIVITY = "worker_probe"
# The workflow retries a status write until it is done (0.2 s doubling to 30 s between tries):
# by the 8th try about a minute has passed, and a person must look at the booking.
RECORD_ALERT_ATTEMPTS = 8

log = get_logger(__name__)

_T = TypeVar("_T")


class WorkerActivities:
    def __init__(self, *, identity: str | None = None) -> None:
        self._identity = identity or f"yatri@{socket.gethostname()}:{os.getpid()}"

    @activity.defn(name=PROBE_ACTIVITY)
    async def probe(self, nonce: str) -> str:
        """Answer a probe so `yatri doctor` can time a full round trip through a live worker."""
        return f"{nonce}:{self._identity}"


async def _business(call: Callable[[], Awaitable[_T]]) -> _T:
    """Run a supplier call, turning its business refusals into non-retryable failures."""
    try:
        return await call()
    except HoldExpiredError as e:
        BOOKING_HOLDS_EXPIRED.inc()
        raise ApplicationError(e.detail, type=e.problem_type, non_retryable=True) from e
    except PriceChangedError as e:  # the details carry the price now, for the workflow to show
        raise ApplicationError(e.detail, e.extensions.get("price_paise"), type=e.problem_type,
                               non_retryable=True) from e  # fmt: skip
    except SupplierDeclinedError as e:
        raise ApplicationError(e.detail, type=e.problem_type, non_retryable=True) from e


def _require(value: str | None, what: str) -> str:
    if not value:
        raise ApplicationError(f"{what} is missing", type="bad-step", non_retryable=True)
    return value


class BookingActivities:
    def __init__(
        self,
        *,
        fares: AirlineSupplier,
        airline: AirlineBookingSupplier,
        hotel: HotelBookingSupplier,
        payments: PaymentGateway,
        store: BookingStore,
        cutoff_min: int = 45,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._fares = fares
        self._cutoff_min = cutoff_min
        self._clock = clock
        self._airline = airline
        self._hotel = hotel
        self._payments = payments
        self._store = store

    @property
    def hotel(self) -> HotelBookingSupplier:
        return self._hotel

    def all(self) -> list[Callable[..., Awaitable[object]]]:
        return [
            self.price_flight,
            self.load_booking,
            self.record,
            self.hold_flight,
            self.issue_ticket,
            self.release_flight,
            self.cancel_ticket,
            self.price_hotel,
            self.hold_hotel,
            self.confirm_hotel,
            self.release_hotel,
            self.cancel_hotel,
            self.authorise,
            self.capture,
            self.charge,
            self.void,
            self.refund,
        ]

    # --- reads and the record ---------------------------------------------------------------

    @activity.defn(name="booking.price_flight")
    async def price_flight(self, selection: FlightSelection) -> PricedFlight | None:
        """The selection priced live at the airline (never from a cache); None if not sold,
        or if it leaves too soon to book (within the carrier's or Yatri's cut-off)."""
        for offer in await self._fares.search(fare_query(selection)):
            if (offer.flight_number, offer.fare_family) != (
                selection.flight_number,
                selection.fare_family,
            ):
                continue
            if not offer.bookable(now=self._clock(), cutoff_min=self._cutoff_min):
                return None
            return priced_flight(selection, offer, cutoff_min=self._cutoff_min)
        return None

    def _still_sold(self, flight: PricedFlight) -> None:
        """Refuse, for good, a flight whose sales closed while the booking waited."""
        closes = flight.booking_closes or booking_closes(
            flight.departure, cutoff_min=self._cutoff_min
        )
        now = self._clock()
        if now > closes:
            departed = now >= flight.departure
            raise ApplicationError(
                f"{flight.selection.flight_number} "
                + ("has departed" if departed else "leaves too soon to book")
                + f": sales closed at {closes.isoformat()}",
                type="flight-departed" if departed else "booking-closed",
                non_retryable=True,
            )

    @activity.defn(name="booking.load")
    async def load_booking(self, booking_id: str) -> BookingRecord:
        record = await self._store.get(booking_id)
        if record is None:
            raise ApplicationError(f"no booking {booking_id}", type="not-found", non_retryable=True)
        return record

    @activity.defn(name="booking.record")
    async def record(self, change: Transition) -> None:
        """Write a status change; the workflow retries it until done, and past
        RECORD_ALERT_ATTEMPTS each failed try raises the stuck-booking alert."""
        try:
            await self._store.transition(
                booking_id=change.booking_id,
                step=change.step,
                status=change.status,
                detail=change.detail,
                price=change.price,
                departure=change.departure,
                flight=change.flight,
                hotel=change.hotel,
                paid_delta_paise=change.paid_delta_paise,
                refs=change.refs,
            )
        except BaseException:  # a timeout's cancellation is a failed try too
            attempt = activity.info().attempt
            if attempt >= RECORD_ALERT_ATTEMPTS:
                BOOKING_RECORD_STUCK.labels(change.kind).inc()
                log.error("booking record stuck", booking_id=change.booking_id,
                          step=change.step, status=change.status.value, attempt=attempt,
                          exc_info=True)  # fmt: skip
            raise
        if change.step.endswith(":end"):
            BOOKING_OUTCOMES.labels(
                change.kind, change.status.value, change.failed_step or ""
            ).inc()

    # --- the airline ------------------------------------------------------------------------

    @activity.defn(name="booking.hold_flight")
    async def hold_flight(self, args: StepArgs) -> StepResult:
        flight = args.flight
        if flight is None:
            raise ApplicationError("no flight to hold", type="bad-step", non_retryable=True)
        self._still_sold(flight)
        hold = await _business(
            lambda: self._airline.hold(
                key=args.key,
                flight_number=flight.selection.flight_number,
                departure=flight.departure,
                seats=flight.selection.seats,
                price_paise=flight.price.total_paise,
                ttl_s=args.ttl_s,
            )
        )
        return StepResult(reference=hold.hold_id)

    @activity.defn(name="booking.issue_ticket")
    async def issue_ticket(self, args: StepArgs) -> StepResult:
        hold_key = _require(args.on_key, "hold key")
        if args.flight is not None:  # absent only in workflows started before it was passed
            self._still_sold(args.flight)
        ticket = await _business(lambda: self._airline.issue(key=args.key, hold_key=hold_key))
        return StepResult(reference=ticket.ticket_number)

    @activity.defn(name="booking.release_flight")
    async def release_flight(self, args: StepArgs) -> StepResult:
        hold_key = _require(args.on_key, "hold key")
        done = await _business(lambda: self._airline.release(key=args.key, hold_key=hold_key))
        return _undone("release_flight", done)

    @activity.defn(name="booking.cancel_ticket")
    async def cancel_ticket(self, args: StepArgs) -> StepResult:
        issue_key = _require(args.on_key, "ticket key")
        done = await _business(
            lambda: self._airline.cancel_ticket(key=args.key, issue_key=issue_key)
        )
        return _undone("cancel_ticket", done)

    # --- the hotel --------------------------------------------------------------------------

    @activity.defn(name="booking.price_hotel")
    async def price_hotel(self, selection: HotelSelection) -> PricedHotel | None:
        """The stay priced live by the hotel supplier, with the room type it prices (the
        cheapest with rooms every night when none is chosen); None when it sells no such
        hotel, a non-retryable sold-out failure when the rooms are not there."""
        try:
            price = await _business(
                lambda: self._hotel.price(
                    hotel_id=selection.hotel_id,
                    check_in=selection.check_in,
                    nights=selection.nights,
                    rooms=selection.rooms,
                    room_type=selection.room_type,
                )
            )
        except ApplicationError as e:
            _count_mismatch(e)
            raise
        if price is None:
            return None
        if price.total_paise != selection.price_paise:
            HOTEL_CHECKOUT_MISMATCHES.labels("price_moved").inc()
        return PricedHotel(selection=selection.model_copy(update={"room_type": price.room_type}),
                           name=price.hotel_name, total_paise=price.total_paise)  # fmt: skip

    @activity.defn(name="booking.hold_hotel")
    async def hold_hotel(self, args: StepArgs) -> StepResult:
        hotel = args.hotel
        if hotel is None:
            raise ApplicationError("no hotel to hold", type="bad-step", non_retryable=True)
        try:
            hold = await _business(
                lambda: self._hotel.hold(
                    key=args.key,
                    hotel_id=hotel.hotel_id,
                    check_in=hotel.check_in,
                    nights=hotel.nights,
                    rooms=hotel.rooms,
                    price_paise=hotel.price_paise,
                    ttl_s=args.ttl_s,
                    room_type=hotel.room_type,
                )
            )
        except ApplicationError as e:  # moved or sold since it was priced, a moment ago
            _count_mismatch(e)
            raise
        return StepResult(reference=hold.hold_id)

    @activity.defn(name="booking.confirm_hotel")
    async def confirm_hotel(self, args: StepArgs) -> StepResult:
        hold_key = _require(args.on_key, "hold key")
        done = await _business(lambda: self._hotel.confirm(key=args.key, hold_key=hold_key))
        return StepResult(reference=done.confirmation_number)

    @activity.defn(name="booking.release_hotel")
    async def release_hotel(self, args: StepArgs) -> StepResult:
        hold_key = _require(args.on_key, "hold key")
        done = await _business(lambda: self._hotel.release(key=args.key, hold_key=hold_key))
        return _undone("release_hotel", done)

    @activity.defn(name="booking.cancel_hotel")
    async def cancel_hotel(self, args: StepArgs) -> StepResult:
        confirm_key = _require(args.on_key, "confirmation key")
        done = await _business(lambda: self._hotel.cancel(key=args.key, confirm_key=confirm_key))
        return _undone("cancel_hotel", done)

    # --- payments ---------------------------------------------------------------------------

    @activity.defn(name="booking.authorise")
    async def authorise(self, args: StepArgs) -> StepResult:
        auth = await _business(
            lambda: self._payments.authorise(
                key=args.key, payer=args.payer, amount_paise=args.amount_paise
            )
        )
        return StepResult(reference=auth.auth_id, amount_paise=auth.amount_paise)

    @activity.defn(name="booking.capture")
    async def capture(self, args: StepArgs) -> StepResult:
        auth_key = _require(args.on_key, "authorisation key")
        done = await _business(
            lambda: self._payments.capture(
                key=args.key, auth_key=auth_key, amount_paise=args.amount_paise
            )
        )
        return StepResult(reference=done.capture_id, amount_paise=done.amount_paise)

    @activity.defn(name="booking.charge")
    async def charge(self, args: StepArgs) -> StepResult:
        done = await _business(
            lambda: self._payments.charge(
                key=args.key, payer=args.payer, amount_paise=args.amount_paise
            )
        )
        return StepResult(reference=done.capture_id, amount_paise=done.amount_paise)

    @activity.defn(name="booking.void")
    async def void(self, args: StepArgs) -> StepResult:
        auth_key = _require(args.on_key, "authorisation key")
        done = await _business(lambda: self._payments.void(key=args.key, auth_key=auth_key))
        return _undone("void", done)

    @activity.defn(name="booking.refund")
    async def refund(self, args: StepArgs) -> StepResult:
        auth_key = _require(args.on_key, "payment key")
        done = await _business(
            lambda: self._payments.refund(
                key=args.key, auth_key=auth_key, amount_paise=args.amount_paise
            )
        )
        if done.amount_paise:
            BOOKING_COMPENSATIONS.labels("refund").inc()
        return StepResult(
            reference=done.refund_id, amount_paise=done.amount_paise, done=done.amount_paise > 0
        )


_MISMATCHES = {SoldOutError.problem_type: "sold_out", PriceChangedError.problem_type: "price_moved"}


def _count_mismatch(error: ApplicationError) -> None:
    reason = _MISMATCHES.get(error.type or "")
    if reason is not None:
        HOTEL_CHECKOUT_MISMATCHES.labels(reason).inc()


def _undone(step: str, done: bool) -> StepResult:
    if done:
        BOOKING_COMPENSATIONS.labels(step).inc()
    return StepResult(done=done)
