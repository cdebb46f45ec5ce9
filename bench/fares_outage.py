"""Supplier failure: steady traffic over a warm-ish key set while the sandbox airline first fails
30 % of its calls, then is down altogether. Per phase: the share of searches answered (fresh,
or stale flagged ``price_confirmation_required``) and the errors surfaced to the caller.

Yatri (L1 + L2, stale fallback up to 30 min) against plain cache-aside (L2 only, 30 s TTL, no
fallback), one after the other with the same seed and traffic.

    python bench/fares_outage.py [--outage 60] [--errors 20] [--rate 50] [--keys 300]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections import Counter

from _fares import PAX_MIXES, POLICIES, make_stack, query, quiet, redis_server, table

from core.errors import YatriError
from fares.models import FareQuery

WARM_SHARE = 0.8


def keyset(n: int) -> list[FareQuery]:
    routes = [("DEL", "BOM"), ("BLR", "DEL"), ("BOM", "BLR"), ("HYD", "DEL"), ("MAA", "BOM")]
    keys = [query(days, o, d, pax) for days in range(3, 90) for o, d in routes for pax in PAX_MIXES]
    return keys[:n]


async def one_policy(url: str, name: str, args: argparse.Namespace) -> list[list[object]]:
    stack = make_stack(url, policy=POLICIES[name], namespace=f"out-{uuid.uuid4().hex[:8]}",
                       latency_ms=50, seed=args.seed, timeout_s=1.0, deadline_s=3.0)  # fmt: skip
    keys = keyset(args.keys)
    rng = random.Random(args.seed)
    warm = rng.sample(keys, int(len(keys) * WARM_SHARE))
    for i in range(0, len(warm), 50):
        await asyncio.gather(*(stack.service.search(q) for q in warm[i : i + 50]))
    calls_before = stack.airline.calls
    phases = [("healthy", args.healthy, 0.0, False), ("30% errors", args.errors, 0.3, False),
              ("outage", args.outage, 0.0, True)]  # fmt: skip
    outcomes: dict[str, Counter[str]] = {p[0]: Counter() for p in phases}
    calls: dict[str, int] = {}
    tasks: set[asyncio.Task[None]] = set()

    async def one(q: FareQuery, phase: str) -> None:
        try:
            result = await stack.service.search(q)
            kind = "stale" if result.price_confirmation_required else "fresh"
        except YatriError:
            kind = "error"
        outcomes[phase][kind] += 1

    for phase, seconds, error_rate, outage in phases:
        stack.airline.faults.error_rate = error_rate
        stack.airline.faults.outage = outage
        start_calls = stack.airline.calls
        started = time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * args.rate)
            for _ in range(due - sent):
                task = asyncio.create_task(one(rng.choice(keys), phase))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            sent = max(sent, due)
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)
        calls[phase] = stack.airline.calls - start_calls
    await stack.cache.close()
    assert stack.airline.calls >= calls_before
    rows = []
    for phase, *_ in phases:
        c = outcomes[phase]
        total = sum(c.values()) or 1
        rows.append([name, phase, total, 100 * (c["fresh"] + c["stale"]) / total,
                     100 * c["fresh"] / total, 100 * c["stale"] / total, c["error"],
                     calls[phase]])  # fmt: skip
    return rows


async def run(args: argparse.Namespace) -> None:
    rows: list[list[object]] = []
    with redis_server() as server:
        for name in ("yatri", "baseline"):
            rows.extend(await one_policy(server.url, name, args))
    print(f"supplier outage: {args.rate:.0f} searches/s over {args.keys} keys "
          f"({WARM_SHARE:.0%} warmed first); phases {args.healthy:.0f} s healthy, "
          f"{args.errors:.0f} s at 30% errors, {args.outage:.0f} s full outage")  # fmt: skip
    headers = ["cache", "phase", "searches", "answered %", "fresh %", "stale %", "errors",
               "supplier calls"]  # fmt: skip
    print(table(headers, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outage", type=float, default=60.0, help="full outage, seconds")
    parser.add_argument("--errors", type=float, default=20.0, help="30%% error phase, seconds")
    parser.add_argument("--healthy", type=float, default=5.0, help="healthy phase, seconds")
    parser.add_argument("--rate", type=float, default=50.0, help="searches per second")
    parser.add_argument("--keys", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    quiet()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
