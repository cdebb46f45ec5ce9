"""Shared pieces of the fare-cache benchmarks: an embedded Redis, the two cache policies
(Yatri's and plain cache-aside), a sandbox-backed service, percentiles and a table printer.

Run the scripts as ``python bench/fares_<name>.py``: this directory is then on ``sys.path``.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.airports import load_airports
from core.embedded import EmbeddedValkey
from core.logging import configure_logging
from core.redis_conn import connect_redis
from fares.cache import CachePolicy, FareCache
from fares.events import ALL_ROUTES
from fares.models import IST, FareQuery, Passengers
from fares.service import FareService, SupplierGuard
from fares.suppliers.sandbox import SandboxAirline, SandboxFaults

AIRPORTS = load_airports()
ROOT = Path(__file__).resolve().parent.parent

YATRI = CachePolicy()
# Plain cache-aside: L2 only, no coordination, and the entry lives exactly its 30 s TTL, so there
# is nothing left to fall back on once it expires.
BASELINE = CachePolicy(
    use_l1=False, single_flight=False, early_refresh=False, use_lease=False, hard_max_age_s=30.0
)
POLICIES = {"yatri": YATRI, "baseline": BASELINE}

METROS = ("DEL", "BOM", "BLR", "HYD", "MAA", "CCU")
PAX_MIXES = (
    Passengers(1),
    Passengers(2),
    Passengers(2, 1),
    Passengers(2, 2),
    Passengers(1, 0, 1),
)


def quiet() -> None:
    configure_logging(level="ERROR", json=True)


@contextmanager
def redis_server() -> Iterator[EmbeddedValkey]:
    server = EmbeddedValkey(Path(tempfile.mkdtemp(prefix="yatri-bench-")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Clock:
    """Wall time plus an offset the benchmark can move: epoch seconds for the cache,
    datetimes for the service and the sandbox."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self.offset_s = offset_s

    def epoch(self) -> float:
        return dt.datetime.now(dt.UTC).timestamp() + self.offset_s

    def utc(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.offset_s)


@dataclass(slots=True)
class Stack:
    service: FareService
    cache: FareCache
    airline: SandboxAirline


def make_stack(
    redis_url: str,
    *,
    policy: CachePolicy,
    namespace: str,
    latency_ms: float = 50.0,
    jitter: float = 0.35,
    seed: int = 7,
    clock: Clock | None = None,
    max_concurrent: int = 256,
    timeout_s: float = 2.0,
    deadline_s: float = 5.0,
) -> Stack:
    clock = clock or Clock()
    airline = SandboxAirline(
        airports=AIRPORTS,
        seed=seed,
        faults=SandboxFaults(latency_ms=latency_ms, jitter=jitter),
        clock=clock.utc,
    )
    cache = FareCache(
        redis=connect_redis(redis_url), policy=policy, namespace=namespace, clock=clock.epoch
    )
    guard = SupplierGuard.for_supplier(
        f"sbx-{uuid.uuid4().hex[:6]}", timeout_s=timeout_s, max_concurrent=max_concurrent
    )
    service = FareService(
        supplier=airline,
        airports=AIRPORTS,
        guard=guard,
        cache=cache,
        deadline_s=deadline_s,
        clock=clock.utc,
    )
    return Stack(service, cache, airline)


def query(
    days: int = 10,
    origin: str = "DEL",
    destination: str = "BOM",
    passengers: Passengers | None = None,
) -> FareQuery:
    passengers = passengers or Passengers()
    date = dt.datetime.now(IST).date() + dt.timedelta(days=days)
    return FareQuery(origin, destination, date, passengers)


def drop_callback(cache: FareCache, on_drop: Callable[[str, int], None] | None = None):
    """An ``L1Broadcast`` callback: ``DEL-BOM:2026-12-01`` / ``DEL-BOM:*`` / ``*`` to drop_local."""

    def callback(route_key: str) -> None:
        if route_key == ALL_ROUTES:
            routes = {key.split(":", 1)[0] for key in list(cache._l1.keys())}
            dropped = sum(
                cache.drop_local(origin=r.split("-")[0], destination=r.split("-")[1], date=None)
                for r in routes
            )
        else:
            route, date = route_key.split(":", 1)
            origin, destination = route.split("-")
            dropped = cache.drop_local(
                origin=origin, destination=destination, date=None if date == "*" else date
            )
        if on_drop is not None:
            on_drop(route_key, dropped)

    return callback


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[_fmt(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in cells]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def spawn_children(args: list[str], n: int) -> list[subprocess.Popen[str]]:
    """``n`` copies of this interpreter running ``args``, stdout captured."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")])}
    cmd = [sys.executable, *args]
    return [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) for _ in range(n)]
