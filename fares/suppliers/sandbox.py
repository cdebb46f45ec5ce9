"""The sandbox airline: seeded, realistic Indian domestic fares, with injectable faults.

Like a payment API's test mode, it is the default supplier for the demo and the tests. Schedules
depend only on the seed; prices depend on the seed, the travel date and the day of the search
(days-to-departure pricing), so a given seed and date always give the same answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from core.airports import Airport, AirportDirectory, Tier, distance_km
from core.errors import SupplierError
from fares.models import (
    BOOKING_HORIZON_DAYS,
    IST,
    Cabin,
    FareOffer,
    FareQuery,
    Passengers,
    Price,
)


@dataclass(frozen=True, slots=True)
class Carrier:
    code: str
    name: str
    share: float  # relative share of frequencies
    price_factor: float
    full_service: bool
    regional: bool = False
    cutoff_minutes: int = 60  # the carrier stops selling a flight this long before departure


# Cut-offs are a sandbox assumption, shaped like Indian domestic practice: full-service
# carriers close sales 60-75 minutes before departure, low-cost carriers 45-60.
CARRIERS = (
    Carrier("6E", "IndiGo", 0.58, 1.00, full_service=False, cutoff_minutes=60),
    Carrier("AI", "Air India", 0.16, 1.12, full_service=True, cutoff_minutes=75),
    Carrier("IX", "Air India Express", 0.10, 0.95, full_service=False, cutoff_minutes=50),
    Carrier("QP", "Akasa Air", 0.08, 0.97, full_service=False, cutoff_minutes=45),
    Carrier("SG", "SpiceJet", 0.06, 0.93, full_service=False, cutoff_minutes=60),
    Carrier("9I", "Alliance Air", 0.02, 1.05, full_service=False, regional=True,
            cutoff_minutes=45),
)  # fmt: skip

_DOW_FACTOR = (1.05, 0.92, 0.92, 1.00, 1.12, 0.97, 1.15)  # Monday first
_CABIN_FACTOR = {Cabin.ECONOMY: 1.0, Cabin.PREMIUM_ECONOMY: 1.8, Cabin.BUSINESS: 4.2}
_UDF_BY_TIER = {Tier.METRO: 620, Tier.MAJOR: 400, Tier.REGIONAL: 250, Tier.MINOR: 150}
_ASF_PER_PAX = 236  # aviation security fee, INR
_CONVENIENCE_FEE_PER_PAX = 199  # INR
_INFANT_BASE = 1500  # INR, flat, no seat


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """A scheduled outage or slowdown, in seconds from the moment the schedule was set."""

    start_s: float
    end_s: float
    outage: bool = False
    latency_factor: float = 1.0


@dataclass(slots=True)
class SandboxFaults:
    """What the sandbox does wrong on purpose. Mutable at run time, for tests and benchmarks."""

    latency_ms: float = 120.0
    jitter: float = 0.35  # sigma of the log-normal latency around latency_ms
    error_rate: float = 0.0
    outage: bool = False
    schedule: tuple[FaultWindow, ...] = ()
    schedule_origin: float = field(default_factory=time.monotonic)

    def set_schedule(self, *windows: FaultWindow) -> None:
        self.schedule = windows
        self.schedule_origin = time.monotonic()

    def window(self) -> FaultWindow | None:
        elapsed = time.monotonic() - self.schedule_origin
        return next((w for w in self.schedule if w.start_s <= elapsed < w.end_s), None)


PriceMoved = Callable[[str, str, dt.date], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ScheduledFlight:
    carrier: Carrier
    flight_number: str
    departs: dt.time
    duration_minutes: int
    has_business: bool


def _unit(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) from the given parts (not Python's salted hash)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _route_frequency(a: Airport, b: Airport, seed: int) -> int:
    """Daily flights from a to b; 0 when the sandbox has no such route."""
    pair = tuple(sorted((a.iata, b.iata)))
    u = _unit(seed, "route", *pair)
    best, worst = sorted((a.tier, b.tier))
    if best == Tier.METRO and worst == Tier.METRO:
        return 16 + int(u * 14)
    if best == Tier.METRO and worst == Tier.MAJOR:
        return 6 + int(u * 8)
    if best == Tier.METRO and worst == Tier.REGIONAL:
        return 2 + int(u * 4)
    if best == Tier.METRO:
        return 1 + int(u * 2) if u < 0.35 else 0
    if best == Tier.MAJOR and worst == Tier.MAJOR:
        return 2 + int(u * 5) if u < 0.6 else 0
    if best == Tier.MAJOR and worst == Tier.REGIONAL:
        return 1 + int(u * 2) if u < 0.3 else 0
    return 1 if u < 0.05 else 0


class SandboxAirline:
    """A seeded airline-aggregator sandbox over real Indian airports."""

    def __init__(
        self,
        *,
        airports: AirportDirectory,
        seed: int,
        faults: SandboxFaults | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        on_price_move: PriceMoved | None = None,
    ) -> None:
        self._airports = airports
        self._seed = seed
        self.faults = faults or SandboxFaults()
        self._clock = clock
        self._rng = random.Random(seed)
        self._schedules: dict[tuple[str, str], tuple[ScheduledFlight, ...]] = {}
        self._moves: dict[tuple[str, str, dt.date], int] = {}
        self._on_price_move = on_price_move
        self.calls: int = 0

    @property
    def name(self) -> str:
        return "sandbox-air"

    async def search(self, query: FareQuery) -> list[FareOffer]:
        self.calls += 1
        faults = self.faults
        window = faults.window()
        if faults.latency_ms > 0:
            factor = window.latency_factor if window else 1.0
            await asyncio.sleep(self._latency_s(faults) * factor)
        if faults.outage or (window is not None and window.outage):
            raise SupplierError("sandbox airline is down (injected outage)", supplier=self.name)
        if faults.error_rate > 0 and self._rng.random() < faults.error_rate:
            raise SupplierError("sandbox airline failed (injected error)", supplier=self.name)
        return self.offers(query, searched_at=self._clock())

    async def move_price(self, *, origin: str, destination: str, date: dt.date) -> None:
        """Reprice a route's flights on a date (as airlines do), and announce it."""
        key = (origin, destination, date)
        self._moves[key] = self._moves.get(key, 0) + 1
        if self._on_price_move is not None:
            await self._on_price_move(origin, destination, date)

    def _latency_s(self, faults: SandboxFaults) -> float:
        mu = math.log(faults.latency_ms / 1000.0)
        return float(self._rng.lognormvariate(mu, faults.jitter))

    def schedule(self, origin: str, destination: str) -> tuple[ScheduledFlight, ...]:
        """The flights operated every day from origin to destination (may be empty)."""
        key = (origin, destination)
        cached = self._schedules.get(key)
        if cached is None:
            cached = self._build_schedule(origin, destination)
            self._schedules[key] = cached
        return cached

    def _build_schedule(self, origin: str, destination: str) -> tuple[ScheduledFlight, ...]:
        a, b = self._airports.get(origin), self._airports.get(destination)
        if a is None or b is None or a.iata == b.iata:
            return ()
        scheduled = {x.iata for x in self._airports.scheduled()}
        if a.iata not in scheduled or b.iata not in scheduled:
            return ()
        frequency = _route_frequency(a, b, self._seed)
        if frequency == 0:
            return ()
        km = distance_km(a, b)
        block = int(round((km / 760.0 * 60 + 35) / 5.0) * 5)
        regional_route = max(a.tier, b.tier) >= Tier.REGIONAL
        carriers = [c for c in CARRIERS if not c.regional or regional_route]
        weights = [c.share for c in carriers]
        flights = []
        for slot in range(frequency):
            u = _unit(self._seed, "flight", origin, destination, slot)
            carrier = random.Random(u).choices(carriers, weights)[0]
            # Departures spread over 05:00-23:00 with a little jitter, on 5-minute marks.
            minutes = 300 + int((slot + 0.2 + 0.6 * u) * (18 * 60) / frequency)
            minutes = min(minutes - minutes % 5, 23 * 60 + 55)
            number = 100 + int(
                _unit(self._seed, "no", carrier.code, origin, destination, slot) * 9800
            )
            flights.append(
                ScheduledFlight(
                    carrier=carrier,
                    flight_number=f"{carrier.code} {number}",
                    departs=dt.time(minutes // 60, minutes % 60),
                    duration_minutes=block,
                    has_business=carrier.full_service and min(a.tier, b.tier) == Tier.METRO,
                )
            )
        return tuple(sorted(flights, key=lambda f: f.departs))

    def offers(self, query: FareQuery, *, searched_at: dt.datetime) -> list[FareOffer]:
        """All offers for ``query`` as priced at ``searched_at``, cheapest first. Pure.

        Like many aggregators, it lists a day's flights even after their sales have closed
        (each offer carries its carrier's cut-off); Yatri's fare service leaves those out."""
        today = searched_at.astimezone(IST).date()
        days_out = (query.date - today).days
        if days_out < 0 or days_out > BOOKING_HORIZON_DAYS:
            return []
        a = self._airports.get(query.origin)
        b = self._airports.get(query.destination)
        if a is None or b is None or query.cabin is Cabin.FIRST:
            return []
        km = distance_km(a, b)
        offers: list[FareOffer] = []
        for flight in self.schedule(query.origin, query.destination):
            if query.cabin in (Cabin.BUSINESS, Cabin.PREMIUM_ECONOMY) and not flight.has_business:
                continue
            departure = dt.datetime.combine(query.date, flight.departs, tzinfo=IST)
            load = _unit(self._seed, "load", flight.flight_number, query.date.isoformat())
            seats_left = 1 + int((1 - load) * 9)
            if seats_left < query.passengers.seated:
                continue
            adult_base = self._adult_base(flight, km=km, departure=departure, days_out=days_out)
            moves = self._moves.get((query.origin, query.destination, query.date), 0)
            if moves:
                adult_base *= 0.85 + 0.3 * _unit(self._seed, "move", flight.flight_number, moves)
            adult_base *= _CABIN_FACTOR[query.cabin]
            for family, factor, refundable in (("Saver", 1.0, False), ("Flexi", 1.18, True)):
                price = _price(
                    adult_base=adult_base * factor,
                    passengers=query.passengers,
                    cabin=query.cabin,
                    udf=_UDF_BY_TIER[a.tier],
                )
                offer_key = f"{flight.flight_number}|{query.key}|{family}"
                offers.append(
                    FareOffer(
                        offer_id="sbx-"
                        + hashlib.blake2b(offer_key.encode(), digest_size=8).hexdigest(),
                        origin=query.origin,
                        destination=query.destination,
                        departure=departure,
                        arrival=departure + dt.timedelta(minutes=flight.duration_minutes),
                        carrier_code=flight.carrier.code,
                        carrier_name=flight.carrier.name,
                        flight_number=flight.flight_number,
                        cabin=query.cabin,
                        fare_family=family,
                        passengers=query.passengers,
                        price=price,
                        seats_left=seats_left,
                        refundable=refundable,
                        supplier=self.name,
                        fetched_at=searched_at,
                        cutoff_minutes=flight.carrier.cutoff_minutes,
                    )
                )
        offers.sort(key=lambda o: (o.price.total, o.departure))
        return offers

    def _adult_base(
        self, flight: ScheduledFlight, *, km: float, departure: dt.datetime, days_out: int
    ) -> float:
        base = (1500 + 3.9 * km) * flight.carrier.price_factor
        base *= _DOW_FACTOR[departure.weekday()]
        hour = departure.hour
        base *= 0.9 if hour < 7 else 1.08 if 17 <= hour < 21 else 0.88 if hour >= 22 else 1.0
        base *= _days_out_factor(days_out)
        noise = _unit(self._seed, "price", flight.flight_number, departure.date().isoformat())
        return base * (0.9 + 0.2 * noise)


def _days_out_factor(days_out: int) -> float:
    if days_out <= 1:
        return 2.1
    if days_out <= 3:
        return 1.7
    if days_out <= 7:
        return 1.35
    if days_out <= 14:
        return 1.12
    if days_out <= 21:
        return 1.0
    if days_out <= 45:
        return 0.9
    return 0.95


def _price(*, adult_base: float, passengers: Passengers, cabin: Cabin, udf: int) -> Price:
    """Whole rupees per passenger, returned in paise."""
    gst_rate = 0.05 if cabin is Cabin.ECONOMY else 0.12
    seat_base = int(round(adult_base))
    base = seat_base * passengers.seated + _INFANT_BASE * passengers.infants
    gst = (
        int(round(seat_base * gst_rate)) * passengers.seated
        + int(round(_INFANT_BASE * gst_rate)) * passengers.infants
    )
    taxes = gst + (udf + _ASF_PER_PAX) * passengers.seated
    fees = _CONVENIENCE_FEE_PER_PAX * (passengers.seated + passengers.infants)
    return Price(base=base * 100, taxes=taxes * 100, fees=fees * 100)
