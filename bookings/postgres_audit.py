"""`AuditLog` and `ProfileStore` on PostgreSQL (YATRI_DATABASE_URL), in the same database as the
booking record, as their SQLite adapters share the bookings file. Each has a small pool of its
own, so an audit write never waits for a connection behind booking transactions."""

from __future__ import annotations

import datetime as dt

import asyncpg

from bookings.audit import ENTRY_COLUMNS, ToolCallEntry, entry_from_row, entry_values
from bookings.postgres import open_pool, transaction
from bookings.profiles import TravellerProfile
from core.errors import ConflictError
from core.phones import e164

_AUDIT = "the audit log"
_PROFILES = "the traveller profiles"


class PostgresAuditLog:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str, *, max_connections: int = 4) -> PostgresAuditLog:
        return cls(await open_pool(url, what=_AUDIT, max_size=max_connections))

    async def close(self) -> None:
        await self._pool.close()

    async def record(self, entry: ToolCallEntry) -> None:
        async with transaction(self._pool, what=_AUDIT) as conn:
            await conn.execute(
                f"INSERT INTO tool_audit ({ENTRY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                *entry_values(entry, instants_as_text=False),
            )

    async def entries(
        self, *, agent_id: str | None = None, traveller_id: str | None = None, limit: int = 100
    ) -> list[ToolCallEntry]:
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (("agent_id", agent_id), ("traveller_id", traveller_id)):
            if value is not None:
                params.append(value)
                clauses.append(f"{column} = ${len(params)}")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        async with transaction(self._pool, what=_AUDIT, read_only=True) as conn:
            rows = await conn.fetch(
                f"SELECT {ENTRY_COLUMNS} FROM tool_audit {where} "
                f"ORDER BY id DESC LIMIT ${len(params) + 1}",
                *params, limit,
            )  # fmt: skip
        return [entry_from_row(row) for row in rows]


class PostgresProfileStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str, *, max_connections: int = 4) -> PostgresProfileStore:
        return cls(await open_pool(url, what=_PROFILES, max_size=max_connections))

    async def close(self) -> None:
        await self._pool.close()

    async def get(self, traveller_id: str) -> TravellerProfile | None:
        return await self._one("traveller_id", traveller_id)

    async def by_phone(self, phone: str) -> TravellerProfile | None:
        canonical = e164(phone)
        return None if canonical is None else await self._one("phone", canonical)

    async def _one(self, column: str, value: str) -> TravellerProfile | None:
        async with transaction(self._pool, what=_PROFILES, read_only=True) as conn:
            body = await conn.fetchval(
                f"SELECT body FROM traveller_profiles WHERE {column} = $1", value
            )
        return None if body is None else TravellerProfile.model_validate_json(body)

    async def put(self, profile: TravellerProfile) -> None:
        try:
            async with transaction(self._pool, what=_PROFILES) as conn:
                await conn.execute(
                    "INSERT INTO traveller_profiles (traveller_id, phone, body, updated_at) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (traveller_id) DO UPDATE SET "
                    "phone = excluded.phone, body = excluded.body, "
                    "updated_at = excluded.updated_at",
                    profile.traveller_id, profile.phone, profile.model_dump_json(),
                    dt.datetime.now(dt.UTC),
                )  # fmt: skip
        except asyncpg.UniqueViolationError as e:
            # Only the phone can collide here: the traveller's own row is updated in place.
            raise ConflictError(
                "this phone number is on another traveller's profile", field="phone"
            ) from e

    async def seed(self, profiles: tuple[TravellerProfile, ...]) -> None:
        """Add the sandbox travellers that are not there yet (their numbers are fictional)."""
        now = dt.datetime.now(dt.UTC)
        async with transaction(self._pool, what=_PROFILES) as conn:
            await conn.executemany(
                "INSERT INTO traveller_profiles (traveller_id, phone, body, updated_at) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                [(p.traveller_id, p.phone, p.model_dump_json(), now) for p in profiles],
            )
