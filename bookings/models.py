"""Bookings as data: what a traveller asks to book, the durable record, and the payloads the
Temporal workflows and activities exchange (pydantic, so Temporal serialises them as JSON)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from core.party import PassengerType
from hotels.models import RoomType

IATA = r"^[A-Z]{3}$"
# ₹10 crore: far above any trip, far below what a 64-bit integer (and JSON readers) can hold.
# Every amount a client sends is bounded by it, so no amount can overflow a serialiser.
MAX_PAISE = 10**10


class BookingStatus(StrEnum):
    PENDING = "pending"  # accepted; the workflow is running
    PRICE_CHANGED = "price_changed"  # stopped before any money moved; confirm the new price
    CONFIRMED = "confirmed"
    FAILED = "failed"  # compensated: nothing held, nothing charged
    MODIFYING = "modifying"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _absent(value: object) -> bool:
    return value is None


class Traveller(Payload):
    """One named passenger; children and infants carry their date of birth (core/party.py)."""

    first_name: str = Field(min_length=1, max_length=60)
    last_name: str = Field(min_length=1, max_length=60)
    passenger_type: PassengerType | None = Field(
        default=None, exclude_if=_absent,
        description="adult (12 or over on the travel date; the default), child (2 to 11) or "
        "infant (under 2, on an adult's lap).",
    )  # fmt: skip
    date_of_birth: dt.date | None = Field(
        default=None, exclude_if=_absent,
        description="Required for children and infants; their age is judged on the travel date.",
    )  # fmt: skip

    @field_serializer("date_of_birth")
    def _iso_date(self, value: dt.date | None) -> str | None:
        # A string in every dump, so views that hold names as strings keep working.
        return value.isoformat() if value else None


class Contact(Payload):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    phone: str = Field(pattern=r"^\+?[0-9 ]{8,16}$")


class FlightSelection(Payload):
    """One flight and fare family from a search, for a party of passengers."""

    origin: str = Field(pattern=IATA)
    destination: str = Field(pattern=IATA)
    date: dt.date
    flight_number: str = Field(min_length=3, max_length=8)
    fare_family: str = Field(min_length=1, max_length=20)
    cabin: Literal["economy", "premium_economy", "business"] = "economy"
    adults: int = Field(default=1, ge=1, le=9)
    children: int = Field(default=0, ge=0, le=8)
    infants: int = Field(default=0, ge=0, le=4)

    @property
    def seats(self) -> int:
        return self.adults + self.children


class HotelSelection(Payload):
    hotel_id: str = Field(min_length=1, max_length=40)
    check_in: dt.date
    nights: int = Field(ge=1, le=30)
    rooms: int = Field(default=1, ge=1, le=9)
    room_type: RoomType | None = Field(
        default=None, exclude_if=_absent,
        description="STD, DLX, FAM or STE. Absent: the cheapest room type with enough rooms "
        "left for every night; the booking then shows the room type charged.",
    )  # fmt: skip
    price_paise: int = Field(
        gt=0, le=MAX_PAISE, description="The room price the traveller agreed to, all nights and "
        "rooms, taxes included. The hotel supplier's own price is what is charged: a different "
        "one stops the booking (price_changed) before money moves.",
    )  # fmt: skip


class PriceBreakdown(Payload):
    base_paise: int
    taxes_paise: int
    fees_paise: int
    total_paise: int
    currency: str = "INR"


class PricedFlight(Payload):
    """A selection priced live at the supplier, with what it needs to be held and ticketed."""

    selection: FlightSelection
    departure: dt.datetime
    carrier: str
    refundable: bool
    price: PriceBreakdown
    # When the carrier (or Yatri's cut-off) stops selling it: hold and ticket refuse after.
    booking_closes: dt.datetime | None = None


class BookInput(Payload):
    booking_id: str
    traveller_id: str
    flight: FlightSelection | None = None
    hotel: HotelSelection | None = None
    expected_total_paise: int = Field(gt=0, le=MAX_PAISE)
    hold_ttl_s: float = Field(gt=0)


class ModifyInput(Payload):
    booking_id: str
    traveller_id: str
    new_date: dt.date
    new_flight_number: str | None = None
    expected_total_paise: int | None = None
    hold_ttl_s: float = Field(gt=0)


class CancelInput(Payload):
    booking_id: str
    traveller_id: str
    # The refund the traveller agreed to: a different one (the fee changed) stops the
    # cancellation before anything is undone. None only for cancellations the system makes.
    expected_refund_paise: int | None = None


class Outcome(Payload):
    """How a workflow ended, for the API to answer with."""

    booking_id: str
    status: BookingStatus
    detail: str = ""
    failed_step: str | None = None
    new_total_paise: int | None = None


class SupplierRefs(Payload):
    hold_id: str | None = None
    ticket_number: str | None = None
    hotel_confirmation: str | None = None
    payment_auth_id: str | None = None
    # Idempotency keys of the live itinerary's steps: what a later modify or cancel undoes.
    hold_key: str | None = None
    issue_key: str | None = None
    confirm_key: str | None = None
    auth_key: str | None = None
    # Every payment made for this booking (the first authorisation, then change charges):
    # a cancellation refunds across them.
    payment_keys: tuple[str, ...] = ()


class PricedHotel(Payload):
    """A stay priced by the hotel supplier."""

    selection: HotelSelection
    name: str
    total_paise: int


class ChangeQuote(Payload):
    """What changing or cancelling a booking costs, as offered to the traveller. Amounts are
    paise; `amount_due_paise` is what the traveller pays (negative: what they get back)."""

    quote_id: str
    kind: Literal["modify", "cancel"]
    booking_id: str
    traveller_id: str
    # The booking as it was when quoted: a quote for an itinerary since changed is void.
    booking_version: str
    created_at: dt.datetime
    expires_at: dt.datetime
    fee_paise: int
    fare_difference_paise: int = 0
    amount_due_paise: int
    refund_paise: int = 0
    new_date: dt.date | None = None
    new_flight_number: str | None = None
    new_departure: dt.datetime | None = None
    new_total_paise: int | None = None


class StatusChange(Payload):
    at: dt.datetime
    status: BookingStatus
    detail: str = ""


class BookingRecord(Payload):
    """The system of record for one booking (see bookings/store.py)."""

    booking_id: str
    traveller_id: str
    status: BookingStatus
    created_at: dt.datetime
    updated_at: dt.datetime
    flight: FlightSelection | None = None
    hotel: HotelSelection | None = None
    departure: dt.datetime | None = None
    price: PriceBreakdown | None = None
    paid_paise: int = 0  # captured minus refunded
    refs: SupplierRefs = Field(default_factory=SupplierRefs)
    travellers: tuple[Traveller, ...] = ()
    contact: Contact | None = None
    history: tuple[StatusChange, ...] = ()


# --- activity payloads --------------------------------------------------------------------


class StepArgs(Payload):
    """One supplier step: its own idempotency key, and the key of the step it acts on."""

    key: str
    on_key: str | None = None
    amount_paise: int = 0
    payer: str = ""
    ttl_s: float = 0.0
    flight: PricedFlight | None = None
    hotel: HotelSelection | None = None


class StepResult(Payload):
    reference: str = ""  # hold id, ticket number, auth id ... ("" for a no-op)
    amount_paise: int = 0
    done: bool = True  # False: a compensation found nothing to undo


class Transition(Payload):
    booking_id: str
    step: str
    status: BookingStatus
    detail: str = ""
    kind: str = "book"  # the workflow type, for metrics
    failed_step: str | None = None
    price: PriceBreakdown | None = None
    departure: dt.datetime | None = None
    flight: FlightSelection | None = None
    hotel: HotelSelection | None = None  # as priced by the supplier: its room type and price
    paid_delta_paise: int = 0
    refs: SupplierRefs | None = None
