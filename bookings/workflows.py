"""Temporal workflows. Deterministic: no I/O, no clocks, no randomness outside the SDK's own.

Book, modify and cancel are sagas. Before each forward step the workflow pushes the step that
undoes it, keyed by the forward step's idempotency key; on a failure the stack unwinds in
reverse. Pushing first means a step whose answer was lost (it happened, we never heard) is
still undone, and undoing a step that never happened is a no-op at the supplier.
Compensations retry until they succeed: giving up on one would leave money or inventory stuck.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from bookings.activities import PROBE_ACTIVITY
    from bookings.models import (
        BookingRecord,
        BookingStatus,
        BookInput,
        CancelInput,
        FlightSelection,
        HotelSelection,
        ModifyInput,
        Outcome,
        PriceBreakdown,
        PricedFlight,
        PricedHotel,
        StepArgs,
        StepResult,
        SupplierRefs,
        Transition,
    )
    from bookings.rules import cancellation, change_cost, hours_until
    from core.errors import InvalidRequestError

FORWARD = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=5,
)
# Compensations and bookkeeping never give up: a stuck refund pages someone, a dropped one
# loses a traveller's money.
UNTIL_DONE = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=0,
)
STEP_TIMEOUT = timedelta(seconds=15)


@workflow.defn(name="WorkerProbe")
class WorkerProbeWorkflow:
    """One activity hop through a live worker: proves the task queue is being served."""

    @workflow.run
    async def run(self, nonce: str) -> str:
        result: str = await workflow.execute_activity(
            PROBE_ACTIVITY, nonce, start_to_close_timeout=timedelta(seconds=10)
        )
        return result


@dataclass(slots=True)
class _Undo:
    activity: str
    args: StepArgs


class _Saga:
    """Steps of one workflow run: forward steps with retries, and the stack that undoes them."""

    def __init__(self, workflow_id: str) -> None:
        self._id = workflow_id
        self._undo: list[_Undo] = []
        self.step = "start"

    def key(self, step: str) -> str:
        return f"{self._id}:{step}"

    async def do(self, step: str, activity: str, args: StepArgs) -> StepResult:
        self.step = step
        return await _run(activity, args, retry=FORWARD)

    def on_failure(self, activity: str, args: StepArgs) -> None:
        self._undo.append(_Undo(activity, args))

    def forget(self) -> None:
        """The steps so far are the traveller's now; a later failure must not undo them."""
        self._undo.clear()

    async def unwind(self) -> None:
        while self._undo:
            undo = self._undo.pop()
            await _run(undo.activity, undo.args, retry=UNTIL_DONE)


async def _run(activity: str, args: Any, *, retry: RetryPolicy) -> StepResult:
    result: StepResult = await workflow.execute_activity(
        activity,
        args,
        start_to_close_timeout=STEP_TIMEOUT,
        retry_policy=retry,
        result_type=StepResult,
    )
    return result


async def _record(change: Transition) -> None:
    # Local activities: the record lives beside the worker, so a round trip through the
    # Temporal server per write would only add latency. They are still recorded in history.
    await workflow.execute_local_activity(
        "booking.record", change, start_to_close_timeout=STEP_TIMEOUT, retry_policy=UNTIL_DONE
    )


async def _price(selection: FlightSelection) -> PricedFlight | None:
    priced: PricedFlight | None = await workflow.execute_activity(
        "booking.price_flight",
        selection,
        start_to_close_timeout=STEP_TIMEOUT,
        retry_policy=FORWARD,
        result_type=PricedFlight | None,  # type: ignore[arg-type]
    )
    return priced


async def _price_hotel(selection: HotelSelection) -> PricedHotel | None:
    priced: PricedHotel | None = await workflow.execute_activity(
        "booking.price_hotel",
        selection,
        start_to_close_timeout=STEP_TIMEOUT,
        retry_policy=FORWARD,
        result_type=PricedHotel | None,  # type: ignore[arg-type]
    )
    return priced


async def _load(booking_id: str) -> BookingRecord:
    record: BookingRecord = await workflow.execute_local_activity(
        "booking.load",
        booking_id,
        start_to_close_timeout=STEP_TIMEOUT,
        retry_policy=FORWARD,
        result_type=BookingRecord,
    )
    return record


def _price_now(error: ActivityError) -> int | None:
    """The supplier's price now, when it declined because the price moved."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type == "price-changed" and cause.details:
        now = cause.details[0]
        return now if isinstance(now, int) else None
    return None


def _reason(error: ActivityError) -> str:
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return f"{cause.type or 'error'}: {cause.message}"
    return str(cause or error)


BOOK_WORKFLOW = "BookTrip"
MODIFY_WORKFLOW = "ModifyTrip"
CANCEL_WORKFLOW = "CancelTrip"


@workflow.defn(name=BOOK_WORKFLOW)
class BookWorkflow:
    """Reprice live -> hold -> authorise -> ticket / confirm -> capture; unwind on failure."""

    @workflow.run
    async def run(self, inp: BookInput) -> Outcome:
        saga = _Saga(inp.booking_id)
        refs = SupplierRefs()
        total = 0
        price: PriceBreakdown | None = None
        priced: PricedFlight | None = None
        hotel: HotelSelection | None = None
        try:
            if inp.flight is not None:
                saga.step = "reprice"
                priced = await _price(inp.flight)
                if priced is None:
                    return await self._end(inp, BookingStatus.FAILED, "the fare is no longer sold",
                                           failed_step="reprice")  # fmt: skip
                price = priced.price
                total += priced.price.total_paise
            if inp.hotel is not None:
                saga.step = "hotel_price"
                priced_hotel = await _price_hotel(inp.hotel)
                if priced_hotel is None:
                    return await self._end(inp, BookingStatus.FAILED,
                                           f"no hotel {inp.hotel.hotel_id} is sold",
                                           failed_step="hotel_price")  # fmt: skip
                # The supplier's price, never the client's: the client's figure only says what
                # the traveller agreed to, and the total below compares with that. The room
                # type is the one the supplier priced (its cheapest, when none was chosen).
                hotel = priced_hotel.selection.model_copy(
                    update={"price_paise": priced_hotel.total_paise}
                )
                total += hotel.price_paise
                price = _add_hotel(price, hotel.price_paise)
            if total != inp.expected_total_paise:
                # Never book at a price the traveller did not agree to: stop before money moves.
                await _record(Transition(
                    booking_id=inp.booking_id, step="book:end", status=BookingStatus.PRICE_CHANGED,
                    detail=f"price is now {total} paise, not {inp.expected_total_paise}",
                    price=price, hotel=hotel, failed_step="reprice",
                ))  # fmt: skip
                return Outcome(booking_id=inp.booking_id, status=BookingStatus.PRICE_CHANGED,
                               detail="the price changed; confirm the new price to book",
                               new_total_paise=total)  # fmt: skip

            if priced is not None:
                hold_key = saga.key("hold")
                saga.on_failure("booking.release_flight",
                                StepArgs(key=saga.key("release"), on_key=hold_key))  # fmt: skip
                hold = await saga.do("hold", "booking.hold_flight",
                                     StepArgs(key=hold_key, flight=priced, ttl_s=inp.hold_ttl_s))  # fmt: skip
                refs = refs.model_copy(update={"hold_id": hold.reference, "hold_key": hold_key})
            if hotel is not None:
                room_key = saga.key("hotel-hold")
                saga.on_failure("booking.release_hotel",
                                StepArgs(key=saga.key("hotel-release"), on_key=room_key))  # fmt: skip
                await saga.do("hotel_hold", "booking.hold_hotel",
                              StepArgs(key=room_key, hotel=hotel, ttl_s=inp.hold_ttl_s))  # fmt: skip

            auth_key = saga.key("authorise")
            saga.on_failure("booking.void", StepArgs(key=saga.key("void"), on_key=auth_key))
            auth = await saga.do("authorise", "booking.authorise",
                                 StepArgs(key=auth_key, payer=inp.traveller_id, amount_paise=total))  # fmt: skip
            refs = refs.model_copy(update={"payment_auth_id": auth.reference, "auth_key": auth_key,
                                           "payment_keys": (auth_key,)})  # fmt: skip

            if priced is not None:
                issue_key = saga.key("ticket")
                saga.on_failure("booking.cancel_ticket",
                                StepArgs(key=saga.key("ticket-cancel"), on_key=issue_key))  # fmt: skip
                ticket = await saga.do("ticket", "booking.issue_ticket",
                                       StepArgs(key=issue_key, on_key=refs.hold_key,
                                                flight=priced))  # fmt: skip
                refs = refs.model_copy(update={"ticket_number": ticket.reference,
                                               "issue_key": issue_key})  # fmt: skip
            if hotel is not None:
                confirm_key = saga.key("hotel-confirm")
                saga.on_failure("booking.cancel_hotel",
                                StepArgs(key=saga.key("hotel-cancel"), on_key=confirm_key))  # fmt: skip
                confirmation = await saga.do("hotel_confirm", "booking.confirm_hotel",
                                             StepArgs(key=confirm_key, on_key=saga.key("hotel-hold")))  # fmt: skip
                refs = refs.model_copy(update={"hotel_confirmation": confirmation.reference,
                                               "confirm_key": confirm_key})  # fmt: skip

            saga.on_failure("booking.refund", StepArgs(key=saga.key("refund"), on_key=auth_key,
                                                       amount_paise=total))  # fmt: skip
            await saga.do("capture", "booking.capture",
                          StepArgs(key=saga.key("capture"), on_key=auth_key, amount_paise=total))  # fmt: skip
        except ActivityError as e:
            failed = saga.step
            await saga.unwind()
            moved = _price_now(e)
            if moved is not None and hotel is not None:
                # The room's price moved between the live check and the hold: the same stop
                # as a fare change, nothing held or charged.
                total += moved - hotel.price_paise
                hotel = hotel.model_copy(update={"price_paise": moved})
                await _record(Transition(
                    booking_id=inp.booking_id, step="book:end", status=BookingStatus.PRICE_CHANGED,
                    detail=f"price is now {total} paise, not {inp.expected_total_paise}",
                    price=_add_hotel(priced.price if priced else None, moved), hotel=hotel,
                    failed_step=failed,
                ))  # fmt: skip
                return Outcome(booking_id=inp.booking_id, status=BookingStatus.PRICE_CHANGED,
                               detail="the price changed; confirm the new price to book",
                               new_total_paise=total)  # fmt: skip
            return await self._end(inp, BookingStatus.FAILED, _reason(e), failed_step=failed)
        await _record(Transition(
            booking_id=inp.booking_id, step="book:end", status=BookingStatus.CONFIRMED,
            price=price, departure=priced.departure if priced else None, hotel=hotel,
            paid_delta_paise=total, refs=refs,
        ))  # fmt: skip
        return Outcome(booking_id=inp.booking_id, status=BookingStatus.CONFIRMED)

    async def _end(
        self, inp: BookInput, status: BookingStatus, detail: str, *, failed_step: str
    ) -> Outcome:
        await _record(Transition(booking_id=inp.booking_id, step="book:end", status=status,
                                 detail=detail, failed_step=failed_step))  # fmt: skip
        return Outcome(booking_id=inp.booking_id, status=status, detail=detail,
                       failed_step=failed_step)  # fmt: skip


def _add_hotel(price: PriceBreakdown | None, hotel_paise: int) -> PriceBreakdown:
    if price is None:
        return PriceBreakdown(base_paise=hotel_paise, taxes_paise=0, fees_paise=0,
                              total_paise=hotel_paise)  # fmt: skip
    return price.model_copy(update={"base_paise": price.base_paise + hotel_paise,
                                    "total_paise": price.total_paise + hotel_paise})  # fmt: skip


@workflow.defn(name=MODIFY_WORKFLOW)
class ModifyWorkflow:
    """Move a flight to another date: reprice, hold the new, settle the difference plus the
    change fee, ticket the new, then cancel the old. Until the new ticket exists any failure
    unwinds the new side and leaves the original booking as it was: the traveller always
    holds exactly one valid itinerary."""

    @workflow.run
    async def run(self, inp: ModifyInput) -> Outcome:
        info = workflow.info()
        saga = _Saga(info.workflow_id)
        record = await _load(inp.booking_id)
        old = record.flight
        if record.status is not BookingStatus.CONFIRMED or old is None or record.price is None:
            return Outcome(booking_id=inp.booking_id, status=record.status,
                           detail="only a confirmed flight booking can be changed",
                           failed_step="load")  # fmt: skip
        departure = record.departure or workflow.now()
        wanted = old.model_copy(update={"date": inp.new_date,
                                        "flight_number": inp.new_flight_number or old.flight_number})  # fmt: skip
        priced = await _price(wanted)
        if priced is None:
            return Outcome(booking_id=inp.booking_id, status=record.status,
                           detail="that flight is not sold on that date", failed_step="reprice")  # fmt: skip
        try:
            cost = change_cost(fare_family=old.fare_family, seats=old.seats,
                               hours_to_departure=hours_until(departure, now=workflow.now()),
                               old_total_paise=record.price.total_paise,
                               new_total_paise=priced.price.total_paise)  # fmt: skip
        except InvalidRequestError as e:
            return Outcome(booking_id=inp.booking_id, status=record.status, detail=e.detail,
                           failed_step="rules")  # fmt: skip
        fee, due = cost.fee_paise, cost.due_paise
        if inp.expected_total_paise is not None and due != inp.expected_total_paise:
            return Outcome(booking_id=inp.booking_id, status=BookingStatus.PRICE_CHANGED,
                           detail=f"the change now costs {due} paise including the fee",
                           new_total_paise=due)  # fmt: skip

        await _record(Transition(booking_id=inp.booking_id, step=f"{info.workflow_id}:start",
                                 status=BookingStatus.MODIFYING, kind="modify"))  # fmt: skip
        refs = record.refs
        try:
            hold_key = saga.key("hold")
            saga.on_failure("booking.release_flight",
                            StepArgs(key=saga.key("release"), on_key=hold_key))  # fmt: skip
            hold = await saga.do("hold", "booking.hold_flight",
                                 StepArgs(key=hold_key, flight=priced, ttl_s=inp.hold_ttl_s))  # fmt: skip
            payment_keys = refs.payment_keys
            if due > 0:
                charge_key = saga.key("charge")
                saga.on_failure("booking.refund", StepArgs(key=saga.key("charge-refund"),
                                                           on_key=charge_key, amount_paise=due))  # fmt: skip
                await saga.do("charge", "booking.charge",
                              StepArgs(key=charge_key, payer=inp.traveller_id, amount_paise=due))  # fmt: skip
                payment_keys = (*payment_keys, charge_key)
            issue_key = saga.key("ticket")
            saga.on_failure("booking.cancel_ticket",
                            StepArgs(key=saga.key("ticket-cancel"), on_key=issue_key))  # fmt: skip
            ticket = await saga.do("ticket", "booking.issue_ticket",
                                   StepArgs(key=issue_key, on_key=hold_key, flight=priced))  # fmt: skip
        except ActivityError as e:
            failed = saga.step
            await saga.unwind()
            detail = f"change failed at {failed} ({_reason(e)}); the original booking stands"
            await _record(Transition(booking_id=inp.booking_id, step=info.workflow_id + ":end",
                                     status=BookingStatus.CONFIRMED, detail=detail, kind="modify",
                                     failed_step=failed))  # fmt: skip
            return Outcome(booking_id=inp.booking_id, status=BookingStatus.CONFIRMED,
                           detail=detail, failed_step=failed)  # fmt: skip
        # The new itinerary is ticketed and paid for: the old one goes, and nothing undoes that.
        saga.forget()
        await _run("booking.cancel_ticket",
                   StepArgs(key=saga.key("old-ticket-cancel"), on_key=refs.issue_key),
                   retry=UNTIL_DONE)  # fmt: skip
        await _run("booking.release_flight",
                   StepArgs(key=saga.key("old-release"), on_key=refs.hold_key), retry=UNTIL_DONE)  # fmt: skip
        refunded = 0
        if due < 0:
            refunded = await _refund_across(saga, payment_keys, -due, step="difference")
        new_refs = refs.model_copy(update={"hold_id": hold.reference, "hold_key": hold_key,
                                           "ticket_number": ticket.reference,
                                           "issue_key": issue_key, "payment_keys": payment_keys})  # fmt: skip
        await _record(Transition(
            booking_id=inp.booking_id, step=info.workflow_id + ":end",
            status=BookingStatus.CONFIRMED, kind="modify",
            detail=f"moved to {wanted.flight_number} on {wanted.date}; change fee {fee} paise",
            price=priced.price, departure=priced.departure, flight=wanted,
            paid_delta_paise=max(due, 0) - refunded, refs=new_refs,
        ))  # fmt: skip
        return Outcome(booking_id=inp.booking_id, status=BookingStatus.CONFIRMED,
                       new_total_paise=priced.price.total_paise)  # fmt: skip


async def _refund_across(saga: _Saga, keys: tuple[str, ...], amount: int, *, step: str) -> int:
    """Refund `amount` across the booking's payments, newest first; the total refunded."""
    refunded = 0
    for i, key in enumerate(reversed(keys)):
        if refunded >= amount:
            break
        result = await _run("booking.refund",
                            StepArgs(key=saga.key(f"refund-{step}-{i}"), on_key=key,
                                     amount_paise=amount - refunded), retry=UNTIL_DONE)  # fmt: skip
        refunded += result.amount_paise
    return refunded


@workflow.defn(name=CANCEL_WORKFLOW)
class CancelWorkflow:
    """Cancel a confirmed booking: the fare rules' fee by time to departure, the rest refunded,
    the ticket cancelled and the inventory released. Every step retries until done."""

    @workflow.run
    async def run(self, inp: CancelInput) -> Outcome:
        saga = _Saga(workflow.info().workflow_id)
        record = await _load(inp.booking_id)
        if record.status is BookingStatus.CANCELLED:
            return Outcome(booking_id=inp.booking_id, status=BookingStatus.CANCELLED,
                           detail="already cancelled")  # fmt: skip
        if record.status is not BookingStatus.CONFIRMED:
            return Outcome(booking_id=inp.booking_id, status=record.status,
                           detail="only a confirmed booking can be cancelled", failed_step="load")  # fmt: skip
        fee = cancellation_fee(record, now=workflow.now())
        refund = record.paid_paise - fee
        if inp.expected_refund_paise is not None and refund != inp.expected_refund_paise:
            # The fee moved (a fare-rule boundary passed since the quote): nothing is undone.
            return Outcome(booking_id=inp.booking_id, status=BookingStatus.CONFIRMED,
                           detail=f"cancelling now refunds {refund} paise after a fee of {fee} "
                           "paise, not what was quoted", failed_step="quote",
                           new_total_paise=refund)  # fmt: skip
        await _record(Transition(booking_id=inp.booking_id, step="cancel:start",
                                 status=BookingStatus.CANCELLING, kind="cancel"))  # fmt: skip
        refs = record.refs
        if record.flight is not None and record.departure is not None:
            await _run("booking.cancel_ticket",
                       StepArgs(key=saga.key("ticket-cancel"), on_key=refs.issue_key),
                       retry=UNTIL_DONE)  # fmt: skip
            await _run("booking.release_flight",
                       StepArgs(key=saga.key("release"), on_key=refs.hold_key), retry=UNTIL_DONE)  # fmt: skip
        if refs.confirm_key:
            await _run("booking.cancel_hotel",
                       StepArgs(key=saga.key("hotel-cancel"), on_key=refs.confirm_key),
                       retry=UNTIL_DONE)  # fmt: skip
        refunded = await _refund_across(saga, refs.payment_keys, record.paid_paise - fee,
                                        step="cancel")  # fmt: skip
        await _record(Transition(
            booking_id=inp.booking_id, step="cancel:end", status=BookingStatus.CANCELLED, kind="cancel",
            detail=f"cancellation fee {fee} paise; refunded {refunded} paise",
            paid_delta_paise=-refunded,
        ))  # fmt: skip
        return Outcome(booking_id=inp.booking_id, status=BookingStatus.CANCELLED,
                       detail=f"refunded {refunded} paise after a fee of {fee} paise")  # fmt: skip


def cancellation_fee(record: BookingRecord, *, now: datetime) -> int:
    """The fare rules' fee for cancelling `record` at `now` (hotel stays cancel free here)."""
    if record.flight is None or record.departure is None:
        return 0
    base = record.price.base_paise if record.price else 0
    quote = cancellation(fare_family=record.flight.fare_family, base_paise=base,
                         paid_paise=record.paid_paise, seats=record.flight.seats,
                         hours_to_departure=hours_until(record.departure, now=now))  # fmt: skip
    return quote.fee_paise


BOOKING_WORKFLOWS: list[type[Any]] = [BookWorkflow, ModifyWorkflow, CancelWorkflow]
