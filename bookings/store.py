"""The booking record's system of record: SQLite in the data directory (WAL, one file).

Why SQLite and not Redis or Temporal's own state: a booking must outlive every process and
every cache flush (Redis is a cache here), and Temporal drops a closed workflow's history
after the namespace's retention (a day on the dev server), while a booking lives for years.
SQLite is embedded, durable on fsync, and lets the API process and worker processes on one
host share the file. At scale the same `BookingStore` port runs on PostgreSQL
(bookings/postgres_store.py, chosen by YATRI_DATABASE_URL), with the same guarantees.

Writes come from the workflow's activities, so each is idempotent: a status change is keyed by
(booking, step) and a replayed activity changes nothing. Each write is one IMMEDIATE transaction
that rolls back on any failure or cancellation (bookings.sqlite says why that matters here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import aiosqlite

from bookings.models import (
    BookingRecord,
    BookingStatus,
    FlightSelection,
    HotelSelection,
    PriceBreakdown,
    SupplierRefs,
    Traveller,
)
from bookings.rows import (
    BOOKING_COLUMNS,
    Changes,
    booking_from_row,
    booking_values,
    changed_values,
    travellers_json,
)
from bookings.sqlite import Writer, open_store, unavailable_on_error
from core.errors import ConflictError

_WHAT = "the booking store"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bookings (
    booking_id TEXT PRIMARY KEY,
    traveller_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    flight TEXT,
    hotel TEXT,
    departure TEXT,
    price TEXT,
    paid_paise INTEGER NOT NULL DEFAULT 0,
    refs TEXT NOT NULL DEFAULT '{}',
    travellers TEXT NOT NULL DEFAULT '[]',
    contact TEXT
);
CREATE INDEX IF NOT EXISTS bookings_by_traveller ON bookings (traveller_id, created_at);
CREATE TABLE IF NOT EXISTS booking_history (
    booking_id TEXT NOT NULL,
    step TEXT NOT NULL,
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (booking_id, step)
);
"""


class BookingStore(Protocol):
    async def create(self, record: BookingRecord) -> bool:
        """Insert a new booking; False when one with this id exists (a retried request)."""
        ...

    async def get(self, booking_id: str) -> BookingRecord | None: ...

    async def list_for(self, traveller_id: str, *, limit: int = 50) -> list[BookingRecord]: ...

    async def transition(
        self,
        *,
        booking_id: str,
        step: str,
        status: BookingStatus,
        detail: str = "",
        price: PriceBreakdown | None = None,
        departure: dt.datetime | None = None,
        flight: FlightSelection | None = None,
        hotel: HotelSelection | None = None,
        paid_delta_paise: int = 0,
        refs: SupplierRefs | None = None,
    ) -> None:
        """Record a status change once per (booking, step), with what changed alongside it."""
        ...

    async def correct_names(
        self, *, booking_id: str, step: str, travellers: tuple[Traveller, ...], detail: str
    ) -> None:
        """Replace the travellers' names once per step, recording it in the history."""
        ...


class SqliteBookingStore:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._writer = Writer(db, what=_WHAT)

    @classmethod
    async def open(cls, path: Path) -> SqliteBookingStore:
        # FULL: a confirmed booking survives power loss.
        return cls(await open_store(path, schema=_SCHEMA, synchronous="FULL", what=_WHAT))

    async def close(self) -> None:
        await self._db.close()

    async def ping(self) -> None:
        with unavailable_on_error(_WHAT):
            await self._db.execute("SELECT 1")

    async def create(self, record: BookingRecord) -> bool:
        async with self._writer.transaction() as db:
            return await self._create(db, record)

    async def _create(self, db: aiosqlite.Connection, record: BookingRecord) -> bool:
        cursor = await db.execute(
            f"INSERT OR IGNORE INTO bookings ({BOOKING_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            booking_values(record, instants_as_text=True),
        )
        created = cursor.rowcount == 1
        if created:
            await db.execute(
                "INSERT OR IGNORE INTO booking_history VALUES (?, 'created', ?, ?, '')",
                (record.booking_id, record.created_at.isoformat(), record.status.value),
            )
        return created

    async def get(self, booking_id: str) -> BookingRecord | None:
        rows = await self._select("WHERE booking_id = ?", (booking_id,))
        return rows[0] if rows else None

    async def list_for(self, traveller_id: str, *, limit: int = 50) -> list[BookingRecord]:
        return await self._select(
            "WHERE traveller_id = ? ORDER BY created_at DESC LIMIT ?", (traveller_id, limit)
        )

    async def transition(
        self,
        *,
        booking_id: str,
        step: str,
        status: BookingStatus,
        detail: str = "",
        price: PriceBreakdown | None = None,
        departure: dt.datetime | None = None,
        flight: FlightSelection | None = None,
        hotel: HotelSelection | None = None,
        paid_delta_paise: int = 0,
        refs: SupplierRefs | None = None,
    ) -> None:
        now = dt.datetime.now(dt.UTC).isoformat()
        async with self._writer.transaction() as db:
            await self._transition(
                db, booking_id=booking_id, step=step, now=now, status=status, detail=detail,
                values=changed_values(price=price, departure=departure, flight=flight,
                                      hotel=hotel, paid_delta_paise=paid_delta_paise, refs=refs),
            )  # fmt: skip

    async def _transition(
        self,
        db: aiosqlite.Connection,
        *,
        booking_id: str,
        step: str,
        now: str,
        status: BookingStatus,
        detail: str,
        values: Changes,
    ) -> None:
        cursor = await db.execute(
            "INSERT OR IGNORE INTO booking_history VALUES (?, ?, ?, ?, ?)",
            (booking_id, step, now, status.value, detail),
        )
        if cursor.rowcount == 1:  # first time this step is recorded
            updated = await db.execute(
                "UPDATE bookings SET status = ?, updated_at = ?, "
                "price = COALESCE(?, price), departure = COALESCE(?, departure), "
                "flight = COALESCE(?, flight), hotel = COALESCE(?, hotel), "
                "paid_paise = paid_paise + ?, "
                "refs = COALESCE(?, refs) WHERE booking_id = ?",
                (status.value, now, *values, booking_id),
            )
            if updated.rowcount != 1:
                raise ConflictError(f"no booking {booking_id} to update")

    async def correct_names(
        self, *, booking_id: str, step: str, travellers: tuple[Traveller, ...], detail: str
    ) -> None:
        names = travellers_json(travellers)
        now = dt.datetime.now(dt.UTC).isoformat()
        async with self._writer.transaction() as db:
            cursor = await db.execute(
                "INSERT OR IGNORE INTO booking_history SELECT booking_id, ?, ?, status, ? "
                "FROM bookings WHERE booking_id = ?",
                (step, now, detail, booking_id),
            )
            if cursor.rowcount == 1:
                await db.execute(
                    "UPDATE bookings SET travellers = ?, updated_at = ? WHERE booking_id = ?",
                    (names, now, booking_id),
                )

    async def _select(self, where: str, params: Sequence[object]) -> list[BookingRecord]:
        with unavailable_on_error(_WHAT):
            return await self._select_rows(where, params)

    async def _select_rows(self, where: str, params: Sequence[object]) -> list[BookingRecord]:
        # Autocommit: each SELECT reads the latest commit and holds no snapshot afterwards.
        async with self._db.execute(
            f"SELECT {BOOKING_COLUMNS} FROM bookings {where}", tuple(params)
        ) as cursor:
            rows = list(await cursor.fetchall())
        records = []
        for row in rows:
            async with self._db.execute(
                "SELECT at, status, detail FROM booking_history WHERE booking_id = ? "
                "ORDER BY at, rowid",
                (row[0],),
            ) as cursor:
                history = await cursor.fetchall()
            records.append(booking_from_row(row, history=history))
        return records
