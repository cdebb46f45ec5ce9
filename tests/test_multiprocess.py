"""Scale-out on shared engines: two `yatri serve` processes and one `yatri worker`, given only
external URLs (one Redis, one Temporal, one PostgreSQL), answer as one service. A conversation
moves between API processes turn by turn, a booking made on one is read and replayed (same
idempotency key) on the other and completed by the separate worker, and one API process killed
mid-traffic leaves the other serving the same conversations. Policy retrieval is the exception:
with the embedded vector engine each process has its own index (a Qdrant server or cluster URL
is the shared one at scale), so it is not spread here."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from core.embedded import EmbeddedTemporal, EmbeddedValkey, free_port
from fares.models import IST

SECRET = secrets.token_hex(32)


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log: Path, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "api", *args], env=env, stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_ready(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.popen.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(self.base + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{self.base} not ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


@pytest.fixture
def cluster(
    redis_server: EmbeddedValkey,
    temporal_server: EmbeddedTemporal,
    postgres_url: str,
    tmp_path: Path,
) -> Iterator[tuple[Process, Process, Process]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YATRI_")}
    env |= {
        "YATRI_REDIS_URL": redis_server.url,
        "YATRI_TEMPORAL_ADDRESS": temporal_server.address,
        "YATRI_DATABASE_URL": postgres_url,
        "YATRI_REDIS_NAMESPACE": f"mp{uuid.uuid4().hex[:6]}",
        "YATRI_TEMPORAL_TASK_QUEUE": f"mp-{uuid.uuid4().hex[:8]}",
        "YATRI_SECRET_KEY": SECRET,
        "YATRI_RUN_WORKER": "false",
        "YATRI_VOICE_ENABLED": "false",
        "YATRI_BOOKING_WAIT_S": "20",
        "YATRI_HOTELS_PROPERTIES": "3000",
        "YATRI_HOTELS_LOAD_ALL": "false",
        "YATRI_HOTELS_WARM_DESTINATIONS": "0",
        "YATRI_SUPPLIER_LATENCY_MS": "5",
        "YATRI_LOG_LEVEL": "WARNING",
    }
    processes = []
    for name in ("a", "b"):
        port = free_port()
        data = tmp_path / name
        processes.append(
            Process(
                ["serve", "--port", str(port), "--data-dir", str(data)],
                env,
                tmp_path / f"{name}.log",
                port,
            )  # fmt: skip
        )
    worker_port = free_port()
    processes.append(
        Process(["worker", "--data-dir", str(tmp_path / "w")],
                env | {"YATRI_WORKER_PORT": str(worker_port)}, tmp_path / "w.log", worker_port)
    )  # fmt: skip
    try:
        for p in processes:
            p.wait_ready()
        yield processes[0], processes[1], processes[2]
    finally:
        for p in processes:
            p.stop()


def _token(traveller: str) -> dict[str, str]:
    claims = {"sub": traveller, "scope": "bookings", "exp": int(time.time()) + 600}
    return {"authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


async def test_two_api_processes_and_a_worker_serve_as_one(
    cluster: tuple[Process, Process, Process],
) -> None:
    a, b, _worker = cluster
    day = dt.datetime.now(IST).date() + dt.timedelta(days=14)
    async with httpx.AsyncClient(timeout=60) as http:
        # A conversation moves between processes: its state is in Redis.
        session = f"mp-{uuid.uuid4().hex[:8]}"
        first = await http.post(a.base + "/v1/chat", json={
            "session_id": session, "text": f"flights from Delhi to Mumbai on {day:%d %B}"})  # fmt: skip
        assert first.status_code == 200, first.text
        second = await http.post(
            b.base + "/v1/chat", json={"session_id": session, "text": "make it 2 adults"}
        )
        assert second.status_code == 200, second.text
        slots = second.json()["slots"]
        assert slots["origin"] == "DEL" and slots["destination"] == "BOM"
        assert int(slots["adults"]) == 2

        # A booking made on B, read on A, replayed on A with the same key; the worker runs it.
        fares = await http.get(a.base + "/v1/fares", params={
            "from": "DEL", "to": "BOM", "date": day.isoformat(), "adults": 1})  # fmt: skip
        assert fares.status_code == 200, fares.text
        offer = fares.json()["offers"][0]
        body = {
            "flight": {"origin": "DEL", "destination": "BOM", "date": day.isoformat(),
                       "flight_number": offer["flight_number"],
                       "fare_family": offer["fare_family"], "adults": 1},
            "expected_total_paise": offer["price"]["total_paise"],
            "travellers": [{"first_name": "Asha", "last_name": "Rao"}],
            "contact": {"email": "asha@example.com", "phone": "+91 98765 43210"},
        }  # fmt: skip
        key = {"idempotency-key": str(uuid.uuid4())}
        made = await http.post(b.base + "/v1/bookings", json=body, headers=_token("mp-1") | key)
        assert made.status_code in (201, 202), made.text
        booking_id = made.json()["booking_id"]
        again = await http.post(a.base + "/v1/bookings", json=body, headers=_token("mp-1") | key)
        assert again.status_code in (200, 201, 202) and again.json()["booking_id"] == booking_id
        status = None
        for _ in range(100):
            got = await http.get(a.base + f"/v1/bookings/{booking_id}", headers=_token("mp-1"))
            assert got.status_code == 200, got.text
            status = got.json()["status"]
            if status in ("confirmed", "failed"):
                break
            await asyncio.sleep(0.3)
        assert status == "confirmed"

        # A policy document uploaded to A is answered from on B: B's embedded index follows
        # the shared catalog (YATRI_REDIS_URL set, no Qdrant server: the replica is on).
        policy = (
            "---\ndoc_id: mp-lounge\ntitle: Lounge access\nvertical: flights\n---\n"
            "# Lounge access\n\n## Hours\n\nThe Aurora lounge at Delhi opens at 4 am.\n"
        )
        content = {"authorization": "Bearer dev-content-key"}
        up = await http.post(a.base + "/v1/documents", headers=content,
                             files={"files": ("lounge.md", policy.encode())})  # fmt: skip
        assert up.status_code == 200 and up.json()["results"][0]["outcome"] == "added", up.text
        answer: dict[str, object] = {}
        for _ in range(50):
            answer = (await http.post(b.base + "/v1/answers", json={
                "question": "When does the Aurora lounge open?"})).json()  # fmt: skip
            if answer.get("grounded"):
                break
            await asyncio.sleep(0.2)
        assert answer.get("grounded") is True and "4 am" in str(answer["answer"]), answer

        # A killed mid-traffic: B goes on serving the same conversations.
        async def traffic(base: str, n: int, session_id: str, *, until_error: bool) -> list[int]:
            codes = []
            for i in range(n):
                try:
                    r = await http.post(base + "/v1/chat", json={
                        "session_id": session_id, "text": "what about the day after" if i % 2
                        else "thanks"})  # fmt: skip
                    codes.append(r.status_code)
                except httpx.HTTPError:
                    codes.append(0)  # the killed process
                    if until_error:
                        break
            return codes

        # Two turns of one conversation at the same moment are refused (409), so A carries
        # another conversation (until it is killed) while B carries this one.
        on_a = asyncio.create_task(
            traffic(a.base, 2000, f"mp-{uuid.uuid4().hex[:8]}", until_error=True)
        )
        on_b = asyncio.create_task(traffic(b.base, 20, session, until_error=False))
        await asyncio.sleep(0.5)
        a.popen.send_signal(signal.SIGKILL)
        codes_a, codes_b = await asyncio.gather(on_a, on_b)
        assert codes_a[-1] == 0 and set(codes_a[:-1]) <= {200}  # A went away mid-traffic
        assert set(codes_b) == {200}
        last = await http.post(b.base + "/v1/chat", json={"session_id": session, "text": "hi"})
        assert last.status_code == 200 and last.json()["session_id"] == session
