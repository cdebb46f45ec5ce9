"""The app with its bookings database on PostgreSQL (YATRI_DATABASE_URL): a booking made, its
names corrected and a traveller's profile saved through one app are read back through another
that shares nothing with it but the database, and nothing of it lands in the SQLite file.
The booking tests that lean on the record's guarantees (one charge, compensation, retries,
idempotency, concurrent requests, changes and refunds) run here again, unchanged, on it. Then
what SQLite has no counterpart of: migrations when processes start together, a server that is
not there, and one that drops every connection."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from api.booking_backends import BOOKINGS_DB
from bookings.postgres import migrate, migrations
from bookings.postgres_store import PostgresBookingStore
from core.embedded import Endpoints
from core.errors import DependencyUnavailableError
from core.settings import Settings
from tests.booking_support import app_client, booking
from tests.test_bookings import (
    book,
    offer,
    order,
    test_booking_confirms_with_one_charge_and_a_ticket,
    test_cancel_completes_through_supplier_failures_with_one_refund,
    test_compensation_at_every_failure_point,
    test_flight_and_hotel_book_together_or_not_at_all,
    test_idempotency_key_semantics,
    test_lost_answers_and_transient_errors_are_retried_without_repeating,
    test_modify_moves_the_flight_and_settles_the_difference,
    test_one_charge_for_fifty_concurrent_requests_with_one_key,
    token,
)

# Collected here too, so they run with this module's settings: on PostgreSQL.
ON_POSTGRESQL = (
    test_booking_confirms_with_one_charge_and_a_ticket,
    test_cancel_completes_through_supplier_failures_with_one_refund,
    test_compensation_at_every_failure_point,
    test_flight_and_hotel_book_together_or_not_at_all,
    test_idempotency_key_semantics,
    test_lost_answers_and_transient_errors_are_retried_without_repeating,
    test_modify_moves_the_flight_and_settles_the_difference,
    test_one_charge_for_fifty_concurrent_requests_with_one_key,
)


@pytest.fixture
def settings(settings: Settings, postgres_url: str) -> Settings:
    return settings.model_copy(
        update={"database_url": postgres_url, "booking_wait_s": 30.0, "booking_hold_ttl_s": 120.0}
    )


async def test_a_booking_on_postgresql_outlives_the_process_and_its_data_directory(
    settings: Settings, endpoints: Endpoints, postgres_url: str
) -> None:
    async with app_client(settings, endpoints) as c:
        found = await offer(c, days=12)
        booked = await book(c, settings, order(found))
        assert booked.status_code == 201, booked.text
        booking = booked.json()
        assert booking["status"] == "confirmed"
        fixed = await c.post(
            f"/v1/bookings/{booking['booking_id']}/modify",
            json={"travellers": [{"first_name": "Aasha0", "last_name": "Rao"}]},
            headers=token(settings, "trav-1") | {"idempotency-key": str(uuid.uuid4())},
        )
        assert fixed.status_code == 200, fixed.text
        saved = await c.put(
            "/v1/travellers/me", headers=token(settings, "trav-pg"),
            json={"phone": "+91 98765 11111",
                  "passengers": [{"first_name": "मीरा", "last_name": "Iyer", "relation": "self"}]},
        )  # fmt: skip
        assert saved.status_code == 200, saved.text
    # Everything the bookings database holds went to PostgreSQL, none of it to the SQLite file.
    assert not (settings.data_dir / BOOKINGS_DB).exists()
    # Another process on another host: its own data directory, the same database.
    elsewhere = settings.model_copy(update={"data_dir": settings.data_dir.parent / "elsewhere"})
    async with app_client(elsewhere, endpoints) as c:
        again = await c.get(
            f"/v1/bookings/{booking['booking_id']}", headers=token(settings, "trav-1")
        )
        profile = await c.get("/v1/travellers/me", headers=token(settings, "trav-pg"))
    assert again.status_code == 200
    assert again.json()["travellers"] == [{"first_name": "Aasha0", "last_name": "Rao"}]
    assert [h["status"] for h in again.json()["history"]] == ["pending", "confirmed", "confirmed"]
    assert profile.status_code == 200 and profile.json()["passengers"][0]["first_name"] == "मीरा"
    store = await PostgresBookingStore.open(postgres_url)
    try:
        record = await store.get(booking["booking_id"])
    finally:
        await store.close()
    assert record is not None and record.paid_paise == found["price"]["total_paise"]


# --- what SQLite has no counterpart of ------------------------------------------------------


async def test_migrations_apply_once_when_processes_start_together(postgres_url: str) -> None:
    results = await asyncio.gather(*(migrate(postgres_url) for _ in range(4)))
    names = [m.name for m in migrations()]
    assert sorted(sum(results, [])) == sorted(names)  # each file applied by exactly one
    assert await migrate(postgres_url) == []
    stores = await asyncio.gather(*(PostgresBookingStore.open(postgres_url) for _ in range(3)))
    try:
        assert await stores[0].create(booking("bk-1")) is True
        assert await stores[2].get("bk-1") is not None
    finally:
        for store in stores:
            await store.close()


async def test_an_unreachable_server_is_a_retryable_unavailable(tmp_path: Path) -> None:
    url = f"postgresql://postgres@/yatri?host={tmp_path}"  # no server listens there
    with pytest.raises(DependencyUnavailableError) as raised:
        await PostgresBookingStore.open(url)
    assert raised.value.retryable


async def test_dropped_connections_are_retryable_until_the_pool_reconnects(
    postgres_server: Any, postgres_url: str
) -> None:
    store = await PostgresBookingStore.open(postgres_url, max_connections=2)
    try:
        await store.create(booking("bk-1"))
        database = urlsplit(postgres_url).path.lstrip("/")
        for _ in range(3):
            # What a failover or a server restart does to every open session.
            postgres_server.psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{database}' AND pid <> pg_backend_pid();"
            )
            found = None
            for _ in range(5):  # a call may meet each dead connection once, never more
                try:
                    found = await store.get("bk-1")
                    break
                except DependencyUnavailableError as e:
                    assert e.retryable  # "try again", never a 500
            assert found is not None and found.booking_id == "bk-1"
    finally:
        await store.close()
