"""Zipf traffic (s = 1.1) over 10K fare keys (20 metro routes x 100 dates x 5 passenger mixes)
against the sandbox airline at ~50 ms, with fares changing at a steady rate (``move_price`` then
``cache.invalidate``, on keys drawn from the same distribution).

Reported: supplier calls per 1,000 searches, hit ratio (L1 or L2), p99 search latency, the
maximum age of any fare served as fresh, and how many answers carried a price from before its
route-date's latest change. Yatri and plain cache-aside run one after the other with the same
seed, rate and duration.

    python bench/fares_zipf.py [--duration 60] [--rate 200] [--changes 5]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import random
import time
import uuid
from collections import Counter

from _fares import METROS, PAX_MIXES, POLICIES, make_stack, pct, query, quiet, redis_server, table

from core.errors import YatriError
from fares.models import FareQuery


def keyspace(seed: int) -> list[FareQuery]:
    routes = list(itertools.permutations(METROS, 2))[:20]
    keys = [
        query(days, o, d, pax) for o, d in routes for days in range(1, 101) for pax in PAX_MIXES
    ]
    random.Random(seed).shuffle(keys)  # rank order unrelated to route or date
    return keys


class Zipf:
    def __init__(self, n: int, s: float, rng: random.Random) -> None:
        weights = [1 / (k**s) for k in range(1, n + 1)]
        self._cum = list(itertools.accumulate(weights))
        self._rng = rng

    def draw(self) -> int:
        return bisect.bisect_left(self._cum, self._rng.random() * self._cum[-1])


async def one_policy(url: str, name: str, args: argparse.Namespace) -> list[object]:
    stack = make_stack(url, policy=POLICIES[name], namespace=f"zipf-{uuid.uuid4().hex[:8]}",
                       latency_ms=50, seed=args.seed)  # fmt: skip
    keys = keyspace(args.seed)
    traffic = Zipf(len(keys), args.s, random.Random(args.seed))
    changes = Zipf(len(keys), args.s, random.Random(args.seed + 1))
    changed_at: dict[tuple[str, str, object], float] = {}
    sources: Counter[str] = Counter()
    latencies: list[float] = []
    max_fresh_age_ms = 0
    superseded = 0
    tasks: set[asyncio.Task[None]] = set()

    async def search(q: FareQuery) -> None:
        nonlocal max_fresh_age_ms, superseded
        t0 = time.perf_counter()
        try:
            result = await stack.service.search(q)
        except YatriError as e:
            sources["error:" + type(e).__name__] += 1
            return
        finally:
            latencies.append((time.perf_counter() - t0) * 1000)
        sources[result.source.value] += 1
        if not result.price_confirmation_required:
            max_fresh_age_ms = max(max_fresh_age_ms, result.age_ms)
        moved = changed_at.get((q.origin, q.destination, q.date))
        if moved is not None and result.fetched_at.timestamp() < moved:
            superseded += 1

    async def change(q: FareQuery) -> None:
        changed_at[(q.origin, q.destination, q.date)] = time.time()
        await stack.airline.move_price(origin=q.origin, destination=q.destination, date=q.date)
        await stack.cache.invalidate(
            origin=q.origin, destination=q.destination, date=q.date.isoformat()
        )

    def spawn(coro: object) -> None:
        task = asyncio.create_task(coro)  # type: ignore[arg-type]
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    started = time.monotonic()
    sent = moves = 0
    while (elapsed := time.monotonic() - started) < args.duration:
        for _ in range(int(elapsed * args.rate) - sent):
            spawn(search(keys[traffic.draw()]))
            sent += 1
        for _ in range(int(elapsed * args.changes) - moves):
            spawn(change(keys[changes.draw()]))
            moves += 1
        await asyncio.sleep(0.005)
    await asyncio.gather(*tasks)
    await stack.cache.close()
    lookups = sum(sources.values())
    hits = sources["l1"] + sources["l2"]
    errors = sum(v for k, v in sources.items() if k.startswith("error"))
    return [name, lookups, 1000 * stack.airline.calls / lookups, 100 * hits / lookups,
            100 * sources["l1"] / lookups, pct(latencies, 50), pct(latencies, 99),
            max_fresh_age_ms / 1000, superseded, sources["stale_fallback"], errors, moves]  # fmt: skip


async def run(args: argparse.Namespace) -> None:
    rows: list[list[object]] = []
    with redis_server() as server:
        for name in ("yatri", "baseline"):
            rows.append(await one_policy(server.url, name, args))
    print(f"zipf s={args.s} over 10,000 keys, {args.rate:.0f} searches/s for {args.duration:.0f} s, "
          f"{args.changes:.0f} fare changes/s, supplier ~50 ms")  # fmt: skip
    headers = ["cache", "searches", "calls/1k", "hit %", "L1 %", "p50 ms", "p99 ms",
               "max fresh age s", "pre-change price", "stale", "errors", "changes"]  # fmt: skip
    print(table(headers, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per cache")
    parser.add_argument("--rate", type=float, default=200.0, help="searches per second")
    parser.add_argument("--changes", type=float, default=5.0, help="fare changes per second")
    parser.add_argument("--s", type=float, default=1.1, help="Zipf exponent")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    quiet()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
