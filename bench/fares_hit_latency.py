"""Cache hit latency on one core: Yatri's L1 hit and L2 hit, against plain cache-aside's L2 hit,
each as ``cache.lookup()`` and as the whole ``service.search()`` (validation, metrics, result).

The clock is frozen so the key stays fresh. Every operation is timed on its own (perf_counter_ns) in a tight loop on one warm key; lookups/s
is operations over the loop's total time, timer included.

    python bench/fares_hit_latency.py [--n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable

from _fares import BASELINE, YATRI, Clock, Stack, make_stack, pct, query, quiet, redis_server, table

from fares.cache import CachePolicy
from fares.models import FareQuery, FareSource


class FrozenClock(Clock):
    """Time stands still: the warm key never nears its 30 s expiry however long the loop runs."""

    def __init__(self) -> None:
        super().__init__()
        self._now = super().utc()

    def epoch(self) -> float:
        return self._now.timestamp()

    def utc(self) -> dt.datetime:
        return self._now


async def timed(n: int, op: Callable[[], Awaitable[object]]) -> tuple[list[float], float]:
    for _ in range(min(1000, n)):  # warm-up
        await op()
    samples: list[float] = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter_ns()
        await op()
        samples.append((time.perf_counter_ns() - t0) / 1000)
    return samples, n / (time.perf_counter() - started)


def operations(
    stack: Stack, q: FareQuery, *, clear_l1: bool
) -> tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]:
    cache = stack.cache

    async def lookup() -> object:
        if clear_l1:
            cache._l1.clear()
        return await cache.lookup(q)

    async def search() -> object:
        if clear_l1:
            cache._l1.clear()
        return await stack.service.search(q)

    return lookup, search


async def run(n: int) -> None:
    rows: list[list[object]] = []
    with redis_server() as server:
        q = query()
        cases: list[tuple[str, str, CachePolicy, str]] = [
            ("yatri", "L1 hit", YATRI, "l1"),
            ("yatri", "L2 hit", YATRI, "l2"),
            ("baseline", "L2 hit", BASELINE, "l2"),
        ]
        for name, what, policy, tier in cases:
            ns = f"hit-{uuid.uuid4().hex[:8]}"
            clock = FrozenClock()
            filler = make_stack(server.url, policy=policy, namespace=ns, latency_ms=5, clock=clock)
            await filler.service.search(q)
            # Yatri's L2 hit is a second process's view: the same namespace, L1 emptied first.
            second = tier == "l2" and policy.use_l1
            reader = (
                make_stack(server.url, policy=policy, namespace=ns, clock=clock)
                if second
                else filler
            )
            lookup, search = operations(reader, q, clear_l1=second)
            got = await search()
            assert got.source is FareSource(tier), (name, what, got.source)  # type: ignore[attr-defined]
            for api, op in (("cache.lookup()", lookup), ("service.search()", search)):
                samples, rate = await timed(n, op)
                rows.append([name, what, api, pct(samples, 50), pct(samples, 99), rate])
            assert reader.airline.calls == 0 or reader is filler
            await filler.cache.close()
    print(f"fare cache hit latency, one core, n={n:,} per row (loopback Redis)")
    print(table(["cache", "hit", "call", "p50 µs", "p99 µs", "ops/s"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="timed operations per row")
    args = parser.parse_args()
    quiet()
    asyncio.run(run(args.n))


if __name__ == "__main__":
    main()
