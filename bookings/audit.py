"""The audit trail of what AI agents did on travellers' behalf: one row per tool call, with who
asked, for whom, what (arguments already redacted by the caller), how it ended and how long it
took. Kept in the bookings database because it answers the same question a booking's history
does (who changed this, and when), and outlives every log retention window. `record_call` writes
a row for every surface (MCP tools, the REST agent gate); `summarize_arguments` and `scrub_error`
say what of a call's arguments and error a row may keep."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import aiosqlite
import orjson

from bookings.rows import Row, instant
from bookings.sqlite import Writer, open_store, unavailable_on_error
from core.logging import get_logger
from core.redaction import redact_text, redact_value

log = get_logger("yatri.audit")

_WHAT = "the audit log"
# Arguments that reach the audit log as given (after redaction); others are summarised.
_PLAIN_ARGUMENTS = frozenset(
    {"origin", "destination", "date", "adults", "children", "cabin", "flight_number",
     "fare_family", "quote_id", "booking_id", "new_date", "new_flight_number"}
)  # fmt: skip
_INPUT_VALUE = re.compile(r"input_value=.*?, input_type=")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tool_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    traveller_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT,
    duration_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tool_audit_by_agent ON tool_audit (agent_id, at);
CREATE INDEX IF NOT EXISTS tool_audit_by_traveller ON tool_audit (traveller_id, at);
"""

# The order `entry_values` encodes in and `entry_from_row` decodes from, in both adapters.
ENTRY_COLUMNS = "at, agent_id, traveller_id, tool, arguments, outcome, error, duration_ms"

Outcome = Literal["ok", "error"]


@dataclass(frozen=True, slots=True)
class ToolCallEntry:
    """One tool call. `arguments` is a summary with personal data and secrets already removed:
    the audit log stores what it is given."""

    at: dt.datetime
    agent_id: str
    traveller_id: str
    tool: str
    arguments: str
    outcome: Outcome
    error: str | None
    duration_ms: float


class AuditLog(Protocol):
    async def record(self, entry: ToolCallEntry) -> None: ...

    async def entries(
        self, *, agent_id: str | None = None, traveller_id: str | None = None, limit: int = 100
    ) -> list[ToolCallEntry]:
        """The newest entries first, optionally for one agent or one traveller."""
        ...


class SqliteAuditLog:
    """`AuditLog` in a table of the bookings database, on a connection of its own so that an
    audit write never waits behind (or interleaves with) a booking transaction. Its writes
    follow bookings.sqlite's discipline too: an abandoned one would lock the bookings file."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._writer = Writer(db, what=_WHAT)

    @classmethod
    async def open(cls, path: Path) -> SqliteAuditLog:
        # NORMAL in WAL mode loses at most the last few rows on power loss, never corrupts:
        # enough for an audit trail, and it keeps fsyncs off every tool call.
        return cls(await open_store(path, schema=_SCHEMA, synchronous="NORMAL", what=_WHAT))

    async def close(self) -> None:
        await self._db.close()

    async def record(self, entry: ToolCallEntry) -> None:
        async with self._writer.transaction() as db:
            await db.execute(
                f"INSERT INTO tool_audit ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                entry_values(entry, instants_as_text=True),
            )

    async def entries(
        self, *, agent_id: str | None = None, traveller_id: str | None = None, limit: int = 100
    ) -> list[ToolCallEntry]:
        clauses: list[str] = []
        params: list[object] = []
        if agent_id is not None:
            clauses.append("agent_id = ?")
            params.append(agent_id)
        if traveller_id is not None:
            clauses.append("traveller_id = ?")
            params.append(traveller_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with unavailable_on_error(_WHAT):
            async with self._db.execute(
                f"SELECT {ENTRY_COLUMNS} FROM tool_audit {where} ORDER BY id DESC LIMIT ?",
                (*params, limit),
            ) as cursor:
                rows = await cursor.fetchall()
        return [entry_from_row(row) for row in rows]


def entry_values(entry: ToolCallEntry, *, instants_as_text: bool) -> tuple[object, ...]:
    """The entry's values in ENTRY_COLUMNS order; `at` is ISO text in SQLite, timestamptz in
    PostgreSQL."""
    return (
        entry.at.isoformat() if instants_as_text else entry.at,
        entry.agent_id,
        entry.traveller_id,
        entry.tool,
        entry.arguments,
        entry.outcome,
        entry.error,
        entry.duration_ms,
    )


def entry_from_row(row: Row) -> ToolCallEntry:
    return ToolCallEntry(
        at=instant(row[0]),
        agent_id=str(row[1]),
        traveller_id=str(row[2]),
        tool=str(row[3]),
        arguments=str(row[4]),
        outcome="ok" if row[5] == "ok" else "error",
        error=None if row[6] is None else str(row[6]),
        duration_ms=float(row[7]),
    )


async def record_call(
    audit: AuditLog,
    *,
    agent_id: str,
    traveller_id: str,
    tool: str,
    arguments: str,
    error: str | None,
    duration_ms: float,
) -> ToolCallEntry:
    """Write one agent call's row and return it. A failed write is logged, never raised."""
    entry = ToolCallEntry(
        at=dt.datetime.now(dt.UTC), agent_id=agent_id, traveller_id=traveller_id, tool=tool,
        arguments=arguments, outcome="ok" if error is None else "error", error=error,
        duration_ms=duration_ms,
    )  # fmt: skip
    try:
        await audit.record(entry)
    except Exception:
        # The call has already happened; failing its answer now would hide a booking.
        log.exception("agent audit write failed", agent=agent_id, tool=tool)
    return entry


def summarize_arguments(arguments: Mapping[str, Any]) -> str:
    """The arguments as the audit log keeps them: traveller names counted; contact details,
    the confirmation code and anything unexpected left out."""
    summary: dict[str, Any] = {}
    for key, value in arguments.items():
        if key in _PLAIN_ARGUMENTS:
            summary[key] = redact_value(value if not isinstance(value, str) else value[:64])
        elif key == "travellers" and isinstance(value, list):
            summary[key] = f"{len(value)} names"
        elif key == "contact":
            summary[key] = "[redacted]"
        else:
            summary[key] = "[omitted]"
    return orjson.dumps(summary).decode()[:2000]


def scrub_error(error: str, arguments: Mapping[str, Any]) -> str:
    """An error message fit for the audit log: validation messages quote the rejected values,
    which may be a name or the code."""
    error = _INPUT_VALUE.sub("input_value=[omitted], input_type=", error)
    code = arguments.get("confirmation")
    if isinstance(code, str) and code:
        error = error.replace(code, "[omitted]")
    return redact_text(error)[:1000]
