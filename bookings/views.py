"""What a booking and a quote look like to travellers, agents and the conversation: one view
each, built from the models, shared by REST, MCP and the dialogue engine."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from bookings.models import BookingRecord, ChangeQuote, Outcome
from core.money import rupees
from core.redaction import redact_text


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


def booking_data(record: BookingRecord) -> dict[str, Any]:
    """The short form a conversation's `data.booking` carries for a widget."""
    return {
        "booking_id": record.booking_id,
        "status": record.status.value,
        "pnr": record.refs.hold_id,
        "ticket_number": record.refs.ticket_number,
        "paid_paise": record.paid_paise,
        "total_paise": record.price.total_paise if record.price else None,
        "flight": record.flight.model_dump(mode="json") if record.flight else None,
        "departure": record.departure.isoformat() if record.departure else None,
    }


class QuoteView(BaseModel):
    quote_id: str = Field(description="Send it with the change to agree to these figures.")
    kind: str = Field(description="modify or cancel")
    booking_id: str
    expires_at: dt.datetime
    fee_paise: int = Field(description="The fare rules' change or cancellation fee.")
    fare_difference_paise: int = Field(description="New fare minus old (modify only).")
    amount_due_paise: int = Field(description="What the traveller pays; negative: gets back.")
    refund_paise: int = Field(description="What the traveller gets back.")
    new_date: dt.date | None = None
    new_flight_number: str | None = None
    new_departure: dt.datetime | None = None
    new_total_paise: int | None = None
    summary: str = Field(description="The figures in words, to show or say to the traveller.")


def quote_summary(quote: ChangeQuote) -> str:
    """The quote in one or two sentences that read and speak well."""
    if quote.kind == "cancel":
        return (f"Cancelling your booking costs a fee of {rupees(quote.fee_paise)}; you get "
                f"{rupees(quote.refund_paise)} back.")  # fmt: skip
    when = quote.new_date
    day = f"{when:%A} {when.day} {when:%B}" if when else "the new date"
    move = f"Moving your booking to {quote.new_flight_number} on {day}"
    diff = quote.fare_difference_paise
    parts = (f"change fee {rupees(quote.fee_paise)}, fare difference "
             f"{'-' if diff < 0 else ''}{rupees(abs(diff))}")  # fmt: skip
    due = quote.amount_due_paise
    if due >= 0:
        return f"{move} costs {rupees(due)} ({parts})."
    return f"{move} gives you {rupees(-due)} back ({parts})."


def quote_view(quote: ChangeQuote) -> dict[str, Any]:
    return QuoteView(
        quote_id=quote.quote_id, kind=quote.kind, booking_id=quote.booking_id,
        expires_at=quote.expires_at, fee_paise=quote.fee_paise,
        fare_difference_paise=quote.fare_difference_paise,
        amount_due_paise=quote.amount_due_paise, refund_paise=quote.refund_paise,
        new_date=quote.new_date, new_flight_number=quote.new_flight_number,
        new_departure=quote.new_departure, new_total_paise=quote.new_total_paise,
        summary=quote_summary(quote),
    ).model_dump(mode="json")  # fmt: skip
