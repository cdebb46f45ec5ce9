"""Bookings over HTTP: book, read, list, change and cancel, each change idempotent."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import BookingActor, BookingActorDep
from api.deps import Services, ServicesDep
from api.idempotency import IDEMPOTENCY_HEADER_DOC, Handler, idempotent
from api.problems import PROBLEM_RESPONSES
from bookings.models import (
    BookingRecord,
    Contact,
    FlightSelection,
    HotelSelection,
    Outcome,
    Traveller,
)
from bookings.service import BookingAnswer, BookingOrder, BookingService, booking_id_for
from core.errors import DependencyUnavailableError, ForbiddenError, InvalidRequestError
from core.redaction import redact_text

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])

IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", description=IDEMPOTENCY_HEADER_DOC)
]


class BookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flight: FlightSelection | None = None
    hotel: HotelSelection | None = None
    expected_total_paise: int = Field(
        gt=0, description="The total the traveller agreed to; a different live price stops "
        "the booking with status price_changed before any money moves."
    )  # fmt: skip
    travellers: list[Traveller] = Field(min_length=1, max_length=9)
    contact: Contact


class ModifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_date: dt.date | None = Field(default=None, description="Move the flight to this date.")
    new_flight_number: str | None = Field(default=None, min_length=3, max_length=8)
    travellers: list[Traveller] | None = Field(
        default=None, max_length=9,
        description="Corrected passenger names (all of them, in booking order): a spelling "
        "fix of up to 3 letters a name, free; anything more is refused.",
    )  # fmt: skip
    expected_change_paise: int | None = Field(
        default=None, description="What the traveller agreed to pay (negative: be refunded) "
        "for the change, fee included; omit to accept the quoted amount."
    )  # fmt: skip


class BookingView(BaseModel):
    booking_id: str
    status: str
    traveller_id: str
    created_at: dt.datetime
    updated_at: dt.datetime
    flight: dict[str, Any] | None
    hotel: dict[str, Any] | None
    departure: dt.datetime | None
    price: dict[str, Any] | None
    paid_paise: int
    references: dict[str, Any]
    travellers: list[dict[str, str]]
    contact: dict[str, str] | None = Field(description="Masked: the traveller's own app shows it.")
    history: list[dict[str, Any]]
    outcome: dict[str, Any] | None = Field(
        default=None, description="How the last workflow ended (absent while it runs)."
    )


def booking_view(record: BookingRecord, outcome: Outcome | None = None) -> dict[str, Any]:
    refs = record.refs
    return BookingView(
        booking_id=record.booking_id,
        status=record.status.value,
        traveller_id=record.traveller_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
        flight=record.flight.model_dump(mode="json") if record.flight else None,
        hotel=record.hotel.model_dump(mode="json") if record.hotel else None,
        departure=record.departure,
        price=record.price.model_dump(mode="json") if record.price else None,
        paid_paise=record.paid_paise,
        references={
            "pnr": refs.hold_id,
            "ticket_number": refs.ticket_number,
            "hotel_confirmation": refs.hotel_confirmation,
            "payment": refs.payment_auth_id,
        },
        travellers=[t.model_dump() for t in record.travellers],
        contact={
            "email": redact_text(record.contact.email),
            "phone": redact_text(record.contact.phone),
        }
        if record.contact
        else None,
        history=[h.model_dump(mode="json") for h in record.history],
        outcome=outcome.model_dump(mode="json", exclude={"booking_id"}) if outcome else None,
    ).model_dump(mode="json")


def _service(services: Services) -> BookingService:
    service = services.bookings
    if service is None:
        raise DependencyUnavailableError("bookings are not available on this server")
    return service


def _answer(answer: BookingAnswer, *, created: bool) -> tuple[int, dict[str, Any]]:
    if answer.outcome is None:
        return 202, booking_view(answer.record)
    return (201 if created else 200), booking_view(answer.record, answer.outcome)


@router.post(
    "",
    status_code=201,
    response_model=BookingView,
    responses={**PROBLEM_RESPONSES, 202: {"description": "Accepted; still running."}},
    summary="Book a flight, a hotel, or both",
    description="Reprices live, holds, authorises, tickets and captures on a durable "
    "workflow, or compensates every step. 201 with the final status (`confirmed`, `failed` "
    "or `price_changed`), or 202 when it is still running after the wait; poll GET.",
)
async def create_booking(
    body: BookRequest,
    request: Request,
    services: ServicesDep,
    actor: BookingActorDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def handle() -> tuple[int, dict[str, Any]]:
        service = _service(services)
        answer = await service.book(
            booking_id=booking_id_for(actor=actor.name, idempotency_key=idempotency_key or ""),
            traveller_id=actor.traveller_id,
            order=BookingOrder(
                expected_total_paise=body.expected_total_paise,
                travellers=tuple(body.travellers),
                contact=body.contact,
                flight=body.flight,
                hotel=body.hotel,
            ),
        )
        return _answer(answer, created=True)

    return await _idempotent(request, services, actor, idempotency_key, handle)


@router.get("", response_model=list[BookingView], responses=PROBLEM_RESPONSES,
            summary="A traveller's bookings, newest first")  # fmt: skip
async def list_bookings(
    services: ServicesDep,
    actor: BookingActorDep,
    traveller: Annotated[str, Query(min_length=1, max_length=128)],
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[dict[str, Any]]:
    if traveller != actor.traveller_id:
        raise ForbiddenError("a caller may list only the bookings of the traveller it acts for")
    records = await _service(services).list_for(traveller, limit=limit)
    return [booking_view(r) for r in records]


@router.get("/{booking_id}", response_model=BookingView, responses=PROBLEM_RESPONSES,
            summary="One booking, with its status history")  # fmt: skip
async def get_booking(
    booking_id: str, services: ServicesDep, actor: BookingActorDep
) -> dict[str, Any]:
    record = await _service(services).get(booking_id, traveller_id=actor.traveller_id)
    return booking_view(record)


@router.post("/{booking_id}/modify", response_model=BookingView, responses=PROBLEM_RESPONSES,
             summary="Move a confirmed flight to another date or flight, or correct passenger names")  # fmt: skip
async def modify_booking(
    booking_id: str,
    body: ModifyRequest,
    request: Request,
    services: ServicesDep,
    actor: BookingActorDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def handle() -> tuple[int, dict[str, Any]]:
        service = _service(services)
        if body.travellers is not None:
            if body.new_date is not None:
                raise InvalidRequestError("correct names and change dates in separate requests")
            corrected = await service.correct_names(
                booking_id=booking_id,
                traveller_id=actor.traveller_id,
                request_id=_request_id(idempotency_key),
                travellers=tuple(body.travellers),
            )
            return _answer_now(corrected)
        if body.new_date is None:
            raise InvalidRequestError("send new_date (a date change) or travellers (a name fix)")
        answer = await service.modify(
            booking_id=booking_id,
            traveller_id=actor.traveller_id,
            request_id=_request_id(idempotency_key),
            new_date=body.new_date,
            new_flight_number=body.new_flight_number,
            expected_total_paise=body.expected_change_paise,
        )
        return _answer(answer, created=False)

    return await _idempotent(request, services, actor, idempotency_key, handle)


@router.post("/{booking_id}/cancel", response_model=BookingView, responses=PROBLEM_RESPONSES,
             summary="Cancel a confirmed booking (the fare rules' fee applies)")  # fmt: skip
async def cancel_booking(
    booking_id: str,
    request: Request,
    services: ServicesDep,
    actor: BookingActorDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def handle() -> tuple[int, dict[str, Any]]:
        answer = await _service(services).cancel(
            booking_id=booking_id, traveller_id=actor.traveller_id
        )
        return _answer(answer, created=False)

    return await _idempotent(request, services, actor, idempotency_key, handle)


def _answer_now(answer: BookingAnswer) -> tuple[int, dict[str, Any]]:
    return 200, booking_view(answer.record)


def _request_id(idempotency_key: str | None) -> str:
    return hashlib.blake2b((idempotency_key or "").encode(), digest_size=8).hexdigest()


async def _idempotent(
    request: Request,
    services: Services,
    actor: BookingActor,
    key: str | None,
    handle: Handler,
) -> Response:
    return await idempotent(
        request,
        redis=services.redis,
        namespace=services.settings.redis_namespace,
        actor=actor.name,
        key=key,
        handle=handle,
    )
