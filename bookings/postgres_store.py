"""`BookingStore` on PostgreSQL (YATRI_DATABASE_URL): the same record and the same guarantees
as `SqliteBookingStore` (tests/test_booking_store_congruence.py runs one suite on both), for
many API and worker processes on many hosts.

Each write is one statement, so one round trip and one transaction (READ COMMITTED). A status
change is keyed by (booking, step) as in SQLite: the history row is inserted with ON CONFLICT
DO NOTHING, and only its first insertion updates the booking. A concurrent insert of the same
key waits for the first transaction and then does nothing, so a replayed or racing activity
changes nothing; the UPDATE takes the booking's row lock, so concurrent steps apply one after
another and none of their changes (a payment delta above all) is lost. The history's foreign
key refuses a step of a missing booking, which aborts the whole statement (ConflictError, as
in SQLite). A read is one statement too: a record and its history from one snapshot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg

from bookings.models import (
    BookingRecord,
    BookingStatus,
    FlightSelection,
    HotelSelection,
    PriceBreakdown,
    SupplierRefs,
    Traveller,
)
from bookings.postgres import connection, open_pool
from bookings.rows import (
    BOOKING_COLUMNS,
    booking_from_row,
    booking_values,
    changed_values,
    travellers_json,
)
from core.errors import ConflictError

_WHAT = "the booking store"


class PostgresBookingStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str, *, max_connections: int = 10) -> PostgresBookingStore:
        return cls(await open_pool(url, what=_WHAT, max_size=max_connections))

    async def close(self) -> None:
        await self._pool.close()

    async def ping(self) -> None:
        async with connection(self._pool, what=_WHAT) as conn:
            await conn.execute("SELECT 1")

    async def create(self, record: BookingRecord) -> bool:
        async with connection(self._pool, what=_WHAT) as conn:
            created = await conn.fetchval(
                f"WITH new AS (INSERT INTO bookings ({BOOKING_COLUMNS}) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
                "ON CONFLICT (booking_id) DO NOTHING RETURNING booking_id, created_at, status) "
                "INSERT INTO booking_history (booking_id, step, at, status) "
                "SELECT booking_id, 'created', created_at, status FROM new RETURNING true",
                *booking_values(record, instants_as_text=False),
            )
        return bool(created)

    async def get(self, booking_id: str) -> BookingRecord | None:
        rows = await self._select("WHERE booking_id = $1", (booking_id,))
        return rows[0] if rows else None

    async def list_for(self, traveller_id: str, *, limit: int = 50) -> list[BookingRecord]:
        return await self._select(
            "WHERE traveller_id = $1 ORDER BY created_at DESC LIMIT $2", (traveller_id, limit)
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
        try:
            async with connection(self._pool, what=_WHAT) as conn:
                await conn.execute(
                    "WITH step AS (INSERT INTO booking_history (booking_id, step, at, status, "
                    "detail) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING "
                    "RETURNING booking_id) "
                    "UPDATE bookings SET status = $4, updated_at = $3, "
                    "price = COALESCE($6, price), departure = COALESCE($7, departure), "
                    "flight = COALESCE($8, flight), hotel = COALESCE($9, hotel), "
                    "paid_paise = paid_paise + $10, refs = COALESCE($11, refs) "
                    "WHERE booking_id = (SELECT booking_id FROM step)",
                    booking_id, step, dt.datetime.now(dt.UTC), status.value, detail,
                    *changed_values(price=price, departure=departure, flight=flight, hotel=hotel,
                                    paid_delta_paise=paid_delta_paise, refs=refs),
                )  # fmt: skip
        except asyncpg.ForeignKeyViolationError as e:
            raise ConflictError(f"no booking {booking_id} to update") from e

    async def correct_names(
        self, *, booking_id: str, step: str, travellers: tuple[Traveller, ...], detail: str
    ) -> None:
        async with connection(self._pool, what=_WHAT) as conn:
            # The row lock first, so the history row records the status as it stands.
            await conn.execute(
                "WITH booking AS (SELECT booking_id, status FROM bookings "
                "WHERE booking_id = $1 FOR UPDATE), "
                "step AS (INSERT INTO booking_history (booking_id, step, at, status, detail) "
                "SELECT booking_id, $2, $3, status, $4 FROM booking "
                "ON CONFLICT DO NOTHING RETURNING booking_id) "
                "UPDATE bookings SET travellers = $5, updated_at = $3 "
                "WHERE booking_id = (SELECT booking_id FROM step)",
                booking_id, step, dt.datetime.now(dt.UTC), detail, travellers_json(travellers),
            )  # fmt: skip

    async def _select(self, where: str, params: Sequence[object]) -> list[BookingRecord]:
        async with connection(self._pool, what=_WHAT) as conn:
            rows = await conn.fetch(
                f"SELECT {BOOKING_COLUMNS}, history.ats, history.statuses, history.details "
                "FROM bookings LEFT JOIN LATERAL (SELECT array_agg(h.at ORDER BY h.at, h.seq) "
                "AS ats, array_agg(h.status ORDER BY h.at, h.seq) AS statuses, "
                "array_agg(h.detail ORDER BY h.at, h.seq) AS details FROM booking_history h "
                f"WHERE h.booking_id = bookings.booking_id) AS history ON true {where}",
                *params,
            )
        # Each row ends with its history as three arrays side by side: at, status, detail.
        return [
            booking_from_row(
                row, history=zip(row[13] or (), row[14] or (), row[15] or (), strict=True)
            )
            for row in rows
        ]
