"""Keeps hot routes warm: each cycle searches every (route, day) once, spread evenly over the
cycle so the supplier sees a steady trickle, never a burst."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable

from core.errors import YatriError
from core.logging import get_logger
from fares.models import IST, FareQuery
from fares.service import FareService

log = get_logger(__name__)


def parse_routes(routes: list[str]) -> list[tuple[str, str]]:
    """``["DEL-BOM", ...]`` as pairs; ``ValueError`` names a malformed one."""
    pairs = []
    for route in routes:
        origin, sep, destination = route.strip().upper().partition("-")
        if not sep or len(origin) != 3 or len(destination) != 3:
            raise ValueError(f"hot route {route!r} is not ORIGIN-DEST, e.g. DEL-BOM")
        pairs.append((origin, destination))
    return pairs


async def warm(
    service: FareService,
    *,
    routes: list[tuple[str, str]],
    days: int,
    interval_s: float,
    stop: asyncio.Event,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> None:
    while not stop.is_set():
        today = clock().astimezone(IST).date()
        queries: list[FareQuery | None] = [
            FareQuery(origin, destination, today + dt.timedelta(days=d))
            for d in range(days)
            for origin, destination in routes
        ]
        gap = interval_s / max(1, len(queries))
        for query in queries or [None]:  # nothing to warm: still wait out the cycle
            if query is not None:
                try:
                    await service.search(query)
                except YatriError as e:
                    log.info("warming skipped", route=query.key, reason=e.problem_type)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=gap)
            if stop.is_set():
                return
