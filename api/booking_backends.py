"""The booking side's clients, built the same way by `yatri serve` and `yatri worker`: the
booking record store and the sandbox suppliers, whose state lives in files in the data
directory so every process on the host sees the same bookings, holds and payments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bookings.activities import BookingActivities
from bookings.store import SqliteBookingStore
from bookings.suppliers.sandbox import (
    SandboxBookingAirline,
    SandboxHotel,
    SandboxLedger,
    SandboxPayments,
)
from core.settings import Settings
from fares.suppliers.base import AirlineSupplier

BOOKINGS_DB = "bookings.sqlite3"
SANDBOX_DB = "sandbox-suppliers.sqlite3"


@dataclass(frozen=True, slots=True)
class BookingBackends:
    store: SqliteBookingStore
    ledger: SandboxLedger
    activities: BookingActivities


@asynccontextmanager
async def booking_backends(
    settings: Settings, *, fares: AirlineSupplier
) -> AsyncIterator[BookingBackends]:
    store = await SqliteBookingStore.open(settings.data_dir / BOOKINGS_DB)
    try:
        ledger = await SandboxLedger.open(settings.data_dir / SANDBOX_DB)
        try:
            yield BookingBackends(
                store=store,
                ledger=ledger,
                activities=BookingActivities(
                    fares=fares,
                    airline=SandboxBookingAirline(ledger),
                    hotel=SandboxHotel(ledger),
                    payments=SandboxPayments(ledger),
                    store=store,
                    cutoff_min=settings.booking_cutoff_min,
                ),
            )
        finally:
            await ledger.close()
    finally:
        await store.close()
