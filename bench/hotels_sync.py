"""Hotel availability sync against a real (embedded) Redis, each figure beside a naive peer.

a. Full load: every destination of an N-property catalogue x 30 nights from the suppliers'
   snapshots (`HotelSync.load_all`): wall time and Redis `used_memory` delta.
b. Sustained changes: a child process plays the suppliers and the webhook: it emits changes at
   `--rate` a second (deliverable ones: push and feed suppliers), the channel manager pushes them as
   OTA XML which is parsed as the webhook does (`parse_notif`) and received (`sync.receive`), the
   feed is polled (`sync.poll_once`); this process runs the `RedisChangeBus` consumer applying
   with `sync.apply`. Lag = apply completed - the change's version time (when the supplier set it).
   The change values come from a pool drawn with `random_change()` before the timed window (one
   `random_change` costs about a millisecond of CPU, so 5,000/s cannot be drawn live on 2 cores);
   each emission stamps the cell with a fresh version, which is the moment the change happens.
c. Out-of-order delivery: cells changed several times, delivered each twice, batches reversed and
   shuffled; cells whose stored value differs from the supplier's truth, Yatri's versioned store
   vs a last-write-wins peer (plain HSET per cell, no versions) fed the same order.
d. Lost pushes: 1 % of pushes dropped; cells differing from the truth after delivery, then after
   one `sync.reconcile()` cycle; the cycle's time beside polling every property's snapshot once.

c and d use their own namespace holding the `--scope` largest destinations.

    python bench/hotels_sync.py [--properties 500000] [--rate 5000] [--seconds 30] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from _fares import pct, quiet, redis_server, table

from core.redis_conn import RedisClient, connect_redis
from hotels.catalogue import Catalogue
from hotels.events import ChangeBatch, RedisChangeBus
from hotels.models import VERSION_EPOCH, Cell, Property, RoomType, now_version
from hotels.ota import parse_notif
from hotels.redis_store import RedisAvailabilityStore
from hotels.suppliers.inventory import Inventory
from hotels.suppliers.sandbox import HotelFaults, SandboxHotelNetwork
from hotels.sync import HotelSync

WINDOW = 30
EPOCH_S = VERSION_EPOCH.timestamp()
ROOT = Path(__file__).resolve().parent.parent


def vtime(version: int) -> float:
    return EPOCH_S + version / 1e6


def build(
    redis: RedisClient, catalogue: Catalogue, ns: str, network: SandboxHotelNetwork,
    consumer: str = "bench",
) -> tuple[RedisAvailabilityStore, RedisChangeBus, HotelSync]:  # fmt: skip
    store = RedisAvailabilityStore(redis=redis, namespace=ns, window_days=WINDOW)
    bus = RedisChangeBus(redis=redis, namespace=ns, consumer=consumer)
    sync = HotelSync(catalogue=catalogue, store=store, bus=bus, suppliers=network.suppliers,
                     feeds=[network.feed], today=network.inventory.today)  # fmt: skip
    return store, bus, sync


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def drain(bus: RedisChangeBus, sync: HotelSync, limit_s: float = 120) -> None:
    """Run the consumer until the stream has nothing pending."""
    stop = asyncio.Event()

    async def apply(batches: Sequence[ChangeBatch]) -> None:
        await sync.apply(batches)

    await bus.ensure_group()
    task = asyncio.create_task(bus.run(apply, stop=stop))
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        if await bus.pending() == 0:
            break
    stop.set()
    await task


def sink_for(sync: HotelSync):  # type: ignore[no-untyped-def]
    """The webhook's work for one pushed body: parse the OTA XML, write it to the stream."""

    async def sink(supplier: str, body: bytes) -> int:
        notification = parse_notif(body)
        await sync.receive(supplier, notification.cells)
        return 200

    return sink


# --- a. full load ----------------------------------------------------------------------------


async def full_load(
    redis: RedisClient, catalogue: Catalogue, ns: str, seed: int
) -> dict[str, float]:
    inventory = Inventory(catalogue, window_days=WINDOW)
    network = SandboxHotelNetwork(catalogue, inventory, HotelFaults(), seed=seed)
    store, _bus, sync = build(redis, catalogue, ns, network)
    before = await store.memory_bytes()
    t0 = time.perf_counter()
    done = await sync.load_all(stop=asyncio.Event())
    wall = time.perf_counter() - t0
    after = await store.memory_bytes()
    delta = after - before
    n = catalogue.size
    return {"destinations": done, "properties": n, "seconds": wall,
            "properties_per_s": n / wall, "used_memory_delta_mb": delta / 2**20,
            "bytes_per_property": delta / n, "bytes_per_property_night": delta / (n * WINDOW)}  # fmt: skip


# --- b. sustained changes: the child (suppliers + webhook) --------------------------------------


async def churn_child(args: argparse.Namespace) -> None:
    catalogue = Catalogue(properties=args.properties, seed=0)
    redis = connect_redis(args.url)
    pool_net = SandboxHotelNetwork(catalogue, Inventory(catalogue, window_days=WINDOW),
                                   HotelFaults(), seed=args.seed + 11)  # fmt: skip
    flags: list[bool] = []  # what each change set: rooms left (True) or the rate

    def note(_cell: Cell, *, available: bool, rate: bool) -> None:
        flags.append(available)

    for s in pool_net.suppliers:
        s.record = note  # type: ignore[method-assign,assignment]  # the pool's changes are not delivered
    pool: list[tuple[Cell, bool]] = []
    drawn = bulk = 0
    while len(pool) < args.pool:
        flags.clear()
        cell = pool_net.random_change()
        drawn += 1
        prop = catalogue.get(cell.hotel_id)
        assert prop is not None
        if prop.supplier == pool_net.bulk.name:
            bulk += 1  # a bulk supplier tells no one: only reconciliation finds these
            continue
        pool.append((cell, flags[-1]))
    network = SandboxHotelNetwork(catalogue, Inventory(catalogue, window_days=WINDOW),
                                  HotelFaults(), seed=args.seed + 12)  # fmt: skip
    _store, _bus, sync = build(redis, catalogue, args.ns, network, consumer="webhook")
    await redis.set(f"{args.ns}:bench:ready", 1)
    while not await redis.get(f"{args.ns}:bench:go"):  # noqa: ASYNC110 - another process sets it
        await asyncio.sleep(0.005)
    stop = asyncio.Event()
    pushes = asyncio.create_task(network.channel.run_pushes(sink_for(sync), stop, interval_s=0.01))
    polls = asyncio.create_task(sync.run_pollers(interval_s=0.02, stop=stop))
    loop = asyncio.get_running_loop()
    start = last = loop.time()
    owed, emitted, i, version = 0.0, 0, 0, 0
    by_supplier = {network.channel.name: network.channel, network.feed.name: network.feed}
    emitted_by: dict[str, int] = {}
    while loop.time() - start < args.seconds:
        await asyncio.sleep(0.005)
        now = loop.time()
        owed = min(owed + args.rate * (now - last), args.rate)
        last = now
        for _ in range(int(owed)):
            cell, avail = pool[i % len(pool)]
            i += 1
            version = max(version + 1, now_version())
            fresh = dataclasses.replace(cell, version=version)
            prop = catalogue.get(cell.hotel_id)
            assert prop is not None
            by_supplier[prop.supplier].record(fresh, available=avail, rate=not avail)
            emitted_by[prop.supplier] = emitted_by.get(prop.supplier, 0) + 1
        emitted += int(owed)
        owed -= int(owed)
    elapsed = loop.time() - start
    # Let the queues empty, then stop.
    for _ in range(400):
        if network.channel.pending() == 0:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(pushes, polls)
    await sync.poll_once(network.feed)
    stats = network.channel.stats
    print(json.dumps({"emitted": emitted, "seconds": elapsed, "emitted_by": emitted_by,
                      "pool": len(pool), "pool_drawn": drawn, "pool_bulk_skipped": bulk,
                      "push_messages": stats.messages, "push_delivered": stats.delivered,
                      "push_failed": stats.failed + stats.rejected}))  # fmt: skip
    await redis.aclose()


async def sustained(redis: RedisClient, catalogue: Catalogue, ns: str, args: argparse.Namespace,
                    url: str) -> dict[str, object]:  # fmt: skip
    inventory = Inventory(catalogue, window_days=WINDOW)
    network = SandboxHotelNetwork(catalogue, inventory, HotelFaults(), seed=args.seed)
    store, bus, sync = build(redis, catalogue, ns, network)
    await bus.ensure_group()
    cmd = [sys.executable, __file__, "--child-churn", "--url", url, "--ns", ns,
           "--properties", str(args.properties), "--rate", str(args.rate),
           "--seconds", str(args.seconds), "--pool", str(args.pool), "--seed", str(args.seed)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")])}
    child = subprocess.Popen(  # noqa: ASYNC220 - started once, before the timed window
        cmd, stdout=subprocess.PIPE, text=True, env=env
    )
    lags: list[float] = []
    received: list[float] = []  # change -> written to the stream (supplier + webhook)
    stream_lags: list[float] = []  # written to the stream -> applied: Yatri's consumer alone
    applied_at: list[float] = []
    recent: list[tuple[Property, Cell]] = []

    async def handler(batches: Sequence[ChangeBatch]) -> None:
        counts = await sync.apply(batches)
        now = time.time()
        for batch in batches:
            for cell in batch.cells:
                lags.append(now - vtime(cell.version))
                received.append(batch.received_at - vtime(cell.version))
                stream_lags.append(now - batch.received_at)
        applied_at.append(now)
        if counts.applied:
            last = batches[-1].cells[-1]
            prop = catalogue.get(last.hotel_id)
            if prop is not None:
                recent.append((prop, last))

    stop = asyncio.Event()
    consumer = asyncio.create_task(bus.run(handler, stop=stop))
    deadline = time.monotonic() + 600
    while not await redis.get(f"{ns}:bench:ready"):
        if child.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the churn child failed before it was ready")
        await asyncio.sleep(0.05)
    load_before = loadavg()
    go = time.time()
    await redis.set(f"{ns}:bench:go", 1)
    out, _ = await asyncio.to_thread(child.communicate, timeout=args.seconds + 300)
    report = json.loads(out.strip().splitlines()[-1])
    load_after = loadavg()
    for _ in range(600):
        if await bus.pending() == 0:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await consumer
    # Searchable: the last changes applied read back from the store at their version or newer.
    sample = recent[-500:]
    seen = 0
    for prop, cell in sample:
        stored = (await store.read(prop, first_night=cell.night, nights=1))[cell.room_type][0]
        seen += stored is not None and stored.version >= cell.version
    counts = sync.stats.counts
    applied = sum(c.applied for c in counts.values())
    delivered = len(lags)
    span = (max(applied_at) - go) if applied_at else float("nan")
    lag_ms = [x * 1000 for x in lags]
    return {"target_rate": args.rate, "seconds": report["seconds"], "emitted": report["emitted"],
            "emitted_per_s": report["emitted"] / report["seconds"],
            "delivered_cells": delivered, "applied": applied,
            "duplicate": sum(c.duplicate for c in counts.values()),
            "stale": sum(c.stale for c in counts.values()),
            "rejected": sum(c.rejected for c in counts.values()),
            "applied_per_s": delivered / span, "lag_p50_ms": pct(lag_ms, 50),
            "lag_p95_ms": pct(lag_ms, 95), "lag_p99_ms": pct(lag_ms, 99),
            "lag_max_ms": max(lag_ms, default=float("nan")),
            "to_stream_p50_ms": pct([x * 1000 for x in received], 50),
            "to_stream_p99_ms": pct([x * 1000 for x in received], 99),
            "stream_to_searchable_p50_ms": pct([x * 1000 for x in stream_lags], 50),
            "stream_to_searchable_p99_ms": pct([x * 1000 for x in stream_lags], 99),
            "searchable_checked": len(sample), "searchable_ok": seen,
            "loadavg_before": load_before, "loadavg_after": load_after, "child": report}  # fmt: skip


# --- c. out-of-order delivery ------------------------------------------------------------------


async def stored_matches(store: RedisAvailabilityStore, inventory: Inventory,
                         cells: Sequence[tuple[Property, RoomType, dt.date]]) -> int:  # fmt: skip
    """How many of the cells differ between the store and the supplier's truth."""
    wrong = 0
    for prop, rt, night in cells:
        truth = inventory.cell(prop, rt, night)
        stored = (await store.read(prop, first_night=night, nights=1))[rt][0]
        assert truth is not None
        if stored is None or (stored.available, stored.rate_paise) != (
            truth.available, truth.rate_paise):  # fmt: skip
            wrong += 1
    return wrong


def pick_cell(rng: random.Random, catalogue: Catalogue, numbers: Sequence[int],
              first: dt.date) -> tuple[Property, RoomType, dt.date]:  # fmt: skip
    prop = catalogue.property(rng.choice(numbers))
    return prop, rng.choice(prop.room_types), first + dt.timedelta(days=rng.randrange(WINDOW))


def change(rng: random.Random, network: SandboxHotelNetwork, prop: Property, rt: RoomType,
           night: dt.date) -> Cell:  # fmt: skip
    """One supplier change, as its message carries it (rooms left or the rate, not both)."""
    if rng.random() < 0.6:
        cell = network.change(prop, rt, night, available=rng.randint(0, 20))
        return dataclasses.replace(cell, rate_paise=None)
    cell = network.change(prop, rt, night, rate_paise=rng.randint(800, 20_000) * 100)
    return dataclasses.replace(cell, available=None)


def batches_of(cells: Sequence[Cell], catalogue: Catalogue) -> list[ChangeBatch]:
    by: dict[str, list[Cell]] = {}
    for c in cells:
        prop = catalogue.get(c.hotel_id)
        assert prop is not None
        by.setdefault(prop.supplier, []).append(c)
    return [ChangeBatch(supplier=s, received_at=time.time(), cells=cs) for s, cs in by.items()]


async def out_of_order(redis: RedisClient, catalogue: Catalogue, ns: str, numbers: list[int],
                       inventory: Inventory, args: argparse.Namespace) -> dict[str, object]:  # fmt: skip
    network = SandboxHotelNetwork(catalogue, inventory, HotelFaults(), seed=args.seed + 21)
    store, _bus, sync = build(redis, catalogue, ns, network)
    rng = random.Random(args.seed + 22)
    first = inventory.today()
    touched = {pick_cell(rng, catalogue, numbers, first) for _ in range(args.ooo_cells)}
    created: list[Cell] = []
    for prop, rt, night in touched:
        created += [change(rng, network, prop, rt, night) for _ in range(args.ooo_versions)]
    # Each change twice; batches of 200 in reverse order, shuffled within.
    doubled = [c for c in created for _ in range(2)]
    batches = [doubled[i : i + 200] for i in range(0, len(doubled), 200)][::-1]
    for b in batches:
        rng.shuffle(b)
    order = [c for b in batches for c in b]
    t0 = time.perf_counter()
    counts = None
    for b in batches:
        got = await sync.apply(batches_of(b, catalogue))
        counts = got if counts is None else counts + got
    yatri_s = time.perf_counter() - t0
    yatri_wrong = await stored_matches(store, inventory, sorted(touched, key=str))
    # The peer: last write wins, no versions; one hash per cell, fields a (rooms) and r (rate).
    peer = f"{ns}:peer"
    t0 = time.perf_counter()
    async with redis.pipeline(transaction=False) as pipe:
        for c in order:
            key = f"{peer}:{c.hotel_id}:{c.room_type.value}:{c.night.toordinal()}"
            if c.available is not None:
                pipe.hset(key, "a", c.available)
            if c.rate_paise is not None:
                pipe.hset(key, "r", c.rate_paise)
        await pipe.execute()
    peer_s = time.perf_counter() - t0
    peer_wrong = 0
    changed_fields: dict[tuple[str, RoomType, dt.date], set[str]] = {}
    for c in created:
        f = changed_fields.setdefault((c.hotel_id, c.room_type, c.night), set())
        f.add("a" if c.available is not None else "r")
    for prop, rt, night in touched:
        truth = inventory.cell(prop, rt, night)
        assert truth is not None
        raw = await redis.hgetall(f"{peer}:{prop.hotel_id}:{rt.value}:{night.toordinal()}")
        got_a, got_r = raw.get(b"a"), raw.get(b"r")
        fields = changed_fields[(prop.hotel_id, rt, night)]
        bad = ("a" in fields and int(got_a or -1) != truth.available) or (
            "r" in fields and int(got_r or -1) != truth.rate_paise)  # fmt: skip
        peer_wrong += bad
    assert counts is not None
    return {"cells": len(touched), "changes": len(created), "deliveries": len(order),
            "yatri_stale_overwrites": yatri_wrong, "peer_stale_overwrites": peer_wrong,
            "yatri_applied": counts.applied, "yatri_duplicate": counts.duplicate,
            "yatri_stale_refused": counts.stale, "yatri_apply_s": yatri_s, "peer_write_s": peer_s}  # fmt: skip


# --- d. lost pushes ------------------------------------------------------------------------------


async def lost_pushes(redis: RedisClient, catalogue: Catalogue, ns: str, numbers: list[int],
                      inventory: Inventory, args: argparse.Namespace) -> dict[str, object]:  # fmt: skip
    faults = HotelFaults(lost_push_rate=args.lost_rate)
    network = SandboxHotelNetwork(catalogue, inventory, faults, seed=args.seed + 31)
    store, bus, sync = build(redis, catalogue, ns, network)
    rng = random.Random(args.seed + 32)
    channel_numbers = [n for n in numbers if catalogue.supplier_of(n) == network.channel.name]
    first = inventory.today()
    touched = set()
    for _ in range(args.lost_changes):
        prop, rt, night = pick_cell(rng, catalogue, channel_numbers, first)
        change(rng, network, prop, rt, night)
        touched.add((prop, rt, night))
    await network.channel.push_pending(sink_for(sync))
    await drain(bus, sync)
    stats = network.channel.stats
    cells = sorted(touched, key=str)
    before = await stored_matches(store, inventory, cells)
    t0 = time.perf_counter()
    report = await sync.reconcile()
    cycle_s = time.perf_counter() - t0
    after = await stored_matches(store, inventory, cells)
    again = await sync.reconcile()
    # The peer: poll every property's snapshot once, one call a property.
    supplier = {s.name: s for s in network.suppliers}
    t0 = time.perf_counter()
    for n in numbers:
        prop = catalogue.property(n)
        await supplier[prop.supplier].snapshot([prop], first_night=first, nights=WINDOW)
    poll_s = time.perf_counter() - t0
    return {"changes": args.lost_changes, "cells": len(cells), "messages": stats.messages,
            "pushes_lost": stats.lost, "differing_after_delivery": before,
            "drift_found": report.total_found, "drift_repaired": report.total_repaired,
            "differing_after_reconcile": after, "found_by_second_cycle": again.total_found,
            "reconcile_cycle_s": cycle_s, "properties_in_scope": len(numbers),
            "peer_poll_every_property_s": poll_s,
            "reconcile_s_per_100k": cycle_s / len(numbers) * 100_000,
            "peer_poll_s_per_100k": poll_s / len(numbers) * 100_000}  # fmt: skip


# --- main ------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, object]:
    parts = set(args.parts)
    results: dict[str, object] = {"properties": args.properties, "loadavg_start": loadavg()}
    t = time.perf_counter()
    catalogue = Catalogue(properties=args.properties, seed=0)
    results["catalogue_s"] = time.perf_counter() - t
    with redis_server() as server:
        redis = connect_redis(server.url)
        ns = f"hs-{uuid.uuid4().hex[:6]}"
        if "a" in parts:
            results["a"] = await full_load(redis, catalogue, ns, args.seed)
            print(f"a done: {results['a']}", file=sys.stderr, flush=True)
        if "b" in parts:
            results["b"] = await sustained(redis, catalogue, ns, args, server.url)
            print(f"b done: {results['b']}", file=sys.stderr, flush=True)
        if parts & {"c", "d"}:
            scope = catalogue.largest(args.scope)
            numbers = [n for d in scope for n in catalogue.span(d.code)]
            ns_c = f"{ns}-cd"
            inventory = Inventory(catalogue, window_days=WINDOW)
            net = SandboxHotelNetwork(catalogue, inventory, HotelFaults(), seed=args.seed + 41)
            _s, _b, sync = build(redis, catalogue, ns_c, net)
            t = time.perf_counter()
            for d in scope:
                await sync.load_destination(d.code)
            results["scope"] = {"destinations": [d.code for d in scope], "properties": len(numbers),
                                "load_s": time.perf_counter() - t}  # fmt: skip
            if "c" in parts:
                results["c"] = await out_of_order(redis, catalogue, ns_c, numbers, inventory, args)
                print(f"c done: {results['c']}", file=sys.stderr, flush=True)
            if "d" in parts:
                results["d"] = await lost_pushes(redis, catalogue, ns_c, numbers, inventory, args)
                print(f"d done: {results['d']}", file=sys.stderr, flush=True)
        results["used_memory_end_mb"] = int((await redis.info("memory"))["used_memory"]) / 2**20
        await redis.aclose()
    results["loadavg_end"] = loadavg()
    return results


def report(r: dict[str, object], args: argparse.Namespace) -> None:
    print(f"hotel sync: {args.properties:,} properties x {WINDOW} nights; load average at start "
          f"{r['loadavg_start']}, at end {r['loadavg_end']}")  # fmt: skip
    if a := r.get("a"):
        assert isinstance(a, dict)
        print("\na. full load (HotelSync.load_all, all destinations)")
        print(table(["properties", "seconds", "properties/s", "Redis MB", "B/property",
                     "B/property-night"],
                    [[a["properties"], a["seconds"], a["properties_per_s"], a["used_memory_delta_mb"],
                      a["bytes_per_property"], a["bytes_per_property_night"]]]))  # fmt: skip
    if b := r.get("b"):
        assert isinstance(b, dict)
        ok = b["applied_per_s"] >= b["target_rate"] * 0.99 and b["lag_p99_ms"] <= 500
        print(f"\nb. sustained changes: target {b['target_rate']:,}/s for {b['seconds']:.0f} s "
              f"(push + feed; OTA build -> parse_notif -> receive -> stream -> apply); load average "
              f"{b['loadavg_before']} before, {b['loadavg_after']} after")  # fmt: skip
        print(table(["emitted/s", "delivered cells", "applied/s", "lag p50 ms", "p95 ms", "p99 ms",
                     "max ms", "dup", "stale", "searchable", ">=5k/s & p99<=500ms"],
                    [[b["emitted_per_s"], b["delivered_cells"], b["applied_per_s"], b["lag_p50_ms"],
                      b["lag_p95_ms"], b["lag_p99_ms"], b["lag_max_ms"], b["duplicate"], b["stale"],
                      f"{b['searchable_ok']}/{b['searchable_checked']}",
                      "held" if ok else "MISSED"]]))  # fmt: skip
        print(f"   of which change -> on the stream (supplier queue, OTA build, webhook parse, XADD): "
              f"p50 {b['to_stream_p50_ms']:.1f} ms, p99 {b['to_stream_p99_ms']:.1f} ms")  # fmt: skip
        print(f"   on the stream -> searchable (Yatri's consumer: read, version check, apply): "
              f"p50 {b['stream_to_searchable_p50_ms']:.1f} ms, "
              f"p99 {b['stream_to_searchable_p99_ms']:.1f} ms")  # fmt: skip
    if s := r.get("scope"):
        assert isinstance(s, dict)
        print(f"\nc/d scope: the {len(s['destinations'])} largest destinations, "
              f"{s['properties']:,} properties (loaded in {s['load_s']:.1f} s)")  # fmt: skip
    if c := r.get("c"):
        assert isinstance(c, dict)
        print(f"\nc. out-of-order delivery: {c['cells']:,} cells x {args.ooo_versions} changes, "
              f"each delivered twice, batches reversed and shuffled ({c['deliveries']:,} deliveries)")  # fmt: skip
        print(table(["store", "stale overwrites", "applied", "duplicate", "refused stale", "seconds"],
                    [["yatri (versioned)", c["yatri_stale_overwrites"], c["yatri_applied"],
                      c["yatri_duplicate"], c["yatri_stale_refused"], c["yatri_apply_s"]],
                     ["peer (LWW, HSET)", c["peer_stale_overwrites"], "-", "-", "-",
                      c["peer_write_s"]]]))  # fmt: skip
    if d := r.get("d"):
        assert isinstance(d, dict)
        print(f"\nd. lost pushes: {d['changes']:,} channel changes ({d['cells']:,} cells, "
              f"{d['messages']:,} OTA messages), {d['pushes_lost']} pushes lost")  # fmt: skip
        print(table(["differing after delivery", "drift found", "repaired",
                     "differing after 1 cycle", "2nd cycle finds", "cycle s", "poll-every-property s",
                     "properties"],
                    [[d["differing_after_delivery"], d["drift_found"], d["drift_repaired"],
                      d["differing_after_reconcile"], d["found_by_second_cycle"],
                      d["reconcile_cycle_s"], d["peer_poll_every_property_s"],
                      d["properties_in_scope"]]]))  # fmt: skip
        print(f"   per 100K properties: reconcile {d['reconcile_s_per_100k']:.1f} s, "
              f"poll every property {d['peer_poll_s_per_100k']:.1f} s")  # fmt: skip
    print(f"\nRedis used_memory at end: {r['used_memory_end_mb']:,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--properties", type=int, default=500_000)
    parser.add_argument("--parts", default="abcd", help="which of a, b, c, d to run")
    parser.add_argument("--rate", type=int, default=5_000, help="deliverable changes a second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pool", type=int, default=10_000, help="random_change() draws to emit")
    parser.add_argument("--scope", type=int, default=10, help="largest destinations for c and d")
    parser.add_argument("--ooo-cells", type=int, default=2_000)
    parser.add_argument("--ooo-versions", type=int, default=3)
    parser.add_argument("--lost-changes", type=int, default=10_000)
    parser.add_argument("--lost-rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--child-churn", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--ns", help=argparse.SUPPRESS)
    args = parser.parse_args()
    quiet()
    if args.child_churn:
        asyncio.run(churn_child(args))
        return
    results = asyncio.run(run(args))
    report(results, args)
    if args.json:
        print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
