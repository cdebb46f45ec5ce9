"""The sandbox booking airline: an airline's booking API in test mode, with PNR holds that
expire, seats that sell out, 13-digit tickets and cancellations, all kept in the sandbox ledger.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import aiosqlite

from bookings.suppliers.base import Hold, Ticket
from bookings.suppliers.sandbox_desk import (
    _RELEASE_FLIGHT,
    Clock,
    _Args,
    _code,
    _Desk,
    _digest,
    _hold_refusal,
    _undo,
)
from bookings.suppliers.sandbox_ledger import SandboxLedger, _Answer, _no, _ok
from bookings.suppliers.sandbox_sqlite import _instant, _one, _scalar, _stamp, _utcnow

_MAX_SEATS_PER_PNR = 9

_SEATS_TAKEN = """
SELECT COALESCE(SUM(h.seats), 0) FROM airline_holds h
WHERE h.flight_number = :flight AND h.departure = :departure AND (
    (h.state = 'held' AND h.expires_at > :now)
    OR (h.state = 'ticketed' AND EXISTS (
        SELECT 1 FROM tickets t WHERE t.hold_key = h.key AND t.state = 'issued')))
"""


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


# IATA ticketing prefixes of the carriers the fare sandbox flies; others get a stable made-up one.
_TICKET_PREFIX: Final = {"AI": "098", "6E": "312", "SG": "775", "UK": "228"}


def _ticket_number(seed: int, flight_number: str, key: str) -> str:
    """The carrier's three-digit prefix and a ten-digit serial: 13 digits, as e-tickets have."""
    carrier = flight_number.split(" ", 1)[0][:2].upper()
    prefix = _TICKET_PREFIX.get(carrier) or f"{100 + _digest('carrier', carrier) % 900}"
    return f"{prefix}-{_digest(seed, 'ticket', key) % 10**10:010d}"
