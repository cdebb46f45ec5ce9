"""The fare cache: L1 in process, L2 in Redis, with single-flight refreshes, a cross-process
refresh lease, probabilistic early refresh (XFetch) and event-driven invalidation.

Freshness: an answer is "fresh" for ``fresh_s`` after the supplier gave it (the booking path's
30-second window). Past that it is never served as fresh; it stays in L2 until ``hard_max_age_s``
only so that it can be served as a flagged stale fallback when suppliers fail.

XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015): a reader recomputes early when
``now - delta * beta * ln(rand()) >= expiry``, with delta the last recompute time; hot keys are
refreshed before they expire by one reader, not after by all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from cachetools import LRUCache
from redis.exceptions import RedisError

from core.logging import get_logger
from core.redis_conn import RedisClient
from core.telemetry import (
    FARE_CACHE_EARLY_REFRESH,
    FARE_CACHE_LOOKUPS,
    FARE_SERVED_AGE,
)
from fares.codec import decode, encode
from fares.models import FareOffer, FareQuery

log = get_logger(__name__)

Fetch = Callable[[], Awaitable[list[FareOffer]]]

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class CachePolicy:
    fresh_s: float = 30.0
    hard_max_age_s: float = 1800.0
    l1_max_entries: int = 20_000
    l1_max_bytes: int = 64 * 2**20
    xfetch_beta: float = 1.0
    lease_ms: int = 5_000
    lease_wait_s: float = 3.0
    lease_poll_s: float = 0.01
    early_refresh: bool = True
    single_flight: bool = True
    use_l1: bool = True
    use_lease: bool = True


@dataclass(frozen=True, slots=True)
class Entry:
    offers: tuple[FareOffer, ...]
    fetched_at: float  # epoch seconds
    delta_s: float  # how long the fetch took: XFetch's Δ
    size: int  # serialised bytes, for the L1 byte bound
    epoch: int = 0  # the process's invalidation epoch of the route when the fetch started


@dataclass(frozen=True, slots=True)
class Lookup:
    """What the cache holds for a key: a fresh entry with its tier, and/or a stale one."""

    fresh: Entry | None
    tier: str | None  # "l1" or "l2" when fresh
    stale: Entry | None  # older than fresh_s but within hard_max_age_s


@dataclass(slots=True)
class _Stats:
    supplier_fetches: int = 0
    early_refreshes: int = 0
    lease_waits: int = 0


class _LeaseHeldError(Exception):
    pass


def route_tag(query: FareQuery) -> str:
    return f"{query.origin}-{query.destination}"


class FareCache:
    def __init__(
        self,
        *,
        redis: RedisClient,
        policy: CachePolicy | None = None,
        namespace: str = "yatri",
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._redis = redis
        self.policy = policy or CachePolicy()
        self._ns = namespace
        self._clock = clock
        self._rng = rng
        self._l1: LRUCache[str, Entry] = LRUCache(
            maxsize=self.policy.l1_max_bytes, getsizeof=lambda e: max(1, e.size)
        )
        self._l1_routes: dict[str, set[str]] = {}
        self._epochs: dict[str, int] = {}  # route key -> local invalidation epoch
        self._inflight: dict[str, asyncio.Future[Entry]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.stats = _Stats()

    # Keys share the route's hash tag: one cluster slot per route, so MGET works there.
    def _value_key(self, query: FareQuery) -> str:
        return f"{self._ns}:fares:{{{route_tag(query)}}}:{query.key}"

    def _gen_key(self, route: str, date: str) -> str:
        return f"{self._ns}:fares:{{{route}}}:gen:{date}"

    def _gen_keys(self, query: FareQuery) -> tuple[str, str]:
        route = route_tag(query)
        return self._gen_key(route, query.date.isoformat()), self._gen_key(route, "*")

    def _lease_key(self, query: FareQuery) -> str:
        return f"{self._ns}:fares:{{{route_tag(query)}}}:lease:{query.key}"

    async def get(self, query: FareQuery, *, fetch: Fetch) -> tuple[Entry, str]:
        """A fresh entry and where it came from ("l1", "l2" or "live"). Raises what ``fetch``
        raises when there is nothing fresh and the supplier fails; ``stale()`` then tells what
        may be served as a fallback."""
        lookup = await self.lookup(query)
        if lookup.fresh is not None and lookup.tier is not None:
            if self._should_refresh_early(lookup.fresh):
                self._refresh_in_background(query, fetch, seen=lookup.fresh)
            FARE_CACHE_LOOKUPS.labels(lookup.tier, "hit").inc()
            return lookup.fresh, lookup.tier
        FARE_CACHE_LOOKUPS.labels("l2", "miss").inc()
        entry = await self._refresh(query, fetch, observed=lookup.stale)
        return entry, "live"

    async def lookup(self, query: FareQuery) -> Lookup:
        now = self._clock()
        route = route_tag(query)
        if self.policy.use_l1:
            entry = self._l1.get(query.key)
            if entry is not None:
                if now - entry.fetched_at < self.policy.fresh_s and entry.epoch == self._epoch(
                    route
                ):
                    return Lookup(entry, "l1", None)
                self._l1.pop(query.key, None)
        epoch = self._epoch(route)
        entry, valid = await self._l2_get(query)
        if entry is None:
            return Lookup(None, None, None)
        age = now - entry.fetched_at
        if valid and age < self.policy.fresh_s:
            self._l1_put(query, entry, epoch=epoch)
            return Lookup(entry, "l2", None)
        return Lookup(None, None, entry if age < self.policy.hard_max_age_s else None)

    async def stale(self, query: FareQuery) -> Entry | None:
        """The newest entry within the hard maximum age, fresh or not (the fallback)."""
        entry, _ = await self._l2_get(query)
        if entry is None or self._clock() - entry.fetched_at >= self.policy.hard_max_age_s:
            return None
        return entry

    def served(self, entry: Entry) -> None:
        FARE_SERVED_AGE.observe(max(0.0, self._clock() - entry.fetched_at))

    async def _l2_get(self, query: FareQuery) -> tuple[Entry | None, bool]:
        value_key = self._value_key(query)
        gen_date, gen_all = self._gen_keys(query)
        try:
            raw, g_date, g_all = await self._redis.mget([value_key, gen_date, gen_all])
        except RedisError as e:
            log.warning("fare cache L2 unavailable", key=query.key, error=repr(e))
            return None, False
        if raw is None:
            return None, False
        try:
            meta, offers = decode(cast(bytes, raw))
        except ValueError:
            return None, False
        fetched_at, delta_s, stored_date_gen, stored_all_gen = meta
        valid = (stored_date_gen, stored_all_gen) == (int(g_date or 0), int(g_all or 0))
        entry = Entry(tuple(offers), float(fetched_at), float(delta_s), len(raw))
        return entry, valid

    def _should_refresh_early(self, entry: Entry) -> bool:
        if not self.policy.early_refresh:
            return False
        expiry = entry.fetched_at + self.policy.fresh_s
        gap = -entry.delta_s * self.policy.xfetch_beta * math.log(max(self._rng(), 1e-12))
        return self._clock() + gap >= expiry

    def _refresh_in_background(self, query: FareQuery, fetch: Fetch, *, seen: Entry) -> None:
        if query.key in self._inflight:
            return
        FARE_CACHE_EARLY_REFRESH.inc()
        self.stats.early_refreshes += 1

        async def run() -> None:
            try:
                await self._refresh(query, fetch, observed=seen, early=True)
            except _LeaseHeldError:
                pass  # another process is refreshing it
            except Exception as e:  # the reader already has a fresh answer; log and move on
                log.warning("early refresh failed", key=query.key, error=repr(e))

        task = asyncio.create_task(run(), name=f"fare-refresh-{query.key}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _refresh(
        self, query: FareQuery, fetch: Fetch, *, observed: Entry | None, early: bool = False
    ) -> Entry:
        if not self.policy.single_flight:
            return await self._lease_and_fetch(query, fetch, observed=observed, early=early)
        pending = self._inflight.get(query.key)
        if pending is None:
            # The fetch runs in its own task: a caller that is cancelled (a timed-out request)
            # never cancels it for the others waiting on the same key.
            pending = asyncio.ensure_future(
                self._lease_and_fetch(query, fetch, observed=observed, early=early)
            )
            self._inflight[query.key] = pending
            pending.add_done_callback(lambda done: self._forget(query.key, done))
        return await asyncio.shield(pending)

    def _forget(self, key: str, done: asyncio.Future[Entry]) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter re-raises it itself

    async def _lease_and_fetch(
        self, query: FareQuery, fetch: Fetch, *, observed: Entry | None, early: bool
    ) -> Entry:
        if not self.policy.use_lease:
            return await self._fetch_and_store(query, fetch)
        token = secrets.token_hex(8)
        lease = self._lease_key(query)
        epoch = self._epoch(route_tag(query))
        try:
            won = await self._redis.set(lease, token, nx=True, px=self.policy.lease_ms)
        except RedisError:
            won = True  # without Redis there is nobody to coordinate with
        if won:
            try:
                # Another process may have refreshed it between our read and our lease.
                entry, valid = await self._l2_get(query)
                newer = entry is not None and (
                    observed is None or entry.fetched_at > observed.fetched_at
                )
                if entry is not None and valid and newer and self._is_fresh(entry):
                    self._l1_put(query, entry, epoch=epoch)
                    return entry
                return await self._fetch_and_store(query, fetch)
            finally:
                with contextlib.suppress(RedisError):
                    await self._redis.eval(_RELEASE, 1, lease, token)
        if early:
            raise _LeaseHeldError  # another process is refreshing it already
        # Another process holds the lease: wait for its answer rather than ask the supplier.
        self.stats.lease_waits += 1
        deadline = self._clock() + self.policy.lease_wait_s
        while self._clock() < deadline:
            await asyncio.sleep(self.policy.lease_poll_s)
            entry, valid = await self._l2_get(query)
            newer = entry is not None and (
                observed is None or entry.fetched_at > observed.fetched_at
            )
            if entry is not None and valid and newer and self._is_fresh(entry):
                self._l1_put(query, entry, epoch=epoch)
                return entry
        return await self._fetch_and_store(query, fetch)

    def _is_fresh(self, entry: Entry) -> bool:
        return self._clock() - entry.fetched_at < self.policy.fresh_s

    async def _fetch_and_store(self, query: FareQuery, fetch: Fetch) -> Entry:
        gen_date, gen_all = self._gen_keys(query)
        route = route_tag(query)
        epoch = self._epoch(route)
        try:
            g_date, g_all = await self._redis.mget([gen_date, gen_all])
        except RedisError:
            g_date = g_all = None
        started = self._clock()
        self.stats.supplier_fetches += 1
        offers = await fetch()
        fetched_at = self._clock()
        delta = max(0.0, fetched_at - started)
        # The generations read before the fetch: an invalidation that lands meanwhile makes
        # this answer invalid at once.
        meta = [fetched_at, delta, int(g_date or 0), int(g_all or 0)]
        raw = encode(offers, meta=meta)
        entry = Entry(tuple(offers), fetched_at, delta, len(raw), epoch)
        try:
            await self._redis.set(
                self._value_key(query), raw, px=int(self.policy.hard_max_age_s * 1000)
            )
        except RedisError:
            log.warning("fare cache L2 write failed", key=query.key)
        self._l1_put(query, entry, epoch=epoch)
        return entry

    def _epoch(self, route: str) -> int:
        return self._epochs.get(route, 0)

    def _l1_put(self, query: FareQuery, entry: Entry, *, epoch: int) -> None:
        """Keep ``entry`` in L1 unless the route was invalidated since ``epoch`` was read."""
        route = route_tag(query)
        if not self.policy.use_l1 or epoch != self._epoch(route):
            return
        entry = Entry(entry.offers, entry.fetched_at, entry.delta_s, entry.size, epoch)
        while len(self._l1) >= self.policy.l1_max_entries:
            self._l1.popitem()
        self._l1[query.key] = entry
        self._l1_routes.setdefault(route, set()).add(query.key)

    async def invalidate(self, *, origin: str, destination: str, date: str | None) -> None:
        """Make cached answers for a route (one date, or all) invalid everywhere: bump the L2
        generation; every process drops its L1 copies on the broadcast."""
        await self._redis.incr(self._gen_key(f"{origin}-{destination}", date or "*"))
        self.drop_local(origin=origin, destination=destination, date=date)

    def drop_local(self, *, origin: str, destination: str, date: str | None) -> int:
        """Drop this process's L1 entries for a route; the number dropped."""
        route = f"{origin}-{destination}"
        self._epochs[route] = self._epochs.get(route, 0) + 1
        keys = self._l1_routes.get(route, set())
        dropped = 0
        for key in list(keys):
            if date is None or f":{date}:" in key:
                if self._l1.pop(key, None) is not None:
                    dropped += 1
                keys.discard(key)
        return dropped

    def drop_route_key(self, route_key: str) -> None:
        """Apply an L1 broadcast: ``DEL-BOM:2026-12-01``, ``DEL-BOM:*``, or ``*`` for all."""
        if route_key == "*":
            for route in list(self._l1_routes):
                origin, _, destination = route.partition("-")
                self.drop_local(origin=origin, destination=destination, date=None)
            self._l1.clear()
            return
        route, _, date = route_key.partition(":")
        origin, _, destination = route.partition("-")
        self.drop_local(
            origin=origin, destination=destination, date=None if date in ("", "*") else date
        )

    async def close(self) -> None:
        pending: list[asyncio.Future[Any]] = [*self._background, *self._inflight.values()]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
