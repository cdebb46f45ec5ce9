"""Shared by the booking record's tests: a sample booking, and an app served in process with a
client on it, as each process that shares the bookings database would be."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from api.app import create_app
from bookings.models import (
    BookingRecord,
    BookingStatus,
    Contact,
    FlightSelection,
    PriceBreakdown,
    Traveller,
)
from core.embedded import Endpoints
from core.settings import Settings

T0 = dt.datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=dt.UTC)
FLIGHT = FlightSelection(
    origin="DEL", destination="BOM", date=dt.date(2026, 4, 2), flight_number="AI101",
    fare_family="saver", adults=2,
)  # fmt: skip
PRICE = PriceBreakdown(base_paise=800_000, taxes_paise=90_000, fees_paise=10_000,
                       total_paise=900_000)  # fmt: skip


def booking(booking_id: str, *, traveller: str = "trav-1", at: dt.datetime = T0) -> BookingRecord:
    return BookingRecord(
        booking_id=booking_id, traveller_id=traveller, status=BookingStatus.PENDING,
        created_at=at, updated_at=at, flight=FLIGHT, price=PRICE,
        travellers=(Traveller(first_name="Asha", last_name="Rao"),
                    Traveller(first_name="Riya", last_name="Rao", passenger_type="child",
                              date_of_birth=dt.date(2018, 3, 14))),
        contact=Contact(email="asha@example.com", phone="+91 98765 43210"),
    )  # fmt: skip


@asynccontextmanager
async def app_client(settings: Settings, endpoints: Endpoints) -> AsyncIterator[httpx.AsyncClient]:
    """A new app started on these settings (its own process, as far as the record can tell)
    and a client on it; the app stops when the block ends."""
    app = create_app(settings, endpoints=endpoints)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://yatri.test"
        ) as c,
    ):
        yield c
