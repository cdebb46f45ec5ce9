"""The fare cache against real Redis: single flight, freshness, fallbacks, headers."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import textwrap
import uuid
from pathlib import Path

import httpx
import pytest

from core.airports import load_airports
from core.embedded import EmbeddedValkey
from core.errors import SupplierError
from core.redis_conn import connect_redis
from fares.cache import CachePolicy, FareCache
from fares.models import IST, FareQuery, FareSource
from fares.service import FareService, SupplierGuard
from fares.suppliers.sandbox import SandboxAirline, SandboxFaults
from fares.warming import parse_routes, warm

AIRPORTS = load_airports()


class Clock:
    """Shared fake time for the cache (epoch seconds) and the service (datetimes)."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).timestamp()

    def epoch(self) -> float:
        return self.now

    def utc(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now, tz=dt.UTC)


def make(
    redis_url: str, *, clock: Clock | None = None, latency_ms: float = 30, **policy: object
) -> tuple[FareService, FareCache, SandboxAirline]:
    clock = clock or Clock()
    redis = connect_redis(redis_url)
    airline = SandboxAirline(airports=AIRPORTS, seed=3, faults=SandboxFaults(latency_ms=latency_ms),
                             clock=clock.utc)  # fmt: skip
    cache = FareCache(redis=redis, policy=CachePolicy(early_refresh=False, **policy),  # type: ignore[arg-type]
                      namespace=f"t{uuid.uuid4().hex[:8]}", clock=clock.epoch)  # fmt: skip
    service = FareService(
        supplier=airline, airports=AIRPORTS, cache=cache, clock=clock.utc,
        guard=SupplierGuard.for_supplier(f"sbx-{uuid.uuid4().hex[:6]}", timeout_s=1,
                                         failure_threshold=3, reset_timeout_s=60),
    )  # fmt: skip
    return service, cache, airline


def query(days: int = 10, origin: str = "DEL", destination: str = "BOM") -> FareQuery:
    return FareQuery(origin, destination, dt.datetime.now(IST).date() + dt.timedelta(days=days))


async def test_concurrent_misses_make_one_supplier_call(redis_server: EmbeddedValkey) -> None:
    service, _, airline = make(redis_server.url, latency_ms=100)
    results = await asyncio.gather(*(service.search(query()) for _ in range(200)))
    assert airline.calls == 1
    assert {r.source for r in results} == {FareSource.LIVE}
    assert len({r.offers[0].price.total for r in results}) == 1


async def test_tiers_in_order(redis_server: EmbeddedValkey) -> None:
    service, _, airline = make(redis_server.url)
    first = await service.search(query())
    second = await service.search(query())
    assert (first.source, second.source) == (FareSource.LIVE, FareSource.L1)
    # Another process (a fresh cache on the same Redis namespace) finds it in L2.
    other, other_cache, other_airline = make(redis_server.url)
    other_cache._ns = service._cache._ns  # type: ignore[union-attr]
    third = await other.search(query())
    assert third.source is FareSource.L2 and other_airline.calls == 0
    assert third.offers == first.offers and airline.calls == 1


async def test_nothing_older_than_the_window_is_served_as_fresh(
    redis_server: EmbeddedValkey,
) -> None:
    clock = Clock()
    service, _, airline = make(redis_server.url, clock=clock)
    await service.search(query())
    clock.now += 29
    assert (await service.search(query())).source is FareSource.L1
    clock.now += 2  # 31 s old now
    again = await service.search(query())
    assert again.source is FareSource.LIVE and airline.calls == 2
    assert again.age_ms == 0


async def test_stale_fallback_is_flagged_and_bounded(redis_server: EmbeddedValkey) -> None:
    clock = Clock()
    service, _, airline = make(redis_server.url, clock=clock)
    fresh = await service.search(query())
    airline.faults.outage = True
    clock.now += 120
    stale = await service.search(query())
    assert stale.source is FareSource.STALE_FALLBACK
    assert stale.price_confirmation_required is True
    assert 119_000 <= stale.age_ms <= 121_000
    assert stale.offers == fresh.offers
    clock.now += 1800  # past the hard maximum age
    with pytest.raises(SupplierError):
        await service.search(query())


async def test_breaker_opens_and_stops_calling_a_dead_supplier(
    redis_server: EmbeddedValkey,
) -> None:
    service, _, airline = make(redis_server.url, latency_ms=1)
    airline.faults.outage = True
    for days in range(1, 8):
        with pytest.raises(SupplierError):
            await service.search(query(days))
    calls = airline.calls
    with pytest.raises(SupplierError, match="unavailable|open"):
        await service.search(query(20))
    assert airline.calls == calls  # refused by the open breaker, not sent


async def test_reprice_goes_live_only_past_the_booking_bound(
    redis_server: EmbeddedValkey,
) -> None:
    clock = Clock()
    service, _, airline = make(redis_server.url, clock=clock)
    offer = (await service.search(query())).offers[0]
    calls = airline.calls
    within = await service.reprice(offer)
    assert within.repriced_live is False and airline.calls == calls
    clock.now += 31
    late = await service.reprice(offer)
    assert late.repriced_live is True and airline.calls == calls + 1
    assert late.offer is not None and late.price_changed is False
    await airline.move_price(origin="DEL", destination="BOM", date=offer.departure.date())
    moved = await service.reprice(offer)
    assert moved.price_changed is True
    assert moved.offer is None or moved.offer.price.total != offer.price.total


async def test_invalidation_makes_cached_answers_invalid(redis_server: EmbeddedValkey) -> None:
    service, cache, airline = make(redis_server.url)
    q = query()
    await service.search(q)
    await cache.invalidate(origin="DEL", destination="BOM", date=q.date.isoformat())
    assert (await service.search(q)).source is FareSource.LIVE and airline.calls == 2
    await cache.invalidate(origin="DEL", destination="BOM", date=None)  # every date
    assert (await service.search(q)).source is FareSource.LIVE and airline.calls == 3


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, sys.argv[4])
    from tests.test_fare_cache import make, query
    from core.redis_conn import connect_redis

    async def main():
        service, cache, airline = make(sys.argv[1], latency_ms=300)
        cache._ns = sys.argv[2]
        redis = connect_redis(sys.argv[1])
        while not await redis.exists(sys.argv[3]):
            await asyncio.sleep(0.005)
        await asyncio.gather(*(service.search(query()) for _ in range(100)))
        print(airline.calls)

    asyncio.run(main())
    """
)


async def test_single_flight_across_processes(redis_server: EmbeddedValkey) -> None:
    service, cache, airline = make(redis_server.url, latency_ms=300)
    go = f"go-{uuid.uuid4().hex}"
    root = str(Path(__file__).parent.parent)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, redis_server.url, cache._ns, go, root,
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": root},
    )  # fmt: skip
    await asyncio.sleep(2.5)  # the child imports and waits for the go signal
    redis = connect_redis(redis_server.url)
    await redis.set(go, 1)
    await asyncio.gather(*(service.search(query()) for _ in range(100)))
    out, _ = await asyncio.wait_for(child.communicate(), timeout=30)
    assert airline.calls + int(out.decode().strip()) == 1


async def test_fares_endpoint_headers(client: httpx.AsyncClient) -> None:
    date = (dt.datetime.now(IST).date() + dt.timedelta(days=12)).isoformat()
    r = await client.get("/v1/fares", params={"from": "BLR", "to": "GOI", "date": date})
    assert r.status_code == 200
    body = r.json()
    assert body["source"] == "live" and body["offers"]
    control = r.headers["cache-control"]
    assert control.startswith("public, max-age=") and "stale-if-error=" in control
    assert int(control.split("max-age=")[1].split(",")[0]) <= 30
    tag = r.headers["etag"]
    again = await client.get(
        "/v1/fares", params={"from": "BLR", "to": "GOI", "date": date},
        headers={"if-none-match": tag},
    )  # fmt: skip
    assert again.status_code == 304 and again.headers["etag"] == tag


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "XYZ", "to": "BOM"}, "unknown airport code 'XYZ'"),
        ({"from": "DEL", "to": "DEL"}, "same airport"),
        ({"from": "DEL", "to": "BOM", "date": "2020-01-01"}, "that date has passed"),
        ({"from": "DEL", "to": "BOM", "adults": 1, "infants": 10}, "no more infants than adults"),
        ({"from": "DELHI", "to": "BOM"}, "from"),
    ],
)
async def test_bad_fare_queries_are_problems(
    client: httpx.AsyncClient, params: dict[str, object], message: str
) -> None:
    params = {"date": (dt.datetime.now(IST).date() + dt.timedelta(days=5)).isoformat(), **params}
    r = await client.get("/v1/fares", params=params)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert message in r.text


async def test_a_price_move_reaches_the_cache_through_the_event_stream(
    app: object, client: httpx.AsyncClient
) -> None:
    services = app.state.services  # type: ignore[attr-defined]
    airline: SandboxAirline = services.extras["airline"]
    date = dt.datetime.now(IST).date() + dt.timedelta(days=9)
    params = {"from": "HYD", "to": "MAA", "date": date.isoformat()}
    first = (await client.get("/v1/fares", params=params)).json()
    assert (await client.get("/v1/fares", params=params)).json()["source"] == "l1"
    await airline.move_price(origin="HYD", destination="MAA", date=date)
    for _ in range(100):  # the consumer applies it within milliseconds; allow up to 2 s
        await asyncio.sleep(0.02)
        after = (await client.get("/v1/fares", params=params)).json()
        if after["source"] == "live":
            break
    assert after["source"] == "live"
    before = {o["offer_id"]: o["price"]["total_paise"] for o in first["offers"]}
    assert any(before.get(o["offer_id"]) != o["price"]["total_paise"] for o in after["offers"])


class TickingClock(Clock):
    """Moves 50 ms on every reading, so a fetch takes time (XFetch's Δ) under a fake clock."""

    def epoch(self) -> float:
        self.now += 0.05
        return self.now


async def test_hot_keys_refresh_before_they_expire(redis_server: EmbeddedValkey) -> None:
    clock = TickingClock()
    service, cache, airline = make(redis_server.url, clock=clock)
    q = query()
    await service.search(q)
    # XFetch: with rand() tiny, -Δ·β·ln(rand) is large, so the next reader refreshes early.
    cache.policy = CachePolicy(early_refresh=True)
    cache._rng = lambda: 1e-30
    clock.now += 29  # still fresh, but within Δ·(−ln rand) of expiry
    served = await service.search(q)
    assert served.source is FareSource.L1  # the reader is not made to wait
    for _ in range(100):  # until the background refresh has stored its answer
        await asyncio.sleep(0.02)
        if not cache._background:
            break
    assert airline.calls == 2 and cache.stats.early_refreshes == 1
    assert (await service.search(q)).age_ms < 2_000  # the refreshed answer is served next


async def test_l1_is_bounded(redis_server: EmbeddedValkey) -> None:
    service, cache, _ = make(redis_server.url, l1_max_entries=3)
    for days in range(1, 7):
        await service.search(query(days))
    assert len(cache._l1) <= 3


async def test_warming_spreads_searches_over_the_cycle(redis_server: EmbeddedValkey) -> None:
    service, _, airline = make(redis_server.url, latency_ms=1)
    stop = asyncio.Event()
    task = asyncio.create_task(
        warm(
            service, routes=parse_routes(["DEL-BOM", "BLR-GOI"]), days=2, interval_s=0.8, stop=stop
        )
    )
    await asyncio.sleep(0.3)
    early = airline.calls
    await asyncio.sleep(0.6)
    stop.set()
    await task
    assert 1 <= early < 4  # not all four at once
    assert airline.calls == 4
    with pytest.raises(ValueError, match="ORIGIN-DEST"):
        parse_routes(["DELBOM"])


async def test_a_cancelled_caller_does_not_cancel_the_shared_fetch(
    redis_server: EmbeddedValkey,
) -> None:
    service, _, airline = make(redis_server.url, latency_ms=200)
    q = query()
    impatient = asyncio.create_task(service.search(q))
    patient = asyncio.create_task(service.search(q))
    await asyncio.sleep(0.05)
    impatient.cancel()
    result = await patient
    assert result.source is FareSource.LIVE and airline.calls == 1
    assert impatient.cancelled()


async def test_a_fallback_never_revalidates_as_fresh(
    client: httpx.AsyncClient, app: object
) -> None:
    services = app.state.services  # type: ignore[attr-defined]
    airline: SandboxAirline = services.extras["airline"]
    date = (dt.datetime.now(IST).date() + dt.timedelta(days=15)).isoformat()
    params = {"from": "PNQ", "to": "DEL", "date": date}
    fresh = await client.get("/v1/fares", params=params)
    services.fare_cache.policy = CachePolicy(fresh_s=0.05)
    airline.faults.outage = True
    await asyncio.sleep(0.1)
    stale = await client.get(
        "/v1/fares", params=params, headers={"if-none-match": fresh.headers["etag"]}
    )
    assert stale.status_code == 200
    assert (
        stale.json()["source"] == "stale_fallback" and stale.json()["price_confirmation_required"]
    )
    assert stale.headers["cache-control"] == "no-store"
    assert stale.headers["etag"] != fresh.headers["etag"]
