"""Latency of `POST /v1/chat` against a real `yatri serve`, from this separate process on
loopback, at 1 and 50 concurrent sessions. Each session searches, then refines in context.
Peer, in the same run and at the same concurrency: `GET /livez`, the HTTP floor of the same
server, so the table shows what a turn adds to a bare request.

    python bench/chat_turn.py [--duration 30] [--concurrency 1 50] [--supplier-latency-ms 0]

The sandbox airline's injected latency defaults to 0 here so that the figures are Yatri's own
cost; pass --supplier-latency-ms 120 to include the demo's simulated airline.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time

import aiohttp
from _serve import YatriProcess

ROUTES = [
    ("Delhi", "Mumbai"), ("Bangalore", "Goa"), ("Chennai", "Kolkata"), ("Hyderabad", "Pune"),
    ("Mumbai", "Kochi"), ("Jaipur", "Bengaluru"), ("Lucknow", "Delhi"), ("Ahmedabad", "Chennai"),
]  # fmt: skip
FOLLOW_UPS = ["make it 2 adults", "what about the day after", "business class please", "thanks"]
INTENTS: dict[str, int] = {}  # what the turns were understood as, so the mix is known


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def session_loop(
    client: aiohttp.ClientSession,
    base: str,
    worker: int,
    deadline: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    for turn in itertools.count():
        if time.perf_counter() >= deadline:
            return
        origin, destination = ROUTES[(worker + turn) % len(ROUTES)]
        session_id = f"bench-{worker:03d}-{turn:06d}"
        texts = [f"flights from {origin} to {destination} on {1 + turn % 27} March", *FOLLOW_UPS]
        for text in texts:
            started = time.perf_counter()
            async with client.post(
                base + "/v1/chat", json={"session_id": session_id, "text": text}
            ) as r:
                body = await r.json() if r.status == 200 else {}
            intent = str(body.get("intent", r.status))
            INTENTS[intent] = INTENTS.get(intent, 0) + 1
            latencies.append((time.perf_counter() - started) * 1000)
            if r.status != 200:
                errors.append(r.status)
            if time.perf_counter() >= deadline:
                return


async def livez_loop(
    client: aiohttp.ClientSession,
    base: str,
    deadline: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        async with client.get(base + "/livez") as r:
            await r.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if r.status != 200:
            errors.append(r.status)


async def run(base: str, kind: str, concurrency: int, duration: float) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[int] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        deadline = time.perf_counter() + duration
        started = time.perf_counter()
        if kind == "chat":
            tasks = [
                session_loop(client, base, w, deadline, latencies, errors)
                for w in range(concurrency)
            ]
        else:
            tasks = [
                livez_loop(client, base, deadline, latencies, errors) for _ in range(concurrency)
            ]
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return {
        "n": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p95": pct(latencies, 95),
        "p99": pct(latencies, 99),
        "errors": len(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--supplier-latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    server = YatriProcess(
        env={
            "YATRI_SUPPLIER_LATENCY_MS": str(args.supplier_latency_ms),
            "YATRI_VOICE_ENABLED": "false",
        }
    )
    try:
        server.start(timeout=300)
        print(
            f"{'endpoint':<14}{'sessions':>9}{'requests':>10}{'req/s':>9}"
            f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
        )
        for concurrency in args.concurrency:
            for kind, label in (("chat", "POST /v1/chat"), ("livez", "GET /livez")):
                r = asyncio.run(run(server.base, kind, concurrency, args.duration))
                print(
                    f"{label:<14}{concurrency:>9}{r['n']:>10.0f}{r['rps']:>9.1f}"
                    f"{r['p50']:>9.1f}{r['p95']:>9.1f}{r['p99']:>9.1f}{r['errors']:>8.0f}"
                )
        print(f"supplier latency injected: {args.supplier_latency_ms:.0f} ms")
        print("chat turns by intent:", dict(sorted(INTENTS.items(), key=lambda kv: -kv[1])))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
