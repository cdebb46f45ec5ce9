"""The SQLite discipline every writer of the bookings database follows (the booking record and
the agents' audit trail share the file, and the API and worker processes both write it).

* Autocommit connections (`isolation_level=None`): Python's default opens a transaction
  implicitly before a write and leaves it open when the write fails or its awaiting coroutine
  is cancelled; that transaction then holds the file's write lock, or pins a stale snapshot
  for every later read on the connection, until the process dies.
* Every write is one `BEGIN IMMEDIATE ... COMMIT` (`Writer.transaction`), rolled back on any
  exception, cancellation included. IMMEDIATE takes the write lock up front, so the busy
  timeout applies; a deferred read-then-write would fail at once with SQLITE_BUSY_SNAPSHOT.
* The busy timeout stays under Temporal's activity timeout (15 s), so a write that waits too
  long fails and rolls back on its own instead of being cancelled mid-wait.
* A locked or failing database is `DependencyUnavailableError` (503, retryable), never a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Literal

import aiosqlite

from core.errors import DependencyUnavailableError

BUSY_TIMEOUT_S = 10.0


async def connect(path: Path, *, synchronous: Literal["FULL", "NORMAL"]) -> aiosqlite.Connection:
    """An autocommit connection in WAL mode with the busy timeout set."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with unavailable_on_error(path.name):
        db = await aiosqlite.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        with unavailable_on_error(path.name):
            await db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute(f"PRAGMA synchronous={synchronous}")
    except BaseException:
        await db.close()
        raise
    return db


async def open_store(
    path: Path, *, schema: str, synchronous: Literal["FULL", "NORMAL"], what: str
) -> aiosqlite.Connection:
    """`connect`, then create the store's tables (`schema`) if they are missing."""
    db = await connect(path, synchronous=synchronous)
    try:
        with unavailable_on_error(what):
            await db.executescript(schema)
    except BaseException:
        await db.close()
        raise
    return db


@contextlib.contextmanager
def unavailable_on_error(what: str) -> Iterator[None]:
    """Translate SQLite's operational failures (locked, busy, I/O) at the adapter boundary."""
    try:
        yield
    except sqlite3.OperationalError as e:
        raise DependencyUnavailableError(f"{what} is unavailable: {e}") from e


class Writer:
    """One connection's write transactions, one at a time (a transaction must not interleave
    with another coroutine's statements on the same connection)."""

    def __init__(self, db: aiosqlite.Connection, *, what: str) -> None:
        self._db = db
        self._what = what
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            try:
                with unavailable_on_error(self._what):
                    if self._db.in_transaction:  # never carry one over, whatever left it
                        await self._db.rollback()
                    # Inside the try: if the wait for the write lock is cancelled, the BEGIN
                    # still runs on aiosqlite's thread, and the rollback queued after it undoes
                    # it before the next statement on this connection.
                    await self._db.execute("BEGIN IMMEDIATE")
                    yield self._db
                    await self._db.commit()
            except BaseException:
                await self._rollback()
                raise

    async def _rollback(self) -> None:
        # Queued on aiosqlite's thread before the lock is released, so it runs even if this
        # coroutine is cancelled again while it waits for it.
        with contextlib.suppress(sqlite3.Error, ValueError):
            await self._db.rollback()
