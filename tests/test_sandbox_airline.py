"""The sandbox airline: realistic, deterministic, and faulty on request."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from core.airports import load_airports
from core.errors import InvalidRequestError, SupplierError, SupplierTimeoutError
from fares.models import IST, Cabin, FareQuery, Passengers
from fares.service import FareService, SupplierGuard
from fares.suppliers.sandbox import SandboxAirline, SandboxFaults

AIRPORTS = load_airports()
NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)
TODAY = NOW.astimezone(IST).date()


def airline(seed: int = 7, **faults: float | bool) -> SandboxAirline:
    return SandboxAirline(
        airports=AIRPORTS,
        seed=seed,
        faults=SandboxFaults(**faults),
        clock=lambda: NOW,  # type: ignore[arg-type]
    )


def q(origin: str = "DEL", destination: str = "BOM", days: int = 20, **kw: object) -> FareQuery:
    return FareQuery(origin, destination, TODAY + dt.timedelta(days=days), **kw)  # type: ignore[arg-type]


def test_same_seed_and_date_give_the_same_fares() -> None:
    a = airline().offers(q(), searched_at=NOW)
    b = airline().offers(q(), searched_at=NOW)
    assert a == b and len(a) > 10
    c = airline(seed=8).offers(q(), searched_at=NOW)
    assert [o.price for o in a] != [o.price for o in c]


def test_fares_are_realistic() -> None:
    offers = airline().offers(q(), searched_at=NOW)
    carriers = {o.carrier_code for o in offers}
    assert len(carriers) >= 3 and carriers <= {"6E", "AI", "IX", "QP", "SG", "9I"}
    for o in offers:
        assert o.price.total == o.price.base + o.price.taxes + o.price.fees
        assert 3_000_00 < o.price.total < 30_000_00  # DEL-BOM economy, in paise
        assert 100 <= o.duration_minutes <= 160  # ~1,140 km
        assert o.departure.tzinfo is not None and o.departure.date() == q().date
    assert [o.price.total for o in offers] == sorted(o.price.total for o in offers)


def test_longer_routes_cost_more() -> None:
    short = airline().offers(q("DEL", "JAI"), searched_at=NOW)
    long = airline().offers(q("DEL", "TRV"), searched_at=NOW)
    assert short and long
    assert min(o.price.base for o in long) > 2 * min(o.price.base for o in short)


def test_last_minute_costs_more_than_three_weeks_out() -> None:
    near = airline().offers(q(days=1), searched_at=NOW)
    far = airline().offers(q(days=21), searched_at=NOW)
    assert sum(o.price.base for o in near) / len(near) > 1.5 * sum(o.price.base for o in far) / len(
        far
    )


def test_passenger_mix_prices_infants_without_a_seat() -> None:
    one = airline().offers(q(), searched_at=NOW)[0]
    family = next(
        o for o in airline().offers(q(passengers=Passengers(2, 1, 1)), searched_at=NOW)
        if o.flight_number == one.flight_number and o.fare_family == one.fare_family
    )  # fmt: skip
    assert family.price.base == 3 * one.price.base + 1500_00


def test_business_class_only_on_full_service_carriers() -> None:
    offers = airline().offers(q(cabin=Cabin.BUSINESS), searched_at=NOW)
    assert offers and {o.carrier_code for o in offers} == {"AI"}


def test_unknown_routes_and_dates_outside_the_horizon_have_no_fares() -> None:
    assert airline().offers(q("DEL", "AIP"), searched_at=NOW) == []  # an air-force station
    assert airline().offers(q(days=-1), searched_at=NOW) == []
    assert airline().offers(q(days=400), searched_at=NOW) == []


async def test_injected_errors_and_outages() -> None:
    flaky = airline(latency_ms=1, error_rate=1.0)
    with pytest.raises(SupplierError, match="injected error"):
        await flaky.search(q())
    down = airline(latency_ms=1, outage=True)
    with pytest.raises(SupplierError, match="outage"):
        await down.search(q())


async def test_injected_latency_is_felt_and_bounded_by_the_service_timeout() -> None:
    slow = airline(latency_ms=400, jitter=0.01)
    service = FareService(
        supplier=slow, airports=AIRPORTS, clock=lambda: NOW, deadline_s=0.05,
        guard=SupplierGuard.for_supplier("slow", timeout_s=0.05, max_attempts=1),
    )  # fmt: skip
    started = asyncio.get_running_loop().time()
    with pytest.raises(SupplierTimeoutError):
        await service.search(q())
    assert asyncio.get_running_loop().time() - started < 0.3


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (q("XXX", "BOM"), "unknown airport code 'XXX'"),
        (q("DEL", "DEL"), "origin and destination are the same"),
        (q(days=-2), "that date has passed"),
        (q(passengers=Passengers(adults=1, infants=10)), "no more infants than adults"),
        (q(passengers=Passengers(adults=0, children=2)), "at least one adult"),
        (q(passengers=Passengers(adults=8, children=3)), "at most 9 seated"),
    ],
)
async def test_bad_queries_are_refused_with_a_reason(query: FareQuery, message: str) -> None:
    service = FareService(
        supplier=airline(latency_ms=1), airports=AIRPORTS, clock=lambda: NOW,
        guard=SupplierGuard.for_supplier("t", timeout_s=1),
    )  # fmt: skip
    with pytest.raises(InvalidRequestError, match=message):
        await service.search(query)
