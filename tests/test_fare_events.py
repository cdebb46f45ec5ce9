"""Fare-change events against the real embedded Redis: delivery, retries, DLQ, L1 fan-out."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import inspect
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from core.embedded import EmbeddedValkey
from core.redis_conn import RedisClient, connect_redis
from fares.events import (
    ALL_ROUTES,
    FareChangeEvent,
    Handler,
    L1Broadcast,
    RedisFareEvents,
    route_key,
)

ROOT = Path(__file__).resolve().parents[1]
DAY = dt.date(2026, 12, 1)


def _event(*, date: dt.date | None = DAY) -> FareChangeEvent:
    return FareChangeEvent.new(origin="DEL", destination="BOM", date=date, reason="price-moved")


def _outcome(outcome: str) -> float:
    return REGISTRY.get_sample_value("yatri_fare_events_total", {"outcome": outcome}) or 0.0


async def _until(check: Callable[[], bool | Awaitable[bool]], *, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if await result if inspect.isawaitable(result) else result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def _running(events: RedisFareEvents, handler: Handler) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(events.run(handler, stop=stop))
    try:
        yield task
    finally:
        stop.set()
        if not task.cancelled():
            await asyncio.wait_for(task, 5)


@pytest.fixture
async def redis(redis_server: EmbeddedValkey) -> AsyncIterator[RedisClient]:
    client = connect_redis(redis_server.url)
    yield client
    await client.aclose()


@dataclass(frozen=True, slots=True)
class Names:
    stream: str
    group: str
    dlq: str


@pytest.fixture
def names() -> Names:
    suffix = uuid.uuid4().hex[:8]
    return Names(f"test:fares:{suffix}", f"test-group-{suffix}", f"test:fares:{suffix}:dlq")


@pytest.fixture
def make_events(redis: RedisClient, names: Names) -> Callable[..., RedisFareEvents]:
    def make(consumer: str = "c1", **overrides: Any) -> RedisFareEvents:
        return RedisFareEvents(
            redis=redis,
            consumer=consumer,
            stream=names.stream,
            group=names.group,
            dlq_stream=names.dlq,
            **overrides,
        )

    return make


def test_fields_round_trip_and_malformed_entries_are_refused() -> None:
    for date in (DAY, None):
        event = _event(date=date)
        assert FareChangeEvent.from_fields(event.to_fields()) == event
    assert _event().route_key == route_key(origin="DEL", destination="BOM", date=DAY)
    assert route_key(origin="DEL", destination="BOM", date=None) == "DEL-BOM:*"
    good = _event().to_fields()
    for broken in (
        {k: v for k, v in good.items() if k != "origin"},
        {**good, "date": "1st December"},
        {**good, "published_at": "2026-12-01T10:00:00"},
    ):
        with pytest.raises(ValueError):
            FareChangeEvent.from_fields(broken)


async def test_a_handler_that_fails_once_gets_the_event_again_and_applies_it_once(
    make_events: Callable[..., RedisFareEvents],
) -> None:
    events = make_events(claim_idle_ms=100)
    attempts: list[str] = []
    applied: list[str] = []

    async def flaky(event: FareChangeEvent) -> None:
        attempts.append(event.event_id)
        if len(attempts) == 1:
            raise ConnectionError("L2 write failed")
        applied.append(event.event_id)

    retried, done = _outcome("retried"), _outcome("applied")
    event = _event()
    async with _running(events, flaky):
        await events.publish(event)
        await _until(lambda: bool(applied))
        await _until(lambda: _lag_is(events, 0))
    assert attempts == [event.event_id, event.event_id]
    assert applied == [event.event_id]
    assert _outcome("retried") == retried + 1
    assert _outcome("applied") == done + 1


async def _lag_is(events: RedisFareEvents, expected: int) -> bool:
    return await events.lag() == expected


async def test_the_same_event_published_twice_is_applied_once(
    make_events: Callable[..., RedisFareEvents],
) -> None:
    events = make_events()
    applied: list[str] = []

    async def record(event: FareChangeEvent) -> None:
        applied.append(event.event_id)

    duplicates = _outcome("duplicate")
    event = _event()
    await events.publish(event)
    await events.publish(event)
    async with _running(events, record):
        await _until(lambda: _lag_is(events, 0))
    assert applied == [event.event_id]
    assert _outcome("duplicate") == duplicates + 1


async def test_an_event_whose_handler_always_fails_is_dead_lettered_after_max_deliveries(
    make_events: Callable[..., RedisFareEvents], redis: RedisClient, names: Names
) -> None:
    events = make_events(claim_idle_ms=100, max_deliveries=3)
    attempts: list[str] = []

    async def broken(event: FareChangeEvent) -> None:
        attempts.append(event.event_id)
        raise RuntimeError("always")

    dead = _outcome("dead_lettered")
    event = _event()
    async with _running(events, broken):
        await events.publish(event)
        await _until(lambda: _dlq_is(events, 1), timeout_s=10)
    assert attempts == [event.event_id] * 3
    assert await events.lag() == 0
    [(_, fields)] = await redis.xrange(names.dlq)
    assert fields[b"event_id"] == event.event_id.encode()
    assert fields[b"dlq_reason"] == b"max deliveries"
    assert fields[b"dlq_deliveries"] == b"4"
    assert _outcome("dead_lettered") == dead + 1


async def _dlq_is(events: RedisFareEvents, expected: int) -> bool:
    return await events.dlq_size() == expected


async def test_malformed_entries_are_dead_lettered_and_the_loop_goes_on(
    make_events: Callable[..., RedisFareEvents], redis: RedisClient, names: Names
) -> None:
    events = make_events()
    applied: list[str] = []

    async def record(event: FareChangeEvent) -> None:
        applied.append(event.event_id)

    good = _event()
    await redis.xadd(names.stream, {"junk": "1"})
    await redis.xadd(names.stream, {**good.to_fields(), "date": "tomorrow", "event_id": "x"})
    await redis.xadd(names.stream, {"event_id": b"\xff\xfe"})
    await events.publish(good)
    async with _running(events, record):
        await _until(lambda: bool(applied))
    assert applied == [good.event_id]
    assert await events.dlq_size() == 3
    dead = await redis.xrange(names.dlq)
    assert all(fields[b"dlq_reason"].startswith(b"malformed") for _, fields in dead)
    assert dead[0][1][b"junk"] == b"1"


async def test_an_entry_held_by_a_dead_consumer_is_reclaimed_by_another(
    make_events: Callable[..., RedisFareEvents], redis: RedisClient, names: Names
) -> None:
    started = asyncio.Event()

    async def hangs(event: FareChangeEvent) -> None:
        started.set()
        await asyncio.Event().wait()

    applied: list[str] = []

    async def record(event: FareChangeEvent) -> None:
        applied.append(event.event_id)

    a, b = make_events("a"), make_events("b", claim_idle_ms=100)
    event = _event()
    async with _running(a, hangs) as task_a:
        await a.publish(event)
        await asyncio.wait_for(started.wait(), 5)
        task_a.cancel()  # the process dies mid-handler: the entry stays pending on "a"
        with contextlib.suppress(asyncio.CancelledError):
            await task_a
    pending = await redis.xpending(names.stream, names.group)
    assert pending["pending"] == 1
    assert pending["consumers"][0]["name"] == b"a"
    async with _running(b, record):
        await _until(lambda: bool(applied))
        await _until(lambda: _lag_is(b, 0))
    assert applied == [event.event_id]


async def test_two_consumers_in_a_group_share_the_entries_without_duplicates(
    make_events: Callable[..., RedisFareEvents],
) -> None:
    seen: dict[str, list[str]] = {"a": [], "b": []}

    def handler_for(name: str) -> Handler:
        async def handle(event: FareChangeEvent) -> None:
            seen[name].append(event.event_id)
            await asyncio.sleep(0.03)  # busy, so the other consumer takes the next entry

        return handle

    a, b = make_events("a"), make_events("b")
    published = [_event() for _ in range(10)]
    async with _running(a, handler_for("a")), _running(b, handler_for("b")):
        await asyncio.sleep(0.1)
        for event in published:
            await a.publish(event)
            await asyncio.sleep(0.02)
        await _until(lambda: len(seen["a"]) + len(seen["b"]) >= 10)
        await _until(lambda: _lag_is(a, 0))
    both = seen["a"] + seen["b"]
    assert sorted(both) == sorted(e.event_id for e in published)
    assert seen["a"] and seen["b"]


async def test_lag_counts_undelivered_and_pending_entries_and_dlq_size_counts_the_dlq(
    make_events: Callable[..., RedisFareEvents], redis: RedisClient, names: Names
) -> None:
    events = make_events()
    assert await events.lag() == 0  # nothing published yet
    await events.ensure_group()
    for _ in range(3):
        await events.publish(_event())
    assert await events.lag() == 3
    [[_, [(entry_id, _)]]] = await redis.xreadgroup(
        names.group, "peek", {names.stream: ">"}, count=1
    )
    assert await events.lag() == 3  # 2 undelivered + 1 pending
    await redis.xack(names.stream, names.group, entry_id)
    assert await events.lag() == 2
    assert REGISTRY.get_sample_value("yatri_fare_events_lag") == 2
    assert await events.dlq_size() == 0
    await redis.xadd(names.dlq, {"dlq_reason": "test"})
    assert await events.dlq_size() == 1
    assert REGISTRY.get_sample_value("yatri_fare_events_dlq") == 1


async def test_an_event_reaches_two_processes_l1_within_100ms(
    make_events: Callable[..., RedisFareEvents], redis_server: EmbeddedValkey
) -> None:
    channel = f"test:l1:{uuid.uuid4().hex[:8]}"
    clients = [connect_redis(redis_server.url) for _ in range(3)]
    loop = asyncio.get_running_loop()
    received: dict[int, list[tuple[str, float]]] = {0: [], 1: []}
    stop = asyncio.Event()
    readies = [asyncio.Event(), asyncio.Event()]
    subscribers = [
        asyncio.create_task(
            L1Broadcast(redis=clients[i], channel=channel).run(
                lambda key, i=i: received[i].append((key, loop.time())),
                stop=stop,
                ready=readies[i],
            )
        )
        for i in (0, 1)
    ]
    l1 = L1Broadcast(redis=clients[2], channel=channel)

    async def invalidate(event: FareChangeEvent) -> None:
        await l1.publish(event.route_key)

    events = make_events()
    try:
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 5)
        async with _running(events, invalidate):
            await events.publish(_event(date=None))  # warms the path
            await _until(lambda: all(received.values()))
            started = loop.time()
            await events.publish(_event())
            await _until(lambda: all(len(r) == 2 for r in received.values()))
    finally:
        stop.set()
        await asyncio.gather(*subscribers)
        for client in clients:
            await client.aclose()
    for got in received.values():
        assert [key for key, _ in got] == ["DEL-BOM:*", "DEL-BOM:2026-12-01"]
        assert got[1][1] - started < 0.1


async def test_a_resubscribed_l1_drops_everything(redis: RedisClient) -> None:
    channel = f"test:l1:{uuid.uuid4().hex[:8]}"
    received: list[str] = []
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        L1Broadcast(redis=redis, channel=channel, reconnect_s=0.05).run(
            received.append, stop=stop, ready=ready
        )
    )
    try:
        await asyncio.wait_for(ready.wait(), 5)
        await redis.client_kill_filter(_type="pubsub")
        await _until(lambda: received == [ALL_ROUTES])
        await L1Broadcast(redis=redis, channel=channel).publish("DEL-BOM:*")
        await _until(lambda: received == [ALL_ROUTES, "DEL-BOM:*"])
    finally:
        stop.set()
        await task


_CHILD = """
import asyncio, sys, time
from core.redis_conn import connect_redis
from fares.events import L1Broadcast

async def main(url, channel, ready_key, result_key):
    redis = connect_redis(url)
    stop, ready = asyncio.Event(), asyncio.Event()
    got = []
    def on_route(key):
        got.append(f"{key}|{time.time()}")
        stop.set()
    task = asyncio.create_task(
        L1Broadcast(redis=redis, channel=channel).run(on_route, stop=stop, ready=ready)
    )
    await ready.wait()
    await redis.set(ready_key, "1", ex=60)
    await task
    await redis.set(result_key, got[0], ex=60)
    await redis.aclose()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_an_event_invalidates_l1_in_another_os_process(
    make_events: Callable[..., RedisFareEvents], redis: RedisClient, redis_server: EmbeddedValkey
) -> None:
    suffix = uuid.uuid4().hex[:8]
    channel, ready_key, result_key = (f"test:l1:{suffix}:{part}" for part in ("ch", "rd", "rs"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        redis_server.url,
        channel,
        ready_key,
        result_key,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    l1 = L1Broadcast(redis=redis, channel=channel)

    async def invalidate(event: FareChangeEvent) -> None:
        await l1.publish(event.route_key)

    events = make_events()
    try:
        await _until(lambda: _exists(redis, ready_key), timeout_s=30)
        async with _running(events, invalidate):
            published = time.time()
            await events.publish(_event())
            _, stderr = await asyncio.wait_for(child.communicate(), 10)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert child.returncode == 0, stderr.decode()
    key, received_at = (await redis.get(result_key)).decode().split("|")
    assert key == "DEL-BOM:2026-12-01"
    assert float(received_at) - published < 1.0


async def _exists(redis: RedisClient, key: str) -> bool:
    return bool(await redis.exists(key))
