"""The booking side's clients, built the same way by `yatri serve` and `yatri worker`: the
booking record store and the sandbox suppliers, whose state lives in files in the data
directory so every process on the host sees the same bookings, holds and payments.

Hotel stays are priced, held and confirmed live against the hotel network's inventory, the
same Catalogue and Inventory the hotel sync mirrors: pass them (and the network's `change`,
which also routes a change to the supplier's channel) so a sale at checkout reaches search."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bookings.activities import BookingActivities
from bookings.audit import SqliteAuditLog
from bookings.postgres_audit import PostgresAuditLog, PostgresProfileStore
from bookings.postgres_store import PostgresBookingStore
from bookings.profiles import SqliteProfileStore
from bookings.store import SqliteBookingStore
from bookings.suppliers.hotel_network import NetworkHotel, RecordChange
from bookings.suppliers.sandbox import SandboxBookingAirline, SandboxLedger, SandboxPayments
from bookings.temporal import TemporalClient
from bookings.worker import build_worker
from core.logging import get_logger
from core.settings import Settings
from fares.suppliers.base import AirlineSupplier
from hotels.catalogue import Catalogue
from hotels.suppliers.inventory import Inventory

BOOKINGS_DB = "bookings.sqlite3"
SANDBOX_DB = "sandbox-suppliers.sqlite3"
# How often rooms of lapsed holds go back to the inventory when no checkout call does it first.
HOLD_SWEEP_S = 5.0

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class BookingBackends:
    store: SqliteBookingStore | PostgresBookingStore
    ledger: SandboxLedger
    activities: BookingActivities
    hotel: NetworkHotel


@asynccontextmanager
async def booking_backends(
    settings: Settings,
    *,
    fares: AirlineSupplier,
    catalogue: Catalogue | None = None,
    inventory: Inventory | None = None,
    record_change: RecordChange | None = None,
) -> AsyncIterator[BookingBackends]:
    """The store, the ledger and the activities. Without an inventory, one is built from the
    settings (`hotels_properties`, `hotels_seed`, `hotels_window_days`); `record_change`
    defaults to the inventory's own `set`."""
    if inventory is not None and catalogue not in (None, inventory.catalogue):
        raise ValueError("the inventory belongs to another catalogue")
    if inventory is None:
        if catalogue is None:
            # A second or so of GeoNames and arithmetic: off the event loop.
            catalogue = await asyncio.to_thread(
                Catalogue, properties=settings.hotels_properties, seed=settings.hotels_seed
            )
        inventory = Inventory(catalogue, window_days=settings.hotels_window_days)
    store = await open_booking_store(settings)
    try:
        ledger = await SandboxLedger.open(settings.data_dir / SANDBOX_DB)
        try:
            hotel = NetworkHotel(ledger, inventory=inventory, record_change=record_change)
            sweeper = asyncio.create_task(_sweep(hotel), name="hotel-hold-sweep")
            try:
                yield BookingBackends(
                    store=store,
                    ledger=ledger,
                    activities=BookingActivities(
                        fares=fares,
                        airline=SandboxBookingAirline(ledger),
                        hotel=hotel,
                        payments=SandboxPayments(ledger),
                        store=store,
                        cutoff_min=settings.booking_cutoff_min,
                    ),
                    hotel=hotel,
                )
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
        finally:
            await ledger.close()
    finally:
        await store.close()


async def open_booking_store(settings: Settings) -> SqliteBookingStore | PostgresBookingStore:
    """The booking record: PostgreSQL when `database_url` is set, else the SQLite file in the
    data directory. The audit log and profiles below follow the same choice."""
    if settings.database_url:
        return await PostgresBookingStore.open(settings.database_url)
    return await SqliteBookingStore.open(settings.data_dir / BOOKINGS_DB)


async def open_audit_log(settings: Settings) -> SqliteAuditLog | PostgresAuditLog:
    if settings.database_url:
        return await PostgresAuditLog.open(settings.database_url)
    return await SqliteAuditLog.open(settings.data_dir / BOOKINGS_DB)


async def open_profiles(settings: Settings) -> SqliteProfileStore | PostgresProfileStore:
    if settings.database_url:
        return await PostgresProfileStore.open(settings.database_url)
    return await SqliteProfileStore.open(settings.data_dir / BOOKINGS_DB)


@asynccontextmanager
async def running_worker(
    temporal: TemporalClient, settings: Settings, activities: BookingActivities
) -> AsyncIterator[asyncio.Task[None]]:
    """The Temporal worker polling the booking task queue, as `yatri worker` runs it and as
    `yatri serve` runs it in process (`YATRI_RUN_WORKER`). Yields its task (done: the worker
    stopped); on the way out the worker finishes the activities it holds, then stops."""
    worker = build_worker(temporal, task_queue=settings.temporal_task_queue, bookings=activities)
    task = asyncio.create_task(worker.run(), name="temporal-worker")
    try:
        yield task
    finally:
        if not task.done():
            await worker.shutdown()
        with contextlib.suppress(Exception):
            await task


async def _sweep(hotel: NetworkHotel) -> None:
    """Give back the rooms of lapsed holds, so search sees them again without a checkout."""
    while True:
        await asyncio.sleep(HOLD_SWEEP_S)
        try:
            await hotel.give_back()
        except Exception:  # the next sweep tries again; a checkout call also sweeps
            log.warning("hotel hold sweep failed", exc_info=True)
