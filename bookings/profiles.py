"""Traveller profiles: the phone number a caller is matched by, the email and mobile tickets
go to, and the passengers a traveller books for again and again ("me and my wife").

The marketplace's account service owns profiles; Yatri keeps its own copy in the bookings
database (SQLite here, the same `ProfileStore` port for another store at scale), written by
the traveller through `PUT /v1/travellers/me` and seeded with a few sandbox travellers so a
fresh install can be called and booked by voice. A phone number belongs to one profile:
matching a caller by number is only the first half of knowing who calls (the one-time code
sent to that number is the second, sessions/skills/identity.py).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Protocol

import aiosqlite
import orjson
from pydantic import Field, field_validator, model_validator

from bookings.models import Payload, Traveller
from bookings.sqlite import Writer, open_store, unavailable_on_error
from core.errors import ConflictError
from core.party import age_on, type_for_age
from core.phones import e164

_WHAT = "the traveller profiles"
MAX_SAVED = 12

_SCHEMA = """
CREATE TABLE IF NOT EXISTS traveller_profiles (
    traveller_id TEXT PRIMARY KEY,
    phone TEXT UNIQUE,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""


class SavedPassenger(Payload):
    """Someone the traveller books for, named as on their ID."""

    first_name: str = Field(min_length=1, max_length=60)
    last_name: str = Field(min_length=1, max_length=60)
    relation: str = Field(
        default="other", pattern=r"^[a-z_]{2,20}$",
        description="Who they are to the traveller: self, spouse, wife, husband, son, "
        "daughter, child, mother, father, brother, sister, friend, colleague or other.",
    )  # fmt: skip
    date_of_birth: dt.date | None = Field(
        default=None, description="Needed to book a child (2-11) or an infant (under 2)."
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def traveller(self, *, travel_date: dt.date) -> Traveller:
        """The passenger as a booking names them, typed by their age on the travel date."""
        if self.date_of_birth is None:
            return Traveller(first_name=self.first_name, last_name=self.last_name)
        kind = type_for_age(age_on(travel_date, born=self.date_of_birth))
        return Traveller(first_name=self.first_name, last_name=self.last_name,
                         passenger_type=kind, date_of_birth=self.date_of_birth)  # fmt: skip


class TravellerProfile(Payload):
    traveller_id: str = Field(min_length=1, max_length=128)
    phone: str | None = Field(
        default=None, max_length=40,
        description="The traveller's mobile; stored in E.164. A caller from this number is "
        "sent a one-time code to it before anything is booked or changed by phone.",
    )  # fmt: skip
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    passengers: tuple[SavedPassenger, ...] = Field(default=(), max_length=MAX_SAVED)

    @field_validator("phone")
    @classmethod
    def _canonical_phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        canonical = e164(value)
        if canonical is None:
            raise ValueError("not a valid phone number (give it with its country code)")
        return canonical

    @model_validator(mode="after")
    def _one_self(self) -> TravellerProfile:
        if sum(p.relation == "self" for p in self.passengers) > 1:
            raise ValueError("only one saved passenger can be the traveller (relation 'self')")
        return self

    @property
    def self_passenger(self) -> SavedPassenger | None:
        return next((p for p in self.passengers if p.relation == "self"), None)


class ProfileStore(Protocol):
    async def get(self, traveller_id: str) -> TravellerProfile | None: ...

    async def by_phone(self, phone: str) -> TravellerProfile | None:
        """The profile whose number is `phone` (any common writing of it), or None."""
        ...

    async def put(self, profile: TravellerProfile) -> None:
        """Create or replace; ConflictError when another profile has the number."""
        ...


class SqliteProfileStore:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._writer = Writer(db, what=_WHAT)

    @classmethod
    async def open(cls, path: Path) -> SqliteProfileStore:
        return cls(await open_store(path, schema=_SCHEMA, synchronous="FULL", what=_WHAT))

    async def close(self) -> None:
        await self._db.close()

    async def get(self, traveller_id: str) -> TravellerProfile | None:
        return await self._one("traveller_id", traveller_id)

    async def by_phone(self, phone: str) -> TravellerProfile | None:
        canonical = e164(phone)
        return None if canonical is None else await self._one("phone", canonical)

    async def _one(self, column: str, value: str) -> TravellerProfile | None:
        with unavailable_on_error(_WHAT):
            cursor = await self._db.execute(
                f"SELECT body FROM traveller_profiles WHERE {column} = ?", (value,)
            )
            row = await cursor.fetchone()
        return None if row is None else TravellerProfile.model_validate_json(row[0])

    async def put(self, profile: TravellerProfile) -> None:
        now = dt.datetime.now(dt.UTC).isoformat()
        async with self._writer.transaction() as db:
            if profile.phone is not None:
                cursor = await db.execute(
                    "SELECT traveller_id FROM traveller_profiles WHERE phone = ?", (profile.phone,)
                )
                owner = await cursor.fetchone()
                if owner is not None and owner[0] != profile.traveller_id:
                    raise ConflictError("this phone number is on another traveller's profile",
                                        field="phone")  # fmt: skip
            await db.execute(
                "INSERT INTO traveller_profiles (traveller_id, phone, body, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (traveller_id) DO UPDATE SET "
                "phone = excluded.phone, body = excluded.body, updated_at = excluded.updated_at",
                (profile.traveller_id, profile.phone, profile.model_dump_json(), now),
            )

    async def seed(self, profiles: tuple[TravellerProfile, ...]) -> None:
        """Add the sandbox travellers that are not there yet (their numbers are fictional)."""
        async with self._writer.transaction() as db:
            for profile in profiles:
                await db.execute(
                    "INSERT OR IGNORE INTO traveller_profiles (traveller_id, phone, body, "
                    "updated_at) VALUES (?, ?, ?, ?)",
                    (profile.traveller_id, profile.phone, profile.model_dump_json(),
                     dt.datetime.now(dt.UTC).isoformat()),
                )  # fmt: skip


def _p(first: str, last: str, relation: str, born: str | None = None) -> SavedPassenger:
    return SavedPassenger(first_name=first, last_name=last, relation=relation,
                          date_of_birth=dt.date.fromisoformat(born) if born else None)  # fmt: skip


# Sandbox travellers (numbers from the +91 90000 range no operator has issued to a person
# in these tests' records; change them with PUT /v1/travellers/me).
SANDBOX_PROFILES = (
    TravellerProfile(
        traveller_id="trv-sandbox-asha", phone="+91 90000 00001", email="asha.rao@example.com",
        passengers=(_p("Asha", "Rao", "self", "1988-04-12"), _p("Vikram", "Rao", "husband"),
                    _p("Riya", "Rao", "daughter", "2018-03-14"),
                    _p("Kabir", "Rao", "son", "2025-09-01"), _p("Sunita", "Rao", "mother")),
    ),
    TravellerProfile(
        traveller_id="trv-sandbox-imran", phone="+91 90000 00002",
        email="imran.sheikh@example.com",
        passengers=(_p("Imran", "Sheikh", "self"), _p("Sana", "Sheikh", "wife")),
    ),
)  # fmt: skip


def profile_json(profile: TravellerProfile) -> dict[str, object]:
    return orjson.loads(profile.model_dump_json())  # type: ignore[no-any-return]
