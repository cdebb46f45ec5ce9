"""PostgreSQL for the bookings database when `YATRI_DATABASE_URL` is set: what every PostgreSQL
store of it (the booking record, the agents' audit trail, traveller profiles) shares, as
bookings.sqlite is for the SQLite file.

* Schema changes are the numbered files in bookings/migrations, applied in order at open and
  recorded in `schema_migrations`. A session advisory lock serialises them, so processes that
  start together apply each file once: the others wait, then find it recorded.
* Every write is one transaction: a single statement in autocommit where it can be (one round
  trip), else an explicit one rolled back on any exception, cancellation included (a
  connection released mid-statement is reset or closed by the pool, never reused inside a
  transaction; the server ends a session left idle inside one).
* The statement timeout stays under Temporal's activity timeout (15 s), as SQLite's busy
  timeout does, so a write that waits too long fails and rolls back on its own.
* A database that is down, restarting, overloaded or that aborts a transaction to break a
  deadlock is `DependencyUnavailableError` (503, retryable); any other error is a bug and
  propagates as itself.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from core.errors import DependencyUnavailableError
from core.logging import get_logger

log = get_logger(__name__)

STATEMENT_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 10.0
# A pooled connection is waited for at most this long before the call fails as unavailable.
ACQUIRE_TIMEOUT_S = 5.0
# The server ends a session that holds a transaction open this long doing nothing.
IDLE_IN_TRANSACTION_TIMEOUT_S = 30.0
# Migrations may rewrite tables and wait for another process's migrations: a longer bound.
MIGRATION_TIMEOUT_S = 300.0
# pg_advisory_lock key of the bookings database's migrations (any constant 64-bit number).
MIGRATION_LOCK = 0x59_41_54_52_49_42_4B_01
# SQLSTATE classes that say "not now" rather than "wrong": connection exception, transaction
# rollback (serialisation failure, deadlock), insufficient resources, operator intervention
# (shutdown, statement timeout), system error.
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_MIGRATION_FILE = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


@contextlib.contextmanager
def unavailable_on_error(what: str) -> Iterator[None]:
    """Translate asyncpg's transient failures at the adapter boundary."""
    try:
        yield
    except asyncpg.PostgresError as e:
        sqlstate = str(e.sqlstate or "")
        if sqlstate[:2] in _TRANSIENT_CLASSES or sqlstate == "55P03":  # 55P03: lock timeout
            raise DependencyUnavailableError(f"{what} is unavailable ({type(e).__name__})") from e
        raise
    except (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, TimeoutError) as e:
        # InternalClientError: a pooled connection the server dropped (restart, failover) can
        # fail once more this way before the pool replaces it; no connection is shared here.
        raise DependencyUnavailableError(f"{what} is unavailable ({type(e).__name__})") from e


async def open_pool(url: str, *, what: str, max_size: int) -> asyncpg.Pool:
    """A connection pool on `url`, after bringing the schema up to date."""
    with unavailable_on_error(what):
        await migrate(url)
        pool: asyncpg.Pool = await asyncpg.create_pool(
            url,
            min_size=1,
            max_size=max_size,
            timeout=CONNECT_TIMEOUT_S,
            command_timeout=STATEMENT_TIMEOUT_S,
            # Connections idle this long are closed, so a quiet process holds few of them.
            max_inactive_connection_lifetime=300.0,
            server_settings={
                "statement_timeout": str(int(STATEMENT_TIMEOUT_S * 1000)),
                "idle_in_transaction_session_timeout": str(
                    int(IDLE_IN_TRANSACTION_TIMEOUT_S * 1000)
                ),
            },
        )
    return pool


@contextlib.asynccontextmanager
async def connection(pool: asyncpg.Pool, *, what: str) -> AsyncIterator[PoolConnectionProxy]:
    """A pooled connection in autocommit: each statement is a transaction of its own."""
    with unavailable_on_error(what):
        async with pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn:
            yield conn


@contextlib.asynccontextmanager
async def transaction(
    pool: asyncpg.Pool, *, what: str, read_only: bool = False
) -> AsyncIterator[PoolConnectionProxy]:
    """One transaction on a pooled connection: committed when the block ends, rolled back on
    any exception. Read-only ones are REPEATABLE READ, so what they read is one snapshot."""
    with unavailable_on_error(what):
        async with (
            pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn,
            conn.transaction(
                isolation="repeatable_read" if read_only else "read_committed",
                readonly=read_only,
            ),
        ):
            yield conn


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The schema's migration files, in order."""
    found: dict[int, Migration] = {}
    for entry in (importlib.resources.files("bookings") / "migrations").iterdir():
        match = _MIGRATION_FILE.fullmatch(entry.name)
        if match is None:
            continue
        version = int(match[1])
        if version in found:
            raise RuntimeError(f"two migrations numbered {version}: {entry.name}")
        found[version] = Migration(version, entry.name, entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def migrate(url: str) -> list[str]:
    """Apply the migrations the database lacks, each in a transaction of its own with its row
    in `schema_migrations`; the names of those applied now. On a connection of its own, so
    the session lock goes with it whatever happens (a cancelled start included)."""
    conn = await asyncpg.connect(
        url, timeout=CONNECT_TIMEOUT_S, command_timeout=MIGRATION_TIMEOUT_S
    )
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
            "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        done = []
        for migration in migrations():
            if migration.version in applied:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            log.info("database migration applied", migration=migration.name)
            done.append(migration.name)
        return done
    finally:
        await conn.close()  # ends the session, and its advisory lock with it
