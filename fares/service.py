"""Fare search: validation, the fare cache in front of the airline, resilience around it, and
honest fallbacks. The one way the rest of Yatri gets flight fares."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from core import tracing
from core.airports import AirportDirectory
from core.deadline import call_deadline
from core.errors import InvalidRequestError, SupplierError, SupplierTimeoutError
from core.party import check_counts
from core.resilience import Bulkhead, CallOptions, CircuitBreaker, Deadline, call_with_resilience
from core.telemetry import FARE_RESULTS, SUPPLIER_CALLS, SUPPLIER_LATENCY
from fares.cache import Entry, FareCache
from fares.models import (
    BOOKING_HORIZON_DAYS,
    IST,
    FareOffer,
    FareQuery,
    FareResult,
    FareSource,
    Passengers,
    Reprice,
)
from fares.suppliers.base import AirlineSupplier


@dataclass(frozen=True, slots=True)
class SupplierGuard:
    """How one supplier is called: its breaker, its bulkhead and its per-call options."""

    breaker: CircuitBreaker
    bulkhead: Bulkhead
    options: CallOptions

    @classmethod
    def for_supplier(
        cls,
        name: str,
        *,
        timeout_s: float,
        max_concurrent: int = 64,
        max_attempts: int = 3,
        failure_threshold: int = 5,
        reset_timeout_s: float = 10.0,
    ) -> SupplierGuard:
        return cls(
            breaker=CircuitBreaker(
                name=name, failure_threshold=failure_threshold, reset_timeout_s=reset_timeout_s
            ),
            bulkhead=Bulkhead(name=name, max_concurrent=max_concurrent, max_wait_s=timeout_s),
            options=CallOptions(timeout_s=timeout_s, max_attempts=max_attempts),
        )


class FareService:
    def __init__(
        self,
        *,
        supplier: AirlineSupplier,
        airports: AirportDirectory,
        guard: SupplierGuard,
        cache: FareCache | None = None,
        deadline_s: float = 5.0,
        booking_fresh_s: float = 30.0,
        cutoff_min: int = 45,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._supplier = supplier
        self._airports = airports
        self._guard = guard
        self._cache = cache
        self._deadline_s = deadline_s
        self._booking_fresh_s = booking_fresh_s
        self._cutoff_min = cutoff_min
        self._clock = clock

    @property
    def supplier_name(self) -> str:
        return self._supplier.name

    def validate(self, query: FareQuery) -> None:
        """Raise ``InvalidRequestError`` saying what is wrong with ``query``."""
        for field, code in (("from", query.origin), ("to", query.destination)):
            if self._airports.get(code) is None:
                raise InvalidRequestError(f"unknown airport code {code!r}", field=field)
        if query.origin == query.destination:
            raise InvalidRequestError("origin and destination are the same airport", field="to")
        today = self._clock().astimezone(IST).date()
        if query.date < today:
            raise InvalidRequestError(
                f"that date has passed: {query.date.isoformat()} is before today "
                f"({today.isoformat()} in India)",
                field="date",
            )
        if (query.date - today).days > BOOKING_HORIZON_DAYS:
            raise InvalidRequestError(
                f"travel date is more than {BOOKING_HORIZON_DAYS} days ahead", field="date"
            )
        p = query.passengers
        check_counts(adults=p.adults, children=p.children, infants=p.infants)

    def bookable(self, offer: FareOffer) -> bool:
        """Whether ``offer`` is still sold now: it departs no sooner than the cut-off."""
        return offer.bookable(now=self._clock(), cutoff_min=self._cutoff_min)

    async def _live(self, query: FareQuery, deadline: Deadline) -> list[FareOffer]:
        name = self._supplier.name
        with tracing.span("supplier.call", supplier=name, operation="search"):
            return await self._live_call(query, deadline)

    async def _live_call(self, query: FareQuery, deadline: Deadline) -> list[FareOffer]:
        name = self._supplier.name
        started = time.perf_counter()
        try:
            offers = await call_with_resilience(
                lambda: self._supplier.search(query),
                breaker=self._guard.breaker,
                bulkhead=self._guard.bulkhead,
                options=self._guard.options,
                deadline=deadline,
            )
        except SupplierError as e:
            SUPPLIER_CALLS.labels(name, "search", e.problem_type).inc()
            raise
        finally:
            SUPPLIER_LATENCY.labels(name, "search").observe(time.perf_counter() - started)
        SUPPLIER_CALLS.labels(name, "search", "ok").inc()
        return offers

    async def search(self, query: FareQuery, *, timeout_s: float | None = None) -> FareResult:
        """Fresh fares (at most ``fresh_s`` old), or the last known ones flagged as stale when
        the airline cannot answer in time; raises ``SupplierError`` when neither exists. The
        airline gets ``timeout_s`` (default: the service's), cut to what the request has left."""
        with tracing.span("fares.search", origin=query.origin, destination=query.destination):
            result = await self._search(query, timeout_s=timeout_s)
            tracing.set_attributes(source=result.source.value, age_ms=result.age_ms)
            return result

    async def _search(self, query: FareQuery, *, timeout_s: float | None) -> FareResult:
        self.validate(query)
        deadline = call_deadline(timeout_s or self._deadline_s)
        if self._cache is None:
            offers = await self._live(query, deadline)
            FARE_RESULTS.labels(FareSource.LIVE.value).inc()
            return self._result(query, tuple(offers), FareSource.LIVE, self._clock().timestamp(),
                                stale=False)  # fmt: skip
        cache = self._cache
        try:
            entry, tier = await self._cached(cache, query, deadline)
        except SupplierError:
            stale = await cache.stale(query)
            if stale is None:
                raise
            cache.served(stale)
            FARE_RESULTS.labels(FareSource.STALE_FALLBACK.value).inc()
            return self._result(query, stale.offers, FareSource.STALE_FALLBACK, stale.fetched_at,
                                stale=True)  # fmt: skip
        cache.served(entry)
        source = {"l1": FareSource.L1, "l2": FareSource.L2}.get(tier, FareSource.LIVE)
        FARE_RESULTS.labels(source.value).inc()
        return self._result(query, entry.offers, source, entry.fetched_at, stale=False)

    async def _cached(
        self, cache: FareCache, query: FareQuery, deadline: Deadline
    ) -> tuple[Entry, str]:
        """The cache's answer, waited for no longer than ``deadline``: the fetch it joins may
        be another caller's, on a longer deadline, or another process's behind its lease."""
        wait = asyncio.timeout(deadline.remaining())
        try:
            async with wait:
                return await cache.get(query, fetch=lambda: self._live(query, deadline))
        except TimeoutError as e:
            if not wait.expired():
                raise
            raise SupplierTimeoutError(
                "no fare answer before the deadline", supplier=self._supplier.name
            ) from e

    def _result(
        self,
        query: FareQuery,
        offers: tuple[FareOffer, ...],
        source: FareSource,
        fetched_at: float,
        *,
        stale: bool,
    ) -> FareResult:
        now = self._clock()
        fetched = dt.datetime.fromtimestamp(fetched_at, tz=dt.UTC)
        # Judged at serve time, not fetch time: a cached answer's early flights close while
        # it waits in the cache.
        sold = tuple(o for o in offers if o.bookable(now=now, cutoff_min=self._cutoff_min))
        closed = {o.flight_number for o in offers} - {o.flight_number for o in sold}
        return FareResult(
            query=query,
            offers=sold,
            source=source,
            fetched_at=fetched,
            age_ms=max(0, int((now - fetched).total_seconds() * 1000)),
            price_confirmation_required=stale,
            hidden_offers=len(offers) - len(sold),
            hidden_flights=len(closed),
            cutoff_min=self._cutoff_min,
        )

    async def reprice(self, offer: FareOffer, *, timeout_s: float | None = None) -> Reprice:
        """The price to book ``offer`` at: the offer itself while it is within the booking
        freshness bound, otherwise asked of the supplier live (never from a cache). A flight
        that leaves too soon to book comes back as not sold (``offer`` None)."""
        if not self.bookable(offer):
            return Reprice(None, offer.price.total, price_changed=True, repriced_live=False)
        age = (self._clock() - offer.fetched_at).total_seconds()
        if age <= self._booking_fresh_s:
            return Reprice(offer, offer.price.total, price_changed=False, repriced_live=False)
        query = FareQuery(
            origin=offer.origin,
            destination=offer.destination,
            date=offer.departure.date(),
            passengers=Passengers(
                offer.passengers.adults, offer.passengers.children, offer.passengers.infants
            ),
            cabin=offer.cabin,
        )
        offers = await self._live(query, call_deadline(timeout_s or self._deadline_s))
        same = next(
            (o for o in offers
             if (o.flight_number, o.fare_family) == (offer.flight_number, offer.fare_family)
             and self.bookable(o)),
            None,
        )  # fmt: skip
        return Reprice(
            offer=same,
            previous_total=offer.price.total,
            price_changed=same is None or same.price.total != offer.price.total,
            repriced_live=True,
        )
