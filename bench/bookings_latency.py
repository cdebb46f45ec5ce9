"""Booking latency and throughput over HTTP through a real `yatri serve` (Temporal workflow,
SQLite record, sandbox suppliers), against the peer measured in the same run: the same supplier
calls made in sequence by a plain async function (no workflow, no durable record, no
compensation), on the same sandbox ledger.

    python bench/bookings_latency.py [--sequential 60] [--concurrent 200] [--clients 20]

Supplier latency is the sandbox default for fares (YATRI_SUPPLIER_LATENCY_MS) and 0 for the
booking suppliers, so the figures are Yatri's own overhead plus one live fare search.
Loopback only; bounded request counts.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bookings import new_key, offers, order, pct, traveller_headers  # noqa: E402
from _serve import YatriProcess  # noqa: E402

from api.booking_backends import SANDBOX_DB  # noqa: E402
from bookings.suppliers.sandbox import (  # noqa: E402
    SandboxBookingAirline,
    SandboxLedger,
    SandboxPayments,
)
from core.airports import load_airports  # noqa: E402
from fares.models import Cabin, FareQuery, Passengers  # noqa: E402
from fares.suppliers.sandbox import SandboxAirline, SandboxFaults  # noqa: E402


async def book_http(
    client: httpx.AsyncClient, offer: dict[str, object], n: int
) -> tuple[float, str]:
    started = time.perf_counter()
    response = await client.post(
        "/v1/bookings",
        json=order(offer),
        headers=traveller_headers(f"bench-{n % 50}", key=new_key()),  # type: ignore[arg-type]
    )
    elapsed = time.perf_counter() - started
    return elapsed, response.json().get("status", str(response.status_code))


async def book_naive(
    fares: SandboxAirline, airline: SandboxBookingAirline, payments: SandboxPayments,
    offer: dict[str, object], n: int,
) -> tuple[float, str]:  # fmt: skip
    """The peer: reprice, hold, authorise, ticket, capture, in sequence, nothing durable."""
    started = time.perf_counter()
    flight: dict[str, str] = order(offer)["flight"]  # type: ignore[assignment]
    query = FareQuery(origin=flight["origin"], destination=flight["destination"],
                      date=dt.date.fromisoformat(flight["date"]),
                      passengers=Passengers(1, 0, 0), cabin=Cabin.ECONOMY)  # fmt: skip
    live = next(o for o in await fares.search(query)
                if (o.flight_number, o.fare_family) == (flight["flight_number"], flight["fare_family"]))  # fmt: skip
    key = f"naive-{time.time_ns()}-{n}"
    await airline.hold(key=key + ":hold", flight_number=live.flight_number,
                       departure=live.departure, seats=1, price_paise=live.price.total, ttl_s=600)  # fmt: skip
    await payments.authorise(key=key + ":auth", payer="bench", amount_paise=live.price.total)
    await airline.issue(key=key + ":ticket", hold_key=key + ":hold")
    await payments.capture(key=key + ":capture", auth_key=key + ":auth",
                           amount_paise=live.price.total)  # fmt: skip
    return time.perf_counter() - started, "confirmed"


def report(name: str, timings: list[tuple[float, str]], wall_s: float) -> str:
    ms = [t * 1000 for t, _ in timings]
    ok = sum(1 for _, status in timings if status == "confirmed")
    return (f"| {name} | {len(timings)} | {ok} | {pct(ms, 50):.0f} | {pct(ms, 99):.0f} | "
            f"{len(timings) / wall_s:.1f} |")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sequential", type=int, default=60)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    print(f"$ python bench/bookings_latency.py --sequential {args.sequential} "
          f"--concurrent {args.concurrent} --clients {args.clients}")  # fmt: skip
    server = YatriProcess(env={"YATRI_VOICE_ENABLED": "false"})
    server.start(timeout=180)
    rows = []
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:
            pool = await offers(client, count=max(args.sequential, args.concurrent))
            await book_http(client, pool[0], 0)  # warm the worker and the connection
            seq = [await book_http(client, pool[i], i) for i in range(args.sequential)]
            rows.append(("yatri, 1 client", seq, sum(t for t, _ in seq)))
            sem = asyncio.Semaphore(args.clients)

            async def limited(i: int) -> tuple[float, str]:
                async with sem:
                    return await book_http(client, pool[i], i)

            started = time.perf_counter()
            conc = await asyncio.gather(*(limited(i) for i in range(args.concurrent)))
            rows.append((f"yatri, {args.clients} clients", conc, time.perf_counter() - started))

        ledger = await SandboxLedger.open(server.data_dir / SANDBOX_DB)
        fares = SandboxAirline(airports=load_airports(), seed=2026,
                               faults=SandboxFaults(latency_ms=120.0))  # fmt: skip
        airline, payments = SandboxBookingAirline(ledger), SandboxPayments(ledger)
        seq = [
            await book_naive(fares, airline, payments, pool[i], i) for i in range(args.sequential)
        ]
        rows.append(("naive peer, 1 client", seq, sum(t for t, _ in seq)))
        started = time.perf_counter()
        sem2 = asyncio.Semaphore(args.clients)

        async def limited_naive(i: int) -> tuple[float, str]:
            async with sem2:
                return await book_naive(fares, airline, payments, pool[i], 10_000 + i)

        conc = await asyncio.gather(*(limited_naive(i) for i in range(args.concurrent)))
        rows.append((f"naive peer, {args.clients} clients", conc, time.perf_counter() - started))
        await ledger.close()
    finally:
        server.stop()
    print("\n| path | bookings | confirmed | p50 ms | p99 ms | bookings/s |")
    print("|---|---|---|---|---|---|")
    for name, timings, wall in rows:
        print(report(name, timings, wall))


if __name__ == "__main__":
    asyncio.run(main())
