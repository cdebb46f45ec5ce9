"""Fare-change event to every process's L1: N OS processes each hold warm L1 entries for K
route-dates and listen on ``L1Broadcast``; the parent publishes K ``FareChangeEvent``s on the
Redis stream, its stream consumer applies each (``cache.invalidate`` + broadcast), and every
child records the wall-clock time (``time.time()``) it dropped the entry.

Reported per process: publish -> drop latency p50/p99/max (ms), split into the stream leg
(publish -> handler) and the pub/sub leg. Plain cache-aside has no L1: its invalidation is one
Redis write that every process sees at once, so its row is that write's round trip.

    python bench/fares_invalidation.py [--procs 3] [--events 200] [--gap-ms 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

from _fares import (
    BASELINE,
    YATRI,
    drop_callback,
    make_stack,
    pct,
    query,
    quiet,
    redis_server,
    spawn_children,
    table,
)

from core.redis_conn import connect_redis
from fares.events import FareChangeEvent, L1Broadcast, RedisFareEvents


async def child(args: argparse.Namespace) -> None:
    stack = make_stack(args.url, policy=YATRI, namespace=args.ns, latency_ms=1)
    queries = [query(days) for days in range(1, args.events + 1)]
    for q in queries:
        lookup = await stack.cache.lookup(q)
        assert lookup.tier == "l2", lookup  # now in this process's L1 as well
    for q in queries:
        assert (await stack.cache.lookup(q)).tier == "l1"
    dropped_at: dict[str, float] = {}
    stop, ready = asyncio.Event(), asyncio.Event()

    def on_drop(route_key: str, dropped: int) -> None:
        if dropped:
            dropped_at[route_key] = time.time()
        if len(dropped_at) >= args.events:
            stop.set()

    redis = connect_redis(args.url)
    broadcast = L1Broadcast(redis=redis, channel=args.channel)
    task = asyncio.create_task(broadcast.run(drop_callback(stack.cache, on_drop), stop=stop,
                                             ready=ready))  # fmt: skip
    await asyncio.wait_for(ready.wait(), 10)
    await redis.incr(args.ns + ":ready")
    try:
        await asyncio.wait_for(stop.wait(), 60)
    except TimeoutError:
        stop.set()
    await task
    print(json.dumps(dropped_at))


async def run(args: argparse.Namespace) -> None:
    with redis_server() as server:
        url = server.url
        ns = f"inv-{uuid.uuid4().hex[:8]}"
        channel = f"{ns}:l1"
        filler = make_stack(url, policy=YATRI, namespace=ns, latency_ms=1)
        queries = [query(days) for days in range(1, args.events + 1)]
        for q in queries:
            await filler.service.search(q)
        cmd = [__file__, "--child", "--url", url, "--ns", ns, "--channel", channel,
               "--events", str(args.events)]  # fmt: skip
        procs = spawn_children(cmd, args.procs)
        redis = connect_redis(url)
        deadline = time.monotonic() + 60
        while int(await redis.get(ns + ":ready") or 0) < args.procs:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                for p in procs:
                    p.kill()
                raise RuntimeError("children failed or did not get ready in 60 s")
            await asyncio.sleep(0.01)

        events = RedisFareEvents(redis=redis, consumer="bench", stream=f"{ns}:events",
                                 group=f"{ns}:group", dlq_stream=f"{ns}:dlq")  # fmt: skip
        broadcast = L1Broadcast(redis=redis, channel=channel)
        handled_at: dict[str, float] = {}

        async def handler(event: FareChangeEvent) -> None:
            handled_at[event.route_key] = time.time()
            date = event.date.isoformat() if event.date else None
            await filler.cache.invalidate(origin=event.origin, destination=event.destination,
                                          date=date)  # fmt: skip
            await broadcast.publish(event.route_key)

        await events.ensure_group(start_id="$")
        stop = asyncio.Event()
        consumer = asyncio.create_task(events.run(handler, stop=stop))
        published_at: dict[str, float] = {}
        for q in queries:
            event = FareChangeEvent.new(origin=q.origin, destination=q.destination, date=q.date,
                                        reason="bench")  # fmt: skip
            published_at[event.route_key] = event.published_at.timestamp()
            await events.publish(event)
            await asyncio.sleep(args.gap_ms / 1000)
        reports = []
        for p in procs:
            out, _ = await asyncio.to_thread(p.communicate, timeout=90)
            reports.append(json.loads(out.strip().splitlines()[-1]))
        stop.set()
        await consumer

        rows: list[list[object]] = []
        stream_leg = [
            (handled_at[k] - t) * 1000 for k, t in published_at.items() if k in handled_at
        ]
        for i, dropped in enumerate(reports):
            total = [(t - published_at[k]) * 1000 for k, t in dropped.items()]
            pubsub = [(t - handled_at[k]) * 1000 for k, t in dropped.items() if k in handled_at]
            rows.append([f"yatri, process {i + 1}", len(dropped), pct(total, 50), pct(total, 99),
                         max(total, default=float("nan")), pct(stream_leg, 50),
                         pct(stream_leg, 99), pct(pubsub, 50), pct(pubsub, 99)])  # fmt: skip

        base = make_stack(url, policy=BASELINE, namespace=f"{ns}b", latency_ms=1)
        writes = []
        for q in queries:
            t0 = time.perf_counter()
            await base.cache.invalidate(origin=q.origin, destination=q.destination,
                                        date=q.date.isoformat())  # fmt: skip
            writes.append((time.perf_counter() - t0) * 1000)
        nan = float("nan")
        rows.append(["baseline (L2 write)", len(writes), pct(writes, 50), pct(writes, 99),
                     max(writes), nan, nan, nan, nan])  # fmt: skip
        await redis.aclose()
    print(f"fare-change event -> L1 dropped: {args.procs} processes, {args.events} events "
          f"{args.gap_ms:.0f} ms apart (target p99 <= 100 ms)")  # fmt: skip
    headers = ["who", "drops", "p50 ms", "p99 ms", "max ms", "stream p50", "stream p99",
               "pub/sub p50", "pub/sub p99"]  # fmt: skip
    print(table(headers, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--procs", type=int, default=3)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=10.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--ns", help=argparse.SUPPRESS)
    parser.add_argument("--channel", help=argparse.SUPPRESS)
    args = parser.parse_args()
    quiet()
    asyncio.run(child(args) if args.child else run(args))


if __name__ == "__main__":
    main()
