"""The sandbox ledger: the suppliers' shared SQLite file (sandbox_sqlite.py) as one object that
every process opens. It journals each call under (supplier, key) with its arguments and answer,
keeps the injected faults a test arms for a worker it cannot reach, and totals what was held and
charged.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final, Literal

import aiosqlite
import orjson

from bookings.suppliers.base import SupplierDeclinedError
from bookings.suppliers.sandbox_sqlite import _SCHEMA, _all, _instant, _one, _stamp, _utcnow
from core.errors import InvalidRequestError

OPS: Final = frozenset(
    {
        "airline.hold", "airline.issue", "airline.cancel_ticket", "airline.release",
        "hotel.hold", "hotel.confirm", "hotel.cancel", "hotel.release",
        "payments.authorise", "payments.capture", "payments.void", "payments.refund",
        "payments.charge",
    }
)  # fmt: skip

_BUSY_TIMEOUT_S = 30.0

# What each op's injected decline looks like: what a real supplier would refuse it with.
_DECLINE_OUTCOME: Final = {
    "airline.hold": "sold_out",
    "hotel.hold": "sold_out",
    "payments.authorise": "payment_declined",
    "payments.charge": "payment_declined",
}

_Counter = Literal["fail_next", "decline_next", "lose_response_next", "timeout_next"]


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """One op's injected faults; the counters count down as calls consume them."""

    error_rate: float = 0.0
    latency_ms: float = 0.0
    fail_next: int = 0
    decline_next: int = 0
    lose_response_next: int = 0
    timeout_next: int = 0


@dataclass(frozen=True, slots=True)
class LedgerSummary:
    """What the suppliers hold for one booking (every key starting with a prefix)."""

    captures: int
    captured_paise: int
    refunded_paise: int
    open_flight_holds: int  # held, not expired, released or ticketed
    open_hotel_holds: int
    tickets_issued: int  # and not cancelled
    hotel_confirmations: int  # and not cancelled
    uncaptured_authorisations: int  # neither captured nor voided

    @property
    def net_charged_paise(self) -> int:
        return self.captured_paise - self.refunded_paise

    @property
    def open_holds(self) -> int:
        return self.open_flight_holds + self.open_hotel_holds


@dataclass(frozen=True, slots=True)
class OpenHold:
    kind: Literal["flight", "hotel"]
    key: str
    hold_id: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    """The whole ledger, for benchmarks: what is still held, and who was charged how often."""

    open_holds: tuple[OpenHold, ...]
    captures_by_booking: Mapping[str, int]
    uncaptured_authorisations: tuple[str, ...]  # their keys
    captured_paise: int
    refunded_paise: int

    @property
    def captured_more_than_once(self) -> dict[str, int]:
        return {booking: n for booking, n in self.captures_by_booking.items() if n > 1}


@dataclass(frozen=True, slots=True)
class _Answer:
    outcome: str  # "ok" or a key of sandbox_desk._DECLINES
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Transport:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    failure: Literal["fail", "timeout"] | None = None


_Perform = Callable[[aiosqlite.Connection], Awaitable[_Answer]]


class SandboxLedger:
    """The sandbox suppliers' state and faults: one SQLite file that every process opens."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        # One connection per process: a transaction must not interleave with another coroutine's.
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str) -> SandboxLedger:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are begun explicitly (BEGIN IMMEDIATE) where they matter.
        db = await aiosqlite.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            await db.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}")
            await db.execute("PRAGMA journal_mode=WAL")
            # NORMAL survives a killed process (what the tests do to workers), not a power cut.
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.executescript(_SCHEMA)
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    # --- faults -------------------------------------------------------------------------------

    async def set_fault(
        self,
        op: str,
        *,
        error_rate: float = 0.0,
        latency_ms: float = 0.0,
        fail_next: int = 0,
        decline_next: int = 0,
        lose_response_next: int = 0,
        timeout_next: int = 0,
    ) -> None:
        """Replace `op`'s faults, for every process using this file."""
        if op not in OPS:
            raise InvalidRequestError(f"unknown sandbox op {op!r}", ops=sorted(OPS))
        async with self._lock:
            await self._db.execute(
                "INSERT OR REPLACE INTO faults VALUES (?, ?, ?, ?, ?, ?, ?)",
                (op, error_rate, latency_ms, fail_next, decline_next, lose_response_next,
                 timeout_next),
            )  # fmt: skip

    async def clear_faults(self) -> None:
        async with self._lock:
            await self._db.execute("DELETE FROM faults")

    async def fault(self, op: str) -> FaultSettings:
        async with self._lock:
            row = await _one(self._db, "SELECT * FROM faults WHERE op = ?", (op,))
        if row is None:
            return FaultSettings()
        return FaultSettings(**{f.name: row[f.name] for f in fields(FaultSettings)})

    # --- inspection ---------------------------------------------------------------------------

    async def summary(self, prefix: str, *, now: dt.datetime | None = None) -> LedgerSummary:
        """Totals over every operation whose key starts with `prefix` (a booking id)."""
        params = {"n": len(prefix), "prefix": prefix, "now": _stamp(now or _utcnow())}
        async with self._lock:
            (row,) = await _all(self._db, _SUMMARY, params)  # an aggregate: always one row
        return LedgerSummary(*(int(v) for v in row))

    async def totals(self, *, now: dt.datetime | None = None, separator: str = ":") -> LedgerTotals:
        """The whole ledger; a booking is a key's text before the first `separator`."""
        at = _stamp(now or _utcnow())
        async with self._lock:
            holds = await _all(self._db, _OPEN_HOLDS, {"now": at})
            by_booking = await _all(self._db, _CAPTURES_BY_BOOKING, {"sep": separator})
            auths = await _all(
                self._db, "SELECT key FROM authorisations WHERE state = 'authorised' ORDER BY key"
            )
            (money,) = await _all(self._db, _MONEY)
        return LedgerTotals(
            open_holds=tuple(
                OpenHold(r["kind"], r["key"], r["hold_id"], _instant(r["expires_at"]))
                for r in holds
            ),
            captures_by_booking={r["booking"]: int(r["n"]) for r in by_booking},
            uncaptured_authorisations=tuple(r["key"] for r in auths),
            captured_paise=int(money[0]),
            refunded_paise=int(money[1]),
        )

    # --- what the suppliers call --------------------------------------------------------------

    async def _transport(self, op: str) -> _Transport:
        """Read `op`'s faults, consuming a fail or timeout counter if one is armed."""
        async with self._lock:
            row = await _one(self._db, "SELECT * FROM faults WHERE op = ?", (op,))
            if row is None:
                return _Transport()
            failure: Literal["fail", "timeout"] | None = None
            if row["fail_next"] > 0 and await _take(self._db, op, "fail_next"):
                failure = "fail"
            elif row["timeout_next"] > 0 and await _take(self._db, op, "timeout_next"):
                failure = "timeout"
        return _Transport(
            latency_ms=row["latency_ms"], error_rate=row["error_rate"], failure=failure
        )

    async def _operate(
        self, *, op: str, key: str, request: str, now: dt.datetime, perform: _Perform
    ) -> tuple[_Answer, bool]:
        """Do `op` once per key: the stored answer for a repeat, else `perform` and store it.

        Returns the answer and whether an injected fault loses it after the commit.
        """
        scope = op.partition(".")[0]
        # IMMEDIATE takes the write lock before the lookup, so two processes racing one key
        # serialise here instead of both finding it absent.
        async with self._immediate() as db:
            row = await _one(
                db, "SELECT op, request, outcome, result FROM operations WHERE scope = ? AND key = ?",
                (scope, key),
            )  # fmt: skip
            if row is not None:
                if row["op"] != op or row["request"] != request:
                    raise SupplierDeclinedError(
                        "idempotency key reused with other arguments", key=key, op=op
                    )
                answer = _Answer(row["outcome"], orjson.loads(row["result"]))
            else:
                if await _take(db, op, "decline_next"):
                    outcome = _DECLINE_OUTCOME.get(op, "declined")
                    answer = _no(outcome, f"{op} declined (injected fault)")
                else:
                    answer = await perform(db)
                await db.execute(
                    "INSERT INTO operations VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (scope, key, op, request, answer.outcome, orjson.dumps(answer.payload).decode(),
                     _stamp(now)),
                )  # fmt: skip
            lost = await _take(db, op, "lose_response_next")
        return answer, lost

    def transaction(self) -> contextlib.AbstractAsyncContextManager[aiosqlite.Connection]:
        """A write transaction outside any operation, for a supplier's own bookkeeping."""
        return self._immediate()

    @contextlib.asynccontextmanager
    async def _immediate(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            try:
                # Inside the try: if the wait for the write lock is cancelled, the BEGIN still
                # runs on aiosqlite's thread, and the rollback queued after it must undo it.
                await self._db.execute("BEGIN IMMEDIATE")
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()


# Fields in LedgerSummary's order.
_SUMMARY = """
SELECT
    (SELECT COUNT(*) FROM captures WHERE substr(key, 1, :n) = :prefix),
    (SELECT COALESCE(SUM(amount_paise), 0) FROM captures WHERE substr(key, 1, :n) = :prefix),
    (SELECT COALESCE(SUM(amount_paise), 0) FROM refunds WHERE substr(key, 1, :n) = :prefix),
    (SELECT COUNT(*) FROM airline_holds
        WHERE substr(key, 1, :n) = :prefix AND state = 'held' AND expires_at > :now),
    (SELECT COUNT(*) FROM hotel_holds
        WHERE substr(key, 1, :n) = :prefix AND state = 'held' AND expires_at > :now),
    (SELECT COUNT(*) FROM tickets WHERE substr(key, 1, :n) = :prefix AND state = 'issued'),
    (SELECT COUNT(*) FROM hotel_confirmations
        WHERE substr(key, 1, :n) = :prefix AND state = 'confirmed'),
    (SELECT COUNT(*) FROM authorisations WHERE substr(key, 1, :n) = :prefix AND state = 'authorised')
"""

_OPEN_HOLDS = """
SELECT 'flight' AS kind, key, hold_id, expires_at FROM airline_holds
    WHERE state = 'held' AND expires_at > :now
UNION ALL
SELECT 'hotel', key, hold_id, expires_at FROM hotel_holds WHERE state = 'held' AND expires_at > :now
ORDER BY key
"""

_CAPTURES_BY_BOOKING = """
SELECT CASE WHEN instr(key, :sep) > 0 THEN substr(key, 1, instr(key, :sep) - 1) ELSE key END
    AS booking, COUNT(*) AS n
FROM captures GROUP BY booking
"""

_MONEY = """
SELECT (SELECT COALESCE(SUM(amount_paise), 0) FROM captures),
       (SELECT COALESCE(SUM(amount_paise), 0) FROM refunds)
"""


def _ok(**payload: Any) -> _Answer:
    return _Answer("ok", payload)


def _no(outcome: str, detail: str) -> _Answer:
    return _Answer(outcome, {"detail": detail})


async def _take(db: aiosqlite.Connection, op: str, counter: _Counter) -> bool:
    # One conditional statement, so two processes can never both take the last unit.
    cursor = await db.execute(
        f"UPDATE faults SET {counter} = {counter} - 1 WHERE op = ? AND {counter} > 0", (op,)
    )
    return cursor.rowcount == 1
