"""Bookings over HTTP: book, read, list, quote, change and cancel, each change idempotent.

Routes translate HTTP to `BookingService` calls. Changes and cancellations move money, so
each names a quote (or its exact amount) the traveller saw first. Agent tokens pass the agent
gate (rate limit, audit, and the consent rule: an agent's money-moving call is refused here
and made through the MCP approval flow)."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import BookingActor, require_booking_actor
from api.deps import Services, ServicesDep
from api.idempotency import IDEMPOTENCY_HEADER_DOC, Handler, Resolver, idempotent
from api.problems import PROBLEM_RESPONSES
from bookings.consent import refuse_agent_money_move
from bookings.models import (
    MAX_PAISE,
    BookingStatus,
    Contact,
    FlightSelection,
    HotelSelection,
    Traveller,
)
from bookings.service import BookingAnswer, BookingOrder, BookingService, booking_id_for
from bookings.views import BookingView, QuoteView, booking_view, quote_view
from core.errors import (
    DependencyUnavailableError,
    ForbiddenError,
    InvalidRequestError,
    YatriError,
)

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])

IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", description=IDEMPOTENCY_HEADER_DOC)
]


class BookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flight: FlightSelection | None = None
    hotel: HotelSelection | None = None
    expected_total_paise: int = Field(
        gt=0, le=MAX_PAISE, description="The total the traveller agreed to; a different live price stops "
        "the booking with status price_changed before any money moves."
    )  # fmt: skip
    travellers: list[Traveller] = Field(min_length=1, max_length=9)
    contact: Contact


class ModifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quote_id: str | None = Field(
        default=None, max_length=64, description="The modify quote the traveller agreed to "
        "(`POST /v1/bookings/{id}/modify/quote`); its date, flight and amount are used.",
    )  # fmt: skip
    new_date: dt.date | None = Field(default=None, description="Move the flight to this date.")
    new_flight_number: str | None = Field(default=None, min_length=3, max_length=8)
    travellers: list[Traveller] | None = Field(
        default=None, max_length=9,
        description="Corrected passenger names (all of them, in booking order): a spelling "
        "fix of up to 3 letters a name, free; anything more is refused.",
    )  # fmt: skip
    expected_change_paise: int | None = Field(
        default=None, ge=-MAX_PAISE, le=MAX_PAISE,
        description="Instead of a quote_id: exactly what the traveller agreed to pay for the "
        "change, fee included (negative: be refunded). A date change needs one or the other.",
    )  # fmt: skip


class ModifyQuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_date: dt.date = Field(description="The date to move the flight to.")
    new_flight_number: str | None = Field(
        default=None, min_length=3, max_length=8, description="Another flight that day."
    )


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quote_id: str | None = Field(
        default=None, max_length=64, description="The cancel quote the traveller agreed to."
    )
    expected_refund_paise: int | None = Field(
        default=None, ge=0, le=MAX_PAISE,
        description="Instead of a quote_id: exactly the refund the traveller agreed to.",
    )  # fmt: skip


async def _gated(
    request: Request,
    services: ServicesDep,
    actor: Annotated[BookingActor, Depends(require_booking_actor)],
) -> AsyncIterator[BookingActor]:
    """The caller; for an agent, its rate limit first and an audit row after, whatever the
    outcome."""
    gate = services.agent_gate
    if actor.agent_id is None or gate is None:
        yield actor
        return
    route = request.scope.get("route")
    operation = f"{request.method} {getattr(route, 'path', request.url.path)}"
    started = time.perf_counter()
    error: str | None = None
    try:
        await gate.admit(agent_id=actor.agent_id)
        yield actor
    except YatriError as e:
        error = f"{e.problem_type}: {e.detail}"[:1000]
        raise
    except Exception as e:
        error = type(e).__name__
        raise
    finally:
        await gate.record(
            agent_id=actor.agent_id, traveller_id=actor.traveller_id, operation=operation,
            arguments=_arguments(request), error=error,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )  # fmt: skip


ActorDep = Annotated[BookingActor, Depends(_gated)]


def _arguments(request: Request) -> str:
    """What the audit keeps of a REST call: the path parameters, never the body (names)."""
    params = request.scope.get("path_params") or {}
    return ",".join(f"{k}={str(v)[:64]}" for k, v in sorted(params.items()))


def _service(services: Services) -> BookingService:
    service = services.bookings
    if service is None:
        raise DependencyUnavailableError("bookings are not available on this server")
    return service


def _answer(answer: BookingAnswer, *, created: bool) -> tuple[int, dict[str, Any]]:
    if answer.outcome is None:
        return 202, booking_view(answer.record)
    return (201 if created else 200), booking_view(answer.record, answer.outcome)


_FINAL = {BookingStatus.CONFIRMED, BookingStatus.FAILED, BookingStatus.PRICE_CHANGED}


@router.post(
    "",
    status_code=201,
    response_model=BookingView,
    responses={**PROBLEM_RESPONSES, 202: {"description": "Accepted; still running."}},
    summary="Book a flight, a hotel, or both",
    description="Reprices live (flight at the airline, stay at the hotel supplier), holds, "
    "authorises, tickets and captures on a durable workflow, or compensates every step. 201 "
    "with the final status (`confirmed`, `failed` or `price_changed`), or 202 when it is "
    "still running after the wait; poll GET. Agents book through the MCP approval flow.",
)
async def create_booking(
    body: BookRequest,
    request: Request,
    services: ServicesDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    refuse_agent_money_move(agent_id=actor.agent_id, operation="a booking")
    booking_id = booking_id_for(actor=actor.name, idempotency_key=idempotency_key or "")

    async def handle() -> tuple[int, dict[str, Any]]:
        service = _service(services)
        answer = await service.book(
            booking_id=booking_id,
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

    async def resolve() -> tuple[int, dict[str, Any]] | None:
        """The booking this key made, once it has its final status."""
        record = await _service(services).store.get(booking_id)
        if record is None or record.traveller_id != actor.traveller_id:
            return None
        if record.status not in _FINAL:
            return None
        return 201, booking_view(record)

    return await _idempotent(request, services, actor, idempotency_key, handle, resolve)


@router.get("", response_model=list[BookingView], responses=PROBLEM_RESPONSES,
            summary="A traveller's bookings, newest first")  # fmt: skip
async def list_bookings(
    services: ServicesDep,
    actor: ActorDep,
    traveller: Annotated[str, Query(min_length=1, max_length=128)],
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[dict[str, Any]]:
    if traveller != actor.traveller_id:
        raise ForbiddenError("a caller may list only the bookings of the traveller it acts for")
    records = await _service(services).list_for(traveller, limit=limit)
    return [booking_view(r) for r in records]


@router.get("/{booking_id}", response_model=BookingView, responses=PROBLEM_RESPONSES,
            summary="One booking, with its status history")  # fmt: skip
async def get_booking(booking_id: str, services: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    record = await _service(services).get(booking_id, traveller_id=actor.traveller_id)
    return booking_view(record)


@router.post(
    "/{booking_id}/modify/quote", response_model=QuoteView, responses=PROBLEM_RESPONSES,
    summary="What moving a flight to another date or flight costs, before anything moves",
    description="Prices the new flight and applies the fare rules' change fee; no side "
    "effects. Send the answer's `quote_id` to `/modify` within `expires_at`.",
)  # fmt: skip
async def quote_modify(
    booking_id: str, body: ModifyQuoteRequest, services: ServicesDep, actor: ActorDep
) -> dict[str, Any]:
    quote = await _service(services).quote_modify(
        booking_id=booking_id, traveller_id=actor.traveller_id, new_date=body.new_date,
        new_flight_number=body.new_flight_number,
    )  # fmt: skip
    return quote_view(quote)


@router.post(
    "/{booking_id}/cancel/quote", response_model=QuoteView, responses=PROBLEM_RESPONSES,
    summary="The fee and refund for cancelling now, before anything moves",
    description="The fare rules' fee by time to departure and the refund; no side effects. "
    "Send the answer's `quote_id` to `/cancel` within `expires_at`.",
)  # fmt: skip
async def quote_cancel(booking_id: str, services: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    quote = await _service(services).quote_cancel(
        booking_id=booking_id, traveller_id=actor.traveller_id
    )
    return quote_view(quote)


@router.post(
    "/{booking_id}/modify", response_model=BookingView, responses=PROBLEM_RESPONSES,
    summary="Move a confirmed flight to another date or flight, or correct passenger names",
    description="A date or flight change needs the `quote_id` of a modify quote (or the exact "
    "`expected_change_paise`); a different amount now is refused (409 `quote-mismatch`, with "
    "the new quote) before any money moves.",
)  # fmt: skip
async def modify_booking(
    booking_id: str,
    body: ModifyRequest,
    request: Request,
    services: ServicesDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    if body.travellers is None:
        refuse_agent_money_move(agent_id=actor.agent_id, operation="a flight change")

    async def handle() -> tuple[int, dict[str, Any]]:
        service = _service(services)
        if body.travellers is not None:
            if body.new_date is not None or body.quote_id is not None:
                raise InvalidRequestError("correct names and change dates in separate requests")
            corrected = await service.correct_names(
                booking_id=booking_id,
                traveller_id=actor.traveller_id,
                request_id=_request_id(idempotency_key),
                travellers=tuple(body.travellers),
            )
            return 200, booking_view(corrected.record)
        answer = await service.modify(
            booking_id=booking_id,
            traveller_id=actor.traveller_id,
            request_id=_request_id(idempotency_key),
            quote_id=body.quote_id,
            new_date=body.new_date,
            new_flight_number=body.new_flight_number,
            expected_change_paise=body.expected_change_paise,
        )
        return _answer(answer, created=False)

    return await _idempotent(request, services, actor, idempotency_key, handle)


@router.post(
    "/{booking_id}/cancel", response_model=BookingView, responses=PROBLEM_RESPONSES,
    summary="Cancel a confirmed booking at its quoted refund",
    description="Needs the `quote_id` of a cancel quote (or the exact `expected_refund_paise`): "
    "the fare rules' fee applies by time to departure, and a fee that moved since the quote is "
    "refused (409 `quote-mismatch`) before anything is undone.",
)  # fmt: skip
async def cancel_booking(
    booking_id: str,
    request: Request,
    services: ServicesDep,
    actor: ActorDep,
    body: CancelRequest | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    refuse_agent_money_move(agent_id=actor.agent_id, operation="a cancellation")
    agreed = body or CancelRequest()

    async def handle() -> tuple[int, dict[str, Any]]:
        answer = await _service(services).cancel(
            booking_id=booking_id, traveller_id=actor.traveller_id, quote_id=agreed.quote_id,
            expected_refund_paise=agreed.expected_refund_paise,
        )  # fmt: skip
        return _answer(answer, created=False)

    return await _idempotent(request, services, actor, idempotency_key, handle)


def _request_id(idempotency_key: str | None) -> str:
    return hashlib.blake2b((idempotency_key or "").encode(), digest_size=8).hexdigest()


async def _idempotent(
    request: Request,
    services: Services,
    actor: BookingActor,
    key: str | None,
    handle: Handler,
    resolve: Resolver | None = None,
) -> Response:
    return await idempotent(
        request,
        idempotency=services.idempotency,
        actor=actor.name,
        key=key,
        handle=handle,
        resolve=resolve,
        # Past the longest a request waits for its workflow, the first request is dead.
        stale_after_s=services.settings.booking_wait_s + 15.0,
    )
