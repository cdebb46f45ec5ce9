"""The worker process killed mid-booking (after the payment is authorised, while the ticket is
being issued) and started again: the booking completes or compensates, with exactly one
charge. A real `yatri worker` process, SIGKILLed, against the real Temporal dev server; the
sandbox suppliers' ledger is a file both processes and the test share."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from core.embedded import EmbeddedTemporal
from core.settings import Settings
from tests.test_bookings import book, ledger, offer, order, token

TERMINAL = {"confirmed", "failed"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The API answers 202 at once; only the worker process runs the workflow.
    return settings.model_copy(update={"run_worker": False, "booking_wait_s": 0.5})


def start_worker(
    settings: Settings, temporal: EmbeddedTemporal, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        k: v
        for k, v in os.environ.items()
        # The tests' small hotel network (conftest) goes to the children too.
        if not k.startswith("YATRI_") or k.startswith("YATRI_HOTELS_")
    }
    env |= {
        "YATRI_TEMPORAL_ADDRESS": temporal.address,
        "YATRI_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "YATRI_SUPPLIER_LATENCY_MS": "5",
        "YATRI_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "api", "worker", "--data-dir", str(settings.data_dir)],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


async def test_worker_killed_between_payment_and_ticket_then_restarted(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    temporal_server: EmbeddedTemporal,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    sandbox = ledger(app)
    found = await offer(client, days=20)
    # Ticketing is slow, so the workflow sits in that step after the payment is authorised.
    await sandbox.set_fault("airline.issue", latency_ms=8_000)
    workers.append(start_worker(settings, temporal_server, tmp_path / "worker-1.log"))

    response = await book(client, settings, order(found))
    assert response.status_code == 202, response.text
    booking_id = response.json()["booking_id"]
    async with asyncio.timeout(60):
        while (await sandbox.summary(booking_id)).uncaptured_authorisations == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # well inside the slow ticketing call
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait(timeout=10)
    assert (await sandbox.summary(booking_id)).tickets_issued == 0

    await sandbox.clear_faults()
    workers.append(start_worker(settings, temporal_server, tmp_path / "worker-2.log"))
    started = time.monotonic()
    status = "pending"
    while status not in TERMINAL and time.monotonic() - started < 90:
        await asyncio.sleep(0.5)
        got = await client.get(f"/v1/bookings/{booking_id}", headers=token(settings, "trav-1"))
        status = got.json()["status"]
    state = await sandbox.summary(booking_id)
    assert status in TERMINAL, status
    if status == "confirmed":
        assert state.captures == 1 and state.tickets_issued == 1
        assert state.net_charged_paise == found["price"]["total_paise"]
    else:
        assert state.net_charged_paise == 0 and state.tickets_issued == 0
    assert state.open_holds == 0 and state.uncaptured_authorisations == 0
