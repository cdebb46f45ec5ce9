"""Fare search: validates a query and asks the airline supplier within a deadline."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable

from core.airports import AirportDirectory
from core.errors import InvalidRequestError, SupplierError, SupplierTimeoutError
from core.telemetry import SUPPLIER_CALLS, SUPPLIER_LATENCY
from fares.models import (
    BOOKING_HORIZON_DAYS,
    IST,
    MAX_PASSENGERS,
    FareQuery,
    FareResult,
    FareSource,
)
from fares.suppliers.base import AirlineSupplier


class FareService:
    """The one way the rest of Yatri gets flight fares."""

    def __init__(
        self,
        *,
        supplier: AirlineSupplier,
        airports: AirportDirectory,
        timeout_s: float,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._supplier = supplier
        self._airports = airports
        self._timeout_s = timeout_s
        self._clock = clock

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
                f"travel date {query.date.isoformat()} is in the past", field="date"
            )
        if (query.date - today).days > BOOKING_HORIZON_DAYS:
            raise InvalidRequestError(
                f"travel date is more than {BOOKING_HORIZON_DAYS} days ahead", field="date"
            )
        p = query.passengers
        if p.adults < 1:
            raise InvalidRequestError("at least one adult must travel", field="adults")
        if min(p.children, p.infants) < 0:
            raise InvalidRequestError("passenger counts cannot be negative", field="passengers")
        if p.seated > MAX_PASSENGERS:
            raise InvalidRequestError(
                f"at most {MAX_PASSENGERS} seated passengers per booking", field="passengers"
            )
        if p.infants > p.adults:
            raise InvalidRequestError(
                "each infant must travel on an adult's lap: no more infants than adults",
                field="infants",
            )

    async def search(self, query: FareQuery, *, timeout_s: float | None = None) -> FareResult:
        self.validate(query)
        supplier = self._supplier.name
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s or self._timeout_s):
                offers = await self._supplier.search(query)
        except TimeoutError as e:
            SUPPLIER_CALLS.labels(supplier, "search", "timeout").inc()
            raise SupplierTimeoutError(
                "the airline did not answer in time", supplier=supplier
            ) from e
        except SupplierError:
            SUPPLIER_CALLS.labels(supplier, "search", "error").inc()
            raise
        finally:
            SUPPLIER_LATENCY.labels(supplier, "search").observe(time.perf_counter() - started)
        SUPPLIER_CALLS.labels(supplier, "search", "ok").inc()
        return FareResult(
            query=query, offers=tuple(offers), source=FareSource.LIVE, fetched_at=self._clock()
        )
