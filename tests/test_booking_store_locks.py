"""The bookings database under lock contention (issue 10's chaos finding): the API and worker
processes write one SQLite file, and a write that waits for the lock and is abandoned (a
Temporal activity timeout cancels it) must not leave a transaction open that blocks every later
write. Real SQLite files, and a second connection holding the write lock as another process
would; through the app, the real Temporal dev server and Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from temporalio.testing import ActivityEnvironment

from api.booking_backends import BOOKINGS_DB
from bookings.activities import RECORD_ALERT_ATTEMPTS, BookingActivities
from bookings.models import BookingStatus, Transition
from bookings.store import SqliteBookingStore
from bookings.workflows import STEP_TIMEOUT
from core.settings import Settings
from tests.booking_support import booking
from tests.test_bookings import book, ledger, offer, order, token

TERMINAL = {"confirmed", "failed", "price_changed"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The API answers at once (202); the in-process worker runs the workflow.
    return settings.model_copy(update={"booking_wait_s": 0.5, "booking_hold_ttl_s": 300.0})


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another process's writer holding the file's write lock until the block ends."""
    other = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_a_write_abandoned_while_waiting_for_the_lock_leaves_nothing_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / BOOKINGS_DB
    worker = await SqliteBookingStore.open(path)  # the `yatri worker` process's store
    api = await SqliteBookingStore.open(path)  # the API process's store
    try:
        await api.create(booking("bk_1"))
        # As a Temporal activity timeout does: cancel the write while it waits for the lock.
        with write_lock_held(path), pytest.raises(TimeoutError):
            await asyncio.wait_for(
                worker.transition(booking_id="bk_1", step="book:end",
                                  status=BookingStatus.CONFIRMED),
                timeout=0.5,
            )  # fmt: skip
        # The retry goes through, and the other process can still write.
        await worker.transition(booking_id="bk_1", step="book:end", status=BookingStatus.CONFIRMED)
        assert await api.create(booking("bk_2"))
        got = await api.get("bk_1")
        assert got is not None and got.status is BookingStatus.CONFIRMED
        with sqlite3.connect(path, timeout=5) as probe:
            assert probe.execute("SELECT COUNT(*) FROM bookings").fetchone() == (2,)
    finally:
        await worker.close()
        await api.close()


async def test_a_locked_booking_store_answers_503_and_then_books(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    found = await offer(client)
    key = str(uuid.uuid4())
    with write_lock_held(settings.data_dir / BOOKINGS_DB):
        refused = await book(client, settings, order(found), key=key)
    assert refused.status_code == 503, refused.text
    assert refused.json()["type"].endswith("dependency-unavailable")

    # The same request retried once the lock is gone books, and the record reads fresh.
    retried = await book(client, settings, order(found), key=key)
    assert retried.status_code in (201, 202), retried.text
    booking_id = retried.json()["booking_id"]
    status = await final_status(client, settings, booking_id)
    assert status == "confirmed"
    state = await ledger(app).summary(booking_id)
    assert state.captures == 1 and state.tickets_issued == 1 and state.open_holds == 0


async def test_final_record_blocked_past_the_activity_timeout_still_confirms(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    sandbox = ledger(app)
    found = await offer(client)
    # Capturing is slow, so the lock is taken before the workflow writes its final status.
    await sandbox.set_fault("payments.capture", latency_ms=2_000)
    try:
        response = await book(client, settings, order(found))
        assert response.status_code == 202, response.text
        booking_id = response.json()["booking_id"]
        with write_lock_held(settings.data_dir / BOOKINGS_DB):
            async with asyncio.timeout(60):
                while (await sandbox.summary(booking_id)).captures == 0:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
            # Money is taken; the final write waits for the lock until Temporal times it out.
            await asyncio.sleep(STEP_TIMEOUT.total_seconds() + 5)
    finally:
        await sandbox.clear_faults()
    status = await final_status(client, settings, booking_id)
    assert status == "confirmed", "charged, and the record never said so"
    state = await sandbox.summary(booking_id)
    assert state.captures == 1 and state.tickets_issued == 1
    assert state.net_charged_paise == found["price"]["total_paise"]


async def test_a_status_write_still_failing_raises_the_stuck_booking_alert(app: FastAPI) -> None:
    activities = app.state.services.extras["booking_activities"]
    assert isinstance(activities, BookingActivities)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=RECORD_ALERT_ATTEMPTS, is_local=True)
    before = REGISTRY.get_sample_value("yatri_booking_record_stuck_total", {"kind": "book"}) or 0
    # No such booking: this write can never succeed, however often it is retried.
    change = Transition(booking_id="bk_missing", step="book:end", status=BookingStatus.CONFIRMED)
    with pytest.raises(Exception, match="no booking bk_missing"):
        await env.run(activities.record, change)
    after = REGISTRY.get_sample_value("yatri_booking_record_stuck_total", {"kind": "book"})
    assert after == before + 1


async def final_status(client: httpx.AsyncClient, settings: Settings, booking_id: str) -> str:
    """The booking's status once final, or the last one read within a generous bound."""
    started = time.monotonic()
    status = "pending"
    while status not in TERMINAL and time.monotonic() - started < 90:
        got = await client.get(f"/v1/bookings/{booking_id}", headers=token(settings, "trav-1"))
        assert got.status_code == 200, got.text
        status = got.json()["status"]
        if status not in TERMINAL:
            await asyncio.sleep(0.5)
    return str(status)
