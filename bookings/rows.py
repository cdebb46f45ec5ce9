"""The booking record as the bookings table's columns, and back: the one codec of the SQLite
(bookings/store.py) and PostgreSQL (bookings/postgres_store.py) adapters, whose SQL differs but
whose columns do not. Payloads are JSON text and the departure ISO 8601 text in both (it keeps
the traveller's offset). The store's own instants (created, updated, each history step) are ISO
text in SQLite and timestamptz in PostgreSQL: the encoder is told which, the decoder takes
either."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import orjson

from bookings.models import (
    BookingRecord,
    BookingStatus,
    Contact,
    FlightSelection,
    HotelSelection,
    PriceBreakdown,
    StatusChange,
    SupplierRefs,
    Traveller,
)

# The order `booking_values` encodes in and `booking_from_row` decodes from.
BOOKING_COLUMNS = (
    "booking_id, traveller_id, status, created_at, updated_at, flight, hotel, departure, "
    "price, paid_paise, refs, travellers, contact"
)

# A status change's columns, in the order both adapters' UPDATE takes them: price, departure,
# flight, hotel, the paid delta, refs. None keeps what the booking has.
Changes = tuple[str | None, str | None, str | None, str | None, int, str | None]


class Row(Protocol):
    """A fetched row, read by position: an aiosqlite row or an asyncpg record."""

    def __getitem__(self, index: int, /) -> Any: ...


def booking_values(record: BookingRecord, *, instants_as_text: bool) -> tuple[object, ...]:
    """The record's values in BOOKING_COLUMNS order; its history is written by the adapter."""
    created: object = record.created_at.isoformat() if instants_as_text else record.created_at
    updated: object = record.updated_at.isoformat() if instants_as_text else record.updated_at
    return (
        record.booking_id,
        record.traveller_id,
        record.status.value,
        created,
        updated,
        _json(record.flight),
        _json(record.hotel),
        record.departure.isoformat() if record.departure else None,
        _json(record.price),
        record.paid_paise,
        record.refs.model_dump_json(),
        travellers_json(record.travellers),
        _json(record.contact),
    )


def changed_values(
    *,
    price: PriceBreakdown | None,
    departure: dt.datetime | None,
    flight: FlightSelection | None,
    hotel: HotelSelection | None,
    paid_delta_paise: int,
    refs: SupplierRefs | None,
) -> Changes:
    return (
        _json(price),
        departure.isoformat() if departure else None,
        _json(flight),
        _json(hotel),
        paid_delta_paise,
        refs.model_dump_json() if refs else None,
    )


def travellers_json(travellers: Sequence[Traveller]) -> str:
    return "[" + ",".join(t.model_dump_json() for t in travellers) + "]"


def booking_from_row(row: Row, *, history: Iterable[Row]) -> BookingRecord:
    """A record from a row that starts with BOOKING_COLUMNS, and its history's (at, status, detail)
    rows in order."""
    return BookingRecord(
        booking_id=row[0],
        traveller_id=row[1],
        status=BookingStatus(row[2]),
        created_at=instant(row[3]),
        updated_at=instant(row[4]),
        flight=FlightSelection.model_validate_json(row[5]) if row[5] else None,
        hotel=HotelSelection.model_validate_json(row[6]) if row[6] else None,
        departure=dt.datetime.fromisoformat(row[7]) if row[7] else None,
        price=PriceBreakdown.model_validate_json(row[8]) if row[8] else None,
        paid_paise=row[9],
        refs=SupplierRefs.model_validate_json(row[10]),
        travellers=tuple(Traveller.model_validate(t) for t in _loads_list(row[11])),
        contact=Contact.model_validate_json(row[12]) if row[12] else None,
        history=tuple(
            StatusChange(at=instant(step[0]), status=BookingStatus(step[1]), detail=step[2])
            for step in history
        ),
    )


def instant(value: dt.datetime | str) -> dt.datetime:
    """A stored instant: ISO text from SQLite, a datetime from PostgreSQL."""
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def _json(model: FlightSelection | HotelSelection | PriceBreakdown | Contact | None) -> str | None:
    return model.model_dump_json() if model is not None else None


def _loads_list(raw: str) -> list[dict[str, str]]:
    value = orjson.loads(raw)
    return value if isinstance(value, list) else []
