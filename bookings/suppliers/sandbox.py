"""The sandbox booking suppliers: an airline and a payment gateway in test mode, and the ledger
and desk that the hotel network's booking desk (hotel_network.py) keeps its holds in too.

Like a payment API's test mode they behave like the real thing (idempotency keys, holds that
expire, captures and refunds that add up) and fail on request. Their state is one SQLite file,
not memory, because the booking tests SIGKILL a Temporal worker mid-booking and restart it: the
new process must find what the old one held and charged, and the test process must be able to
count it. Faults are rows in the same file, so a test can arm them for a worker it cannot reach.

Every call is journalled under (supplier, key) with its arguments and its answer, declines
included, as payment APIs do: a repeat gets the first answer back, and nothing happens twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import math
import random
import sqlite3
import string
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final, Literal

import aiosqlite
import orjson

from bookings.suppliers.base import (
    Authorisation,
    Capture,
    Hold,
    HoldExpiredError,
    PaymentDeclinedError,
    PriceChangedError,
    Refund,
    SoldOutError,
    SupplierDeclinedError,
    Ticket,
)
from core.errors import InvalidRequestError, SupplierError, SupplierTimeoutError
from core.logging import get_logger

log = get_logger(__name__)

Clock = Callable[[], dt.datetime]

OPS: Final = frozenset(
    {
        "airline.hold", "airline.issue", "airline.cancel_ticket", "airline.release",
        "hotel.hold", "hotel.confirm", "hotel.cancel", "hotel.release",
        "payments.authorise", "payments.capture", "payments.void", "payments.refund",
        "payments.charge",
    }
)  # fmt: skip

# A payer starting with this is refused, like a payment API's test card that always declines.
DECLINING_PAYER_PREFIX: Final = "decline"

_BUSY_TIMEOUT_S = 30.0
_JITTER_SIGMA = 0.35  # of the log-normal latency around latency_ms
_MAX_SEATS_PER_PNR = 9

_SCHEMA = """
CREATE TABLE IF NOT EXISTS operations (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    op TEXT NOT NULL,
    request TEXT NOT NULL,
    outcome TEXT NOT NULL,
    result TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS airline_holds (
    key TEXT PRIMARY KEY,
    hold_id TEXT NOT NULL,
    flight_number TEXT NOT NULL,
    departure TEXT NOT NULL,
    seats INTEGER NOT NULL,
    price_paise INTEGER NOT NULL,
    expires_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('held', 'ticketed', 'released'))
);
CREATE INDEX IF NOT EXISTS airline_holds_by_flight ON airline_holds (flight_number, departure);
CREATE TABLE IF NOT EXISTS tickets (
    key TEXT PRIMARY KEY,
    ticket_number TEXT NOT NULL,
    hold_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('issued', 'cancelled'))
);
CREATE TABLE IF NOT EXISTS hotel_holds (
    key TEXT PRIMARY KEY,
    hold_id TEXT NOT NULL,
    hotel_id TEXT NOT NULL,
    check_in TEXT NOT NULL,
    check_out TEXT NOT NULL,
    rooms INTEGER NOT NULL,
    price_paise INTEGER NOT NULL,
    expires_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('held', 'confirmed', 'released'))
);
CREATE INDEX IF NOT EXISTS hotel_holds_by_hotel ON hotel_holds (hotel_id, check_in);
-- A hotel hold's room type, and which desk took its rooms from the inventory (hotel_network.py).
CREATE TABLE IF NOT EXISTS hotel_hold_rooms (
    key TEXT PRIMARY KEY,
    room_type TEXT NOT NULL,
    taken_by TEXT NOT NULL,
    returned INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS hotel_hold_rooms_out ON hotel_hold_rooms (taken_by) WHERE returned = 0;
CREATE TABLE IF NOT EXISTS hotel_confirmations (
    key TEXT PRIMARY KEY,
    confirmation_number TEXT NOT NULL,
    hold_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('confirmed', 'cancelled'))
);
CREATE TABLE IF NOT EXISTS authorisations (
    key TEXT PRIMARY KEY,
    auth_id TEXT NOT NULL,
    payer TEXT NOT NULL,
    amount_paise INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('authorised', 'captured', 'voided'))
);
CREATE TABLE IF NOT EXISTS captures (
    key TEXT PRIMARY KEY,
    capture_id TEXT NOT NULL,
    auth_key TEXT NOT NULL,
    amount_paise INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS captures_by_auth ON captures (auth_key);
CREATE TABLE IF NOT EXISTS refunds (
    key TEXT PRIMARY KEY,
    refund_id TEXT NOT NULL,
    auth_key TEXT NOT NULL,
    amount_paise INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS refunds_by_auth ON refunds (auth_key);
CREATE TABLE IF NOT EXISTS faults (
    op TEXT PRIMARY KEY,
    error_rate REAL NOT NULL DEFAULT 0,
    latency_ms REAL NOT NULL DEFAULT 0,
    fail_next INTEGER NOT NULL DEFAULT 0,
    decline_next INTEGER NOT NULL DEFAULT 0,
    lose_response_next INTEGER NOT NULL DEFAULT 0,
    timeout_next INTEGER NOT NULL DEFAULT 0
);
"""

# What each op's injected decline looks like: what a real supplier would refuse it with.
_DECLINE_OUTCOME: Final = {
    "airline.hold": "sold_out",
    "hotel.hold": "sold_out",
    "payments.authorise": "payment_declined",
    "payments.charge": "payment_declined",
}
_DECLINES: Final[Mapping[str, type[SupplierDeclinedError]]] = {
    "declined": SupplierDeclinedError,
    "hold_expired": HoldExpiredError,
    "payment_declined": PaymentDeclinedError,
    "price_changed": PriceChangedError,
    "sold_out": SoldOutError,
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
    outcome: str  # "ok" or a key of _DECLINES
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Transport:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    failure: Literal["fail", "timeout"] | None = None


_Perform = Callable[[aiosqlite.Connection], Awaitable[_Answer]]
_Args = dict[str, str | int | float]
_Params = Iterable[Any] | Mapping[str, Any]


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


class _Desk:
    """What each sandbox supplier does around an operation: injected faults, then the ledger."""

    def __init__(self, ledger: SandboxLedger, *, supplier: str, seed: int, clock: Clock) -> None:
        self.ledger = ledger
        self.supplier = supplier
        self.seed = seed
        self.clock = clock
        self._rng = random.Random(seed)

    async def call(
        self,
        op: str,
        *,
        key: str,
        args: _Args,
        perform: Callable[[aiosqlite.Connection, dt.datetime], Awaitable[_Answer]],
    ) -> dict[str, Any]:
        transport = await self.ledger._transport(op)
        if transport.latency_ms > 0:
            mu = math.log(transport.latency_ms / 1000.0)
            await asyncio.sleep(self._rng.lognormvariate(mu, _JITTER_SIGMA))
        if transport.failure == "timeout":
            log.info("sandbox fault injected", op=op, fault="timeout")
            raise SupplierTimeoutError(f"{op} timed out (injected fault)", supplier=self.supplier)
        if transport.failure == "fail" or (
            transport.error_rate > 0 and self._rng.random() < transport.error_rate
        ):
            log.info("sandbox fault injected", op=op, fault="error")
            raise SupplierError(f"{op} failed (injected fault)", supplier=self.supplier)
        now = self.clock()
        request = orjson.dumps(args, option=orjson.OPT_SORT_KEYS).decode()
        answer, lost = await self.ledger._operate(
            op=op, key=key, request=request, now=now, perform=lambda db: perform(db, now)
        )
        if lost:
            log.info("sandbox fault injected", op=op, fault="lost_response")
            raise SupplierError(f"{op} answer lost (injected fault)", supplier=self.supplier)
        if answer.outcome != "ok":
            error = _DECLINES[answer.outcome]
            extra = {k: v for k, v in answer.payload.items() if k != "detail"}
            raise error(answer.payload["detail"], supplier=self.supplier, key=key, **extra)
        return answer.payload


class SandboxBookingAirline:
    """An airline's booking API in test mode: PNR holds that expire, tickets, cancellations."""

    def __init__(
        self,
        ledger: SandboxLedger,
        *,
        seed: int = 0,
        clock: Clock | None = None,
        seats_per_flight: int | None = None,  # None: never sold out unless a fault says so
    ) -> None:
        self._desk = _Desk(ledger, supplier=self.name, seed=seed, clock=clock or _utcnow)
        self._seats = seats_per_flight

    @property
    def name(self) -> str:
        return "sandbox-airline"

    async def hold(
        self,
        *,
        key: str,
        flight_number: str,
        departure: dt.datetime,
        seats: int,
        price_paise: int,
        ttl_s: float,
    ) -> Hold:
        departs = _stamp(departure)
        args: _Args = {"flight_number": flight_number, "departure": departs, "seats": seats,
                       "price_paise": price_paise, "ttl_s": float(ttl_s)}  # fmt: skip

        async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
            if not (1 <= seats <= _MAX_SEATS_PER_PNR and price_paise > 0 and ttl_s > 0):
                return _no("declined", "a hold needs 1-9 seats, a price and a time to live")
            if self._seats is not None:
                flight = {"flight": flight_number, "departure": departs, "now": _stamp(now)}
                if await _scalar(db, _SEATS_TAKEN, flight) + seats > self._seats:
                    return _no("sold_out", f"fewer than {seats} seats left on {flight_number}")
            hold_id = _code(self._desk.seed, "pnr", key)
            expires = _stamp(now + dt.timedelta(seconds=ttl_s))
            await db.execute(
                "INSERT INTO airline_holds VALUES (?, ?, ?, ?, ?, ?, ?, 'held')",
                (key, hold_id, flight_number, departs, seats, price_paise, expires),
            )
            return _ok(hold_id=hold_id, expires_at=expires)

        done = await self._desk.call("airline.hold", key=key, args=args, perform=perform)
        return Hold(hold_id=done["hold_id"], expires_at=_instant(done["expires_at"]))

    async def issue(self, *, key: str, hold_key: str) -> Ticket:
        async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
            hold = await _one(db, "SELECT * FROM airline_holds WHERE key = ?", (hold_key,))
            if hold is None:
                return _no("declined", "no hold under that key")
            refused = _hold_refusal(hold, now, done="ticketed")
            if refused is not None:
                return refused
            number = _ticket_number(self._desk.seed, hold["flight_number"], key)
            await db.execute(
                "INSERT INTO tickets VALUES (?, ?, ?, 'issued')", (key, number, hold_key)
            )
            await db.execute(
                "UPDATE airline_holds SET state = 'ticketed' WHERE key = ?", (hold_key,)
            )
            return _ok(ticket_number=number)

        done = await self._desk.call(
            "airline.issue", key=key, args={"hold_key": hold_key}, perform=perform
        )
        return Ticket(ticket_number=done["ticket_number"])

    async def cancel_ticket(self, *, key: str, issue_key: str) -> bool:
        sql = "UPDATE tickets SET state = 'cancelled' WHERE key = :on AND state = 'issued'"
        return await _undo(self._desk, "airline.cancel_ticket", key=key, on=issue_key, sql=sql)

    async def release(self, *, key: str, hold_key: str) -> bool:
        return await _undo(self._desk, "airline.release", key=key, on=hold_key, sql=_RELEASE_FLIGHT)


class SandboxPayments:
    """A card payment gateway in test mode: authorise, capture once, void, refund up to the
    captured amount. A payer starting with DECLINING_PAYER_PREFIX is always declined."""

    def __init__(self, ledger: SandboxLedger, *, seed: int = 0, clock: Clock | None = None) -> None:
        self._desk = _Desk(ledger, supplier=self.name, seed=seed, clock=clock or _utcnow)

    @property
    def name(self) -> str:
        return "sandbox-payments"

    async def authorise(self, *, key: str, payer: str, amount_paise: int) -> Authorisation:
        async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
            refused = _payment_refusal(payer, amount_paise)
            if refused is not None:
                return refused
            auth_id = _token("pay_", self._desk.seed, key)
            await db.execute(
                "INSERT INTO authorisations VALUES (?, ?, ?, ?, 'authorised')",
                (key, auth_id, payer, amount_paise),
            )
            return _ok(auth_id=auth_id, amount_paise=amount_paise)

        args: _Args = {"payer": payer, "amount_paise": amount_paise}
        done = await self._desk.call("payments.authorise", key=key, args=args, perform=perform)
        return Authorisation(auth_id=done["auth_id"], amount_paise=done["amount_paise"])

    async def capture(self, *, key: str, auth_key: str, amount_paise: int) -> Capture:
        async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
            auth = await _one(db, "SELECT * FROM authorisations WHERE key = ?", (auth_key,))
            if auth is None:
                return _no("declined", "no authorisation under that key")
            if auth["state"] != "authorised":
                return _no("declined", f"the authorisation was already {auth['state']}")
            if not 0 < amount_paise <= auth["amount_paise"]:
                return _no("declined", "a capture takes from 1 paisa to the authorised amount")
            capture_id = _token("cap_", self._desk.seed, key)
            await db.execute(
                "INSERT INTO captures VALUES (?, ?, ?, ?)",
                (key, capture_id, auth_key, amount_paise),
            )
            await db.execute(
                "UPDATE authorisations SET state = 'captured' WHERE key = ?", (auth_key,)
            )
            return _ok(capture_id=capture_id, amount_paise=amount_paise)

        args: _Args = {"auth_key": auth_key, "amount_paise": amount_paise}
        done = await self._desk.call("payments.capture", key=key, args=args, perform=perform)
        return Capture(capture_id=done["capture_id"], amount_paise=done["amount_paise"])

    async def void(self, *, key: str, auth_key: str) -> bool:
        sql = "UPDATE authorisations SET state = 'voided' WHERE key = :on AND state = 'authorised'"
        return await _undo(self._desk, "payments.void", key=key, on=auth_key, sql=sql)

    async def refund(self, *, key: str, auth_key: str, amount_paise: int) -> Refund:
        """Refund up to what is captured and not yet refunded; refund_id "" when that is 0."""

        async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
            if amount_paise < 0:
                return _no("declined", "a refund cannot be negative")
            left = await _scalar(db, _REFUNDABLE, {"auth": auth_key})
            amount = min(amount_paise, left)
            if amount <= 0:
                return _ok(refund_id="", amount_paise=0)
            refund_id = _token("rfnd_", self._desk.seed, key)
            await db.execute(
                "INSERT INTO refunds VALUES (?, ?, ?, ?)", (key, refund_id, auth_key, amount)
            )
            return _ok(refund_id=refund_id, amount_paise=amount)

        args: _Args = {"auth_key": auth_key, "amount_paise": amount_paise}
        done = await self._desk.call("payments.refund", key=key, args=args, perform=perform)
        return Refund(refund_id=done["refund_id"], amount_paise=done["amount_paise"])

    async def charge(self, *, key: str, payer: str, amount_paise: int) -> Capture:
        """Authorise and capture at once; refund it with `auth_key` set to this key."""

        async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
            refused = _payment_refusal(payer, amount_paise)
            if refused is not None:
                return refused
            auth_id = _token("pay_", self._desk.seed, key)
            capture_id = _token("cap_", self._desk.seed, key)
            await db.execute(
                "INSERT INTO authorisations VALUES (?, ?, ?, ?, 'captured')",
                (key, auth_id, payer, amount_paise),
            )
            await db.execute(
                "INSERT INTO captures VALUES (?, ?, ?, ?)", (key, capture_id, key, amount_paise)
            )
            return _ok(capture_id=capture_id, amount_paise=amount_paise)

        args: _Args = {"payer": payer, "amount_paise": amount_paise}
        done = await self._desk.call("payments.charge", key=key, args=args, perform=perform)
        return Capture(capture_id=done["capture_id"], amount_paise=done["amount_paise"])


# --- SQL -------------------------------------------------------------------------------------

# An expired hold has nothing left to release: the supplier already let it go.
_RELEASE_FLIGHT = "UPDATE airline_holds SET state = 'released' \
WHERE key = :on AND state = 'held' AND expires_at > :now"
_RELEASE_ROOM = "UPDATE hotel_holds SET state = 'released' \
WHERE key = :on AND state = 'held' AND expires_at > :now"

_SEATS_TAKEN = """
SELECT COALESCE(SUM(h.seats), 0) FROM airline_holds h
WHERE h.flight_number = :flight AND h.departure = :departure AND (
    (h.state = 'held' AND h.expires_at > :now)
    OR (h.state = 'ticketed' AND EXISTS (
        SELECT 1 FROM tickets t WHERE t.hold_key = h.key AND t.state = 'issued')))
"""

_REFUNDABLE = """
SELECT (SELECT COALESCE(SUM(amount_paise), 0) FROM captures WHERE auth_key = :auth)
     - (SELECT COALESCE(SUM(amount_paise), 0) FROM refunds WHERE auth_key = :auth)
"""

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

# --- helpers ---------------------------------------------------------------------------------


async def _undo(desk: _Desk, op: str, *, key: str, on: str, sql: str) -> bool:
    """A compensation: one conditional UPDATE of the row made under `on`; True if it changed."""

    async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
        # Named parameters: a statement that does not mention :now ignores it.
        cursor = await db.execute(sql, {"on": on, "now": _stamp(now)})
        return _ok(done=cursor.rowcount == 1)

    done = await desk.call(op, key=key, args={"on": on}, perform=perform)
    return bool(done["done"])


def _hold_refusal(hold: sqlite3.Row, now: dt.datetime, *, done: str) -> _Answer | None:
    if hold["state"] == "released":
        return _no("hold_expired", "the hold was released")
    if hold["state"] == done:
        return _no("declined", f"the hold is already {done}")
    if hold["expires_at"] <= _stamp(now):
        return _no("hold_expired", "the hold expired")
    return None


def _payment_refusal(payer: str, amount_paise: int) -> _Answer | None:
    if amount_paise <= 0:
        return _no("declined", "the amount must be positive")
    if payer.startswith(DECLINING_PAYER_PREFIX):
        return _no("payment_declined", "the card was declined (test payer)")
    return None


def _ok(**payload: Any) -> _Answer:
    return _Answer("ok", payload)


def _no(outcome: str, detail: str) -> _Answer:
    return _Answer(outcome, {"detail": detail})


async def _one(db: aiosqlite.Connection, sql: str, params: _Params = ()) -> sqlite3.Row | None:
    async with db.execute(sql, params) as cursor:
        return await cursor.fetchone()


async def _all(db: aiosqlite.Connection, sql: str, params: _Params = ()) -> list[sqlite3.Row]:
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


async def _scalar(db: aiosqlite.Connection, sql: str, params: _Params) -> int:
    row = await _one(db, sql, params)
    return int(row[0]) if row is not None else 0


async def _take(db: aiosqlite.Connection, op: str, counter: _Counter) -> bool:
    # One conditional statement, so two processes can never both take the last unit.
    cursor = await db.execute(
        f"UPDATE faults SET {counter} = {counter} - 1 WHERE op = ? AND {counter} > 0", (op,)
    )
    return cursor.rowcount == 1


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(t: dt.datetime) -> str:
    """UTC with microseconds always written, so stamps compare correctly as text in SQL."""
    if t.tzinfo is None:
        raise InvalidRequestError("the sandbox suppliers need timezone-aware datetimes")
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _instant(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp)


def _digest(*parts: object) -> int:
    """A stable number from the parts (not Python's salted hash), so ids repeat across runs."""
    text = "\x1f".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=16).digest(), "big")


def _encode(n: int, alphabet: str, length: int) -> str:
    chars: list[str] = []
    for _ in range(length):
        n, i = divmod(n, len(alphabet))
        chars.append(alphabet[i])
    return "".join(chars)


def _code(seed: int, kind: str, key: str) -> str:
    """A six-character record locator, as airlines and hotels hand out."""
    return _encode(_digest(seed, kind, key), string.ascii_uppercase + string.digits, 6)


def _token(prefix: str, seed: int, key: str) -> str:
    alphabet = string.digits + string.ascii_letters
    return prefix + _encode(_digest(seed, prefix, key), alphabet, 14)


# IATA ticketing prefixes of the carriers the fare sandbox flies; others get a stable made-up one.
_TICKET_PREFIX: Final = {"AI": "098", "6E": "312", "SG": "775", "UK": "228"}


def _ticket_number(seed: int, flight_number: str, key: str) -> str:
    """The carrier's three-digit prefix and a ten-digit serial: 13 digits, as e-tickets have."""
    carrier = flight_number.split(" ", 1)[0][:2].upper()
    prefix = _TICKET_PREFIX.get(carrier) or f"{100 + _digest('carrier', carrier) % 900}"
    return f"{prefix}-{_digest(seed, 'ticket', key) % 10**10:010d}"
