"""The fare side, composed once per process: the airline supplier (the sandbox airline here),
the fare cache over Redis, the fare service with its supplier guard, the change-event stream
with its consumer and the L1 broadcast, and route warming.

`yatri serve` builds all of it; `yatri worker` needs only the supplier, built by the same
`sandbox_airline` so a booking activity prices against the same inventory the API searched."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core.airports import AirportDirectory
from core.background import background
from core.errors import DependencyUnavailableError
from core.logging import get_logger
from core.redis_conn import RedisClient
from core.settings import Settings
from fares.cache import CachePolicy, FareCache
from fares.events import FareChangeEvent, L1Broadcast, RedisFareEvents
from fares.service import FareService, SupplierGuard
from fares.suppliers.sandbox import SandboxAirline, SandboxFaults
from fares.warming import parse_routes, warm

log = get_logger(__name__)

# How often the event stream's lag and dead-letter size are read for the metrics.
EVENT_METRICS_S = 5.0

PriceMove = Callable[[str, str, dt.date], Awaitable[None]]


def sandbox_airline(
    settings: Settings, *, airports: AirportDirectory, on_price_move: PriceMove | None = None
) -> SandboxAirline:
    """The sandbox airline the settings describe (seed, injected latency and errors)."""
    faults = SandboxFaults(
        latency_ms=settings.supplier_latency_ms, error_rate=settings.supplier_error_rate
    )
    return SandboxAirline(
        airports=airports, seed=settings.supplier_seed, faults=faults, on_price_move=on_price_move
    )


@dataclass(frozen=True, slots=True)
class FareSide:
    supplier: SandboxAirline
    cache: FareCache
    service: FareService
    events: RedisFareEvents
    broadcast: L1Broadcast


def build_fares(settings: Settings, *, redis: RedisClient, airports: AirportDirectory) -> FareSide:
    ns = settings.redis_namespace
    events = RedisFareEvents(
        redis=redis,
        consumer=f"{socket.gethostname()}-{os.getpid()}",
        stream=f"{ns}:fares:events",
        dlq_stream=f"{ns}:fares:events:dlq",
    )

    async def announce_price_move(origin: str, destination: str, date: dt.date) -> None:
        await events.publish(
            FareChangeEvent.new(
                origin=origin, destination=destination, date=date, reason="price moved"
            )
        )

    supplier = sandbox_airline(settings, airports=airports, on_price_move=announce_price_move)
    cache = FareCache(
        redis=redis,
        policy=CachePolicy(
            fresh_s=settings.fare_fresh_s,
            hard_max_age_s=settings.fare_hard_max_age_s,
            l1_max_entries=settings.fare_l1_max_entries,
            l1_max_bytes=settings.fare_l1_max_mb * 2**20,
        ),
        namespace=ns,
    )
    service = FareService(
        supplier=supplier,
        airports=airports,
        guard=SupplierGuard.for_supplier(
            supplier.name,
            timeout_s=settings.supplier_timeout_s,
            max_concurrent=settings.supplier_max_concurrent,
            max_attempts=settings.supplier_max_attempts,
            failure_threshold=settings.breaker_failure_threshold,
            reset_timeout_s=settings.breaker_reset_s,
        ),
        cache=cache,
        deadline_s=settings.request_timeout_s,
        booking_fresh_s=settings.fare_booking_fresh_s,
        cutoff_min=settings.booking_cutoff_min,
    )
    broadcast = L1Broadcast(redis=redis, channel=f"{ns}:fares:l1-invalidate")
    return FareSide(
        supplier=supplier, cache=cache, service=service, events=events, broadcast=broadcast
    )


@asynccontextmanager
async def running_fares(settings: Settings, fares: FareSide) -> AsyncIterator[None]:
    """The background work: the change-event consumer (a change drops the route from Redis and,
    through the broadcast, from every process's L1), the stream's metrics, and route warming.
    Stopped and awaited on the way out, then the cache closed."""
    stop = asyncio.Event()
    events, cache = fares.events, fares.cache

    async def apply_fare_change(event: FareChangeEvent) -> None:
        await cache.invalidate(
            origin=event.origin,
            destination=event.destination,
            date=event.date.isoformat() if event.date else None,
        )
        await fares.broadcast.publish(event.route_key)

    async def watch_event_stream() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a metric must never take the app down
                await events.lag()
                await events.dlq_size()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=EVENT_METRICS_S)

    try:
        await events.ensure_group()
    except DependencyUnavailableError:
        # Start anyway: /readyz reports Redis, and the consumer creates the group later.
        log.warning("fare event group not created at start-up")
    warming = warm(
        fares.service,
        routes=parse_routes(settings.fare_warm_routes),
        days=settings.fare_warm_days,
        interval_s=settings.fare_warm_interval_s,
        stop=stop,
    )
    jobs = [
        ("fare-events", events.run(apply_fare_change, stop=stop)),
        ("fare-events-metrics", watch_event_stream()),
        ("fare-l1-broadcast", fares.broadcast.run(cache.drop_route_key, stop=stop)),
        ("fare-warming", warming),
    ]
    try:
        async with background(jobs, stop=stop):
            yield
    finally:
        await cache.close()
