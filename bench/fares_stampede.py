"""Cache stampede across processes: 1,000 concurrent searches for one key, spread over 4 OS
processes (250 each), started together on a Redis key. Counted: supplier calls over all
processes (each child reports its sandbox's ``calls``).

Two moments: a cold key (nothing cached), and a key at expiry (the parent fills it; the children
run with their clocks 31 s ahead, so the entry is just past the 30 s window).

    python bench/fares_stampede.py [--procs 4] [--per-proc 250] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter

from _fares import (
    POLICIES,
    Clock,
    make_stack,
    pct,
    query,
    quiet,
    redis_server,
    spawn_children,
    table,
)

from core.errors import YatriError
from core.redis_conn import connect_redis


async def child(args: argparse.Namespace) -> None:
    stack = make_stack(
        args.url,
        policy=POLICIES[args.policy],
        namespace=args.ns,
        latency_ms=args.latency_ms,
        clock=Clock(args.offset_s),
        max_concurrent=args.per_proc,
    )
    q = query()
    redis = connect_redis(args.url)
    await redis.ping()
    # Open the pool's connections now: otherwise connection setup, not the cache, spreads the
    # requests out in time and most of them find the first answer already in L2.
    await asyncio.gather(*(stack.cache._redis.ping() for _ in range(args.per_proc)))
    await redis.incr(args.ns + ":ready")
    await redis.blpop([args.ns + ":go"], timeout=60)  # the parent pushes one per child
    sources: Counter[str] = Counter()
    latencies: list[float] = []

    async def one() -> None:
        t0 = time.perf_counter()
        try:
            result = await stack.service.search(q)
            sources[result.source.value] += 1
        except YatriError as e:
            sources["error:" + type(e).__name__] += 1
        latencies.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(one() for _ in range(args.per_proc)))
    print(json.dumps({"calls": stack.airline.calls, "sources": sources, "ms": latencies}))


async def round_(url: str, *, policy: str, expiry: bool, args: argparse.Namespace) -> list[object]:
    ns = f"st-{uuid.uuid4().hex[:8]}"
    fill_calls = 0
    if expiry:
        filler = make_stack(url, policy=POLICIES[policy], namespace=ns, latency_ms=5)
        await filler.service.search(query())
        fill_calls = filler.airline.calls
    cmd = [__file__, "--child", "--url", url, "--ns", ns, "--policy", policy,
           "--offset-s", str(31.0 if expiry else 0.0), "--per-proc", str(args.per_proc),
           "--latency-ms", str(args.latency_ms)]  # fmt: skip
    procs = spawn_children(cmd, args.procs)
    redis = connect_redis(url)
    deadline = time.monotonic() + 60
    while int(await redis.get(ns + ":ready") or 0) < args.procs:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            for p in procs:
                p.kill()
            raise RuntimeError("children failed or did not get ready in 60 s")
        await asyncio.sleep(0.01)
    await redis.rpush(ns + ":go", *range(args.procs))
    calls = 0
    sources: Counter[str] = Counter()
    latencies: list[float] = []
    for p in procs:
        out, _ = await asyncio.to_thread(p.communicate, timeout=120)
        report = json.loads(out.strip().splitlines()[-1])
        calls += report["calls"]
        sources.update(report["sources"])
        latencies.extend(report["ms"])
    await redis.aclose()
    assert fill_calls <= 1
    served = ", ".join(f"{k}={v}" for k, v in sorted(sources.items()))
    return ["at expiry" if expiry else "cold", policy, calls, served,
            pct(latencies, 50), pct(latencies, 99)]  # fmt: skip


async def run(args: argparse.Namespace) -> None:
    rows: list[list[object]] = []
    with redis_server() as server:
        for expiry in (False, True):
            for policy in ("yatri", "baseline"):
                rows.append(await round_(server.url, policy=policy, expiry=expiry, args=args))
    total = args.procs * args.per_proc
    print(f"stampede: {total:,} concurrent searches for one key over {args.procs} processes, "
          f"supplier latency ~{args.latency_ms:.0f} ms (target: 1 supplier call per refresh)")  # fmt: skip
    print(table(["key", "cache", "supplier calls", "served", "p50 ms", "p99 ms"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--per-proc", type=int, default=250)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--ns", help=argparse.SUPPRESS)
    parser.add_argument("--policy", choices=sorted(POLICIES), help=argparse.SUPPRESS)
    parser.add_argument("--offset-s", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    quiet()
    asyncio.run(child(args) if args.child else run(args))


if __name__ == "__main__":
    main()
