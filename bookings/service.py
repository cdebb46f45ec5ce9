"""Bookings as the API and the agent tools see them: create the record, run the workflow,
answer from the record. Ownership is checked here, so every caller gets the same rule: a
traveller sees and changes only their own bookings, and another's is simply not found."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from bookings.models import (
    BookingRecord,
    BookingStatus,
    BookInput,
    CancelInput,
    Contact,
    FlightSelection,
    HotelSelection,
    ModifyInput,
    Outcome,
    Traveller,
)
from bookings.rules import check_name_correction
from bookings.store import BookingStore
from bookings.temporal import TemporalClient, run_trip_workflow
from core.errors import ConflictError, InvalidRequestError, NotFoundError


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
        hold_ttl_s: float,
        wait_s: float,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._store = store
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
        if order.flight is not None and len(order.travellers) != order.flight.seats:
            raise InvalidRequestError(
                f"{order.flight.seats} seated passengers need {order.flight.seats} traveller "
                f"names, got {len(order.travellers)}"
            )
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
            wait_s=self._wait_s if wait else None,
        )
        return BookingAnswer(await self.get(booking_id, traveller_id=traveller_id), outcome)

    async def get(self, booking_id: str, *, traveller_id: str) -> BookingRecord:
        record = await self._store.get(booking_id)
        if record is None or record.traveller_id != traveller_id:
            raise NotFoundError(f"no booking {booking_id}")
        return record

    async def list_for(self, traveller_id: str, *, limit: int = 50) -> list[BookingRecord]:
        return await self._store.list_for(traveller_id, limit=limit)

    async def modify(
        self,
        *,
        booking_id: str,
        traveller_id: str,
        request_id: str,
        new_date: dt.date,
        new_flight_number: str | None = None,
        expected_total_paise: int | None = None,
    ) -> BookingAnswer:
        record = await self.get(booking_id, traveller_id=traveller_id)
        if record.status is not BookingStatus.CONFIRMED or record.flight is None:
            raise ConflictError(
                f"booking {booking_id} is {record.status.value}; only a confirmed flight "
                "booking can be changed",
                reason="not-changeable",
            )
        outcome = await run_trip_workflow(
            self._temporal,
            ModifyInput(
                booking_id=booking_id,
                traveller_id=traveller_id,
                new_date=new_date,
                new_flight_number=new_flight_number,
                expected_total_paise=expected_total_paise,
                hold_ttl_s=self._hold_ttl_s,
            ),
            workflow_id=f"{booking_id}:modify:{request_id}",
            task_queue=self._task_queue,
            wait_s=self._wait_s,
        )
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
        await self._store.correct_names(
            booking_id=booking_id, step=f"names:{request_id}", travellers=travellers,
            detail="passenger names corrected",
        )  # fmt: skip
        return BookingAnswer(await self.get(booking_id, traveller_id=traveller_id), None)

    async def cancel(self, *, booking_id: str, traveller_id: str) -> BookingAnswer:
        record = await self.get(booking_id, traveller_id=traveller_id)
        if record.status not in (BookingStatus.CONFIRMED, BookingStatus.CANCELLED,
                                 BookingStatus.CANCELLING):  # fmt: skip
            raise ConflictError(
                f"booking {booking_id} is {record.status.value}; only a confirmed booking "
                "can be cancelled",
                reason="not-cancellable",
            )
        outcome = await run_trip_workflow(
            self._temporal,
            CancelInput(booking_id=booking_id, traveller_id=traveller_id),
            workflow_id=f"{booking_id}:cancel",
            task_queue=self._task_queue,
            wait_s=self._wait_s,
        )
        return BookingAnswer(await self.get(booking_id, traveller_id=traveller_id), outcome)
