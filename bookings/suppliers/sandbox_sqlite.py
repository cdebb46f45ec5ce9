"""The SQLite file the sandbox suppliers share: its tables, and the helpers that every sandbox
module (the ledger, the airline, payments, the hotel desk) reads it and stamps times with.

One file rather than memory, so that a restarted worker process finds what a killed one held.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

import aiosqlite

from core.errors import InvalidRequestError

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

_Params = Iterable[Any] | Mapping[str, Any]


async def _one(db: aiosqlite.Connection, sql: str, params: _Params = ()) -> sqlite3.Row | None:
    async with db.execute(sql, params) as cursor:
        return await cursor.fetchone()


async def _all(db: aiosqlite.Connection, sql: str, params: _Params = ()) -> list[sqlite3.Row]:
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


async def _scalar(db: aiosqlite.Connection, sql: str, params: _Params) -> int:
    row = await _one(db, sql, params)
    return int(row[0]) if row is not None else 0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(t: dt.datetime) -> str:
    """UTC with microseconds always written, so stamps compare correctly as text in SQL."""
    if t.tzinfo is None:
        raise InvalidRequestError("the sandbox suppliers need timezone-aware datetimes")
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _instant(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp)
