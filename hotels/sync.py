"""Keeping the availability store in step with the suppliers.

* Changes arrive as batches (a webhook push, a change-feed page) and are *received*: written to
  the change stream and acknowledged. The consumer *applies* them under the version rule.
* A poller per change-feed supplier reads from a durable cursor, publishes the page, and only
  then saves the cursor: a crash in between re-reads the page, and the versions make the second
  application a counted duplicate, so nothing is lost and nothing is applied twice.
* Destinations are loaded from the suppliers' snapshots: the largest first (warming), the rest
  in the background, and any destination on demand when a search reaches it first. A store that
  lost its data (no "loaded" record) is loaded again: Redis is a cache, the suppliers the truth.
* Reconciliation compares every supplier's snapshot with the store and repairs what differs
  (a lost push, a change the feed dropped), counting drift found and repaired. The nights that
  enter the rolling window each day are loaded the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from core.errors import DependencyUnavailableError
from core.logging import get_logger
from core.telemetry import (
    HOTEL_CHANGE_LAG,
    HOTEL_CHANGES,
    HOTEL_CURSOR_AGE,
    HOTEL_DRIFT,
    HOTEL_LOADED,
)
from hotels.catalogue import Catalogue
from hotels.events import ChangeBatch, ChangePublisher
from hotels.models import ROOM_TYPES, ApplyCounts, Cell, Property, version_time
from hotels.store import AvailabilityStore
from hotels.suppliers.base import (
    ChangeFeed,
    CursorExpiredError,
    HotelSupplier,
    HotelSupplierError,
)

log = get_logger(__name__)
FEED_PAGE = 2_000


@dataclass(slots=True)
class DriftReport:
    found: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)  # suppliers whose snapshot was unavailable

    @property
    def total_found(self) -> int:
        return sum(self.found.values())

    @property
    def total_repaired(self) -> int:
        return sum(self.repaired.values())


@dataclass(slots=True)
class SyncStats:
    counts: dict[str, ApplyCounts] = field(default_factory=dict)  # by supplier
    polled_at: dict[str, float] = field(default_factory=dict)  # last poll that reached the head

    def add(self, supplier: str, counts: ApplyCounts) -> None:
        self.counts[supplier] = self.counts.get(supplier, ApplyCounts()) + counts


class HotelSync:
    def __init__(
        self,
        *,
        catalogue: Catalogue,
        store: AvailabilityStore,
        bus: ChangePublisher,
        suppliers: Sequence[HotelSupplier],
        feeds: Sequence[ChangeFeed] = (),
        today: Callable[[], dt.date],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.catalogue = catalogue
        self.store = store
        self._bus = bus
        self._suppliers = {s.name: s for s in suppliers}
        self._feeds = list(feeds)
        self._today = today
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._loaded: dict[str, dt.date] = {}
        self._owners: dict[str, dict[str, npt.NDArray[np.int64]]] = {}
        self.partial: set[str] = set()  # loaded while a supplier was down: reconciled soon
        self.stats = SyncStats()

    # --- the window -----------------------------------------------------------------------

    def window(self) -> tuple[dt.date, int]:
        return self._today(), self.store.window_days

    def in_window(self, night: dt.date) -> bool:
        first, days = self.window()
        return first <= night < first + dt.timedelta(days=days)

    # --- receiving and applying changes -----------------------------------------------------

    async def receive(self, supplier: str, cells: Sequence[Cell]) -> None:
        """Accept a supplier's changes: written to the change stream, applied by the consumer."""
        if cells:
            await self._bus.publish(
                ChangeBatch(supplier=supplier, received_at=self._clock(), cells=cells)
            )

    async def apply(self, batches: Sequence[ChangeBatch]) -> ApplyCounts:
        """Apply batches under the version rule, all in one call to the store; unknown hotels,
        another supplier's hotels and nights outside the window are rejected and counted."""
        now = self._clock()
        known: list[tuple[Property, Cell]] = []
        owner: list[int] = []  # the batch each known change came from
        rejected = [0] * len(batches)
        for b, batch in enumerate(batches):
            for cell in batch.cells:
                prop = self.catalogue.get(cell.hotel_id)
                if (
                    prop is None
                    or prop.supplier != batch.supplier
                    or not self.in_window(cell.night)
                ):
                    rejected[b] += 1
                else:
                    known.append((prop, cell))
                    owner.append(b)
        outcomes = await self.store.apply_each(known) if known else ""
        per_batch = [{"a": 0, "d": 0, "s": 0, "r": 0} for _ in batches]
        newest = [0] * len(batches)
        for b, code, (_prop, cell) in zip(owner, outcomes, known, strict=True):
            per_batch[b][code] += 1
            if code == "a":
                newest[b] = max(newest[b], cell.version)
        total = ApplyCounts()
        for b, batch in enumerate(batches):
            tally = per_batch[b]
            counts = ApplyCounts(applied=tally["a"], duplicate=tally["d"], stale=tally["s"],
                                 rejected=tally["r"] + rejected[b])  # fmt: skip
            self.stats.add(batch.supplier, counts)
            for outcome in ("applied", "duplicate", "stale", "rejected"):
                if n := getattr(counts, outcome):
                    HOTEL_CHANGES.labels(batch.supplier, outcome).inc(n)
            if newest[b]:
                lag = now - version_time(newest[b]).timestamp()
                HOTEL_CHANGE_LAG.labels(batch.supplier).observe(max(lag, 0.0))
            total += counts
        return total

    # --- change feeds ---------------------------------------------------------------------

    async def poll_once(self, feed: ChangeFeed) -> int:
        """Read the feed from the saved cursor to its head; returns the changes read."""
        read = 0
        cursor = await self.store.cursor(feed.name)
        while True:
            try:
                page = await feed.changes_since(cursor, limit=FEED_PAGE)
            except CursorExpiredError:
                # Changes after the cursor are gone: what they said is in the snapshots.
                log.warning("hotel feed cursor expired; reconciling", supplier=feed.name)
                await self.reconcile()
                cursor = None
                continue
            await self.receive(feed.name, page.cells)
            await self.store.save_cursor(feed.name, page.cursor)  # only after the publish
            read += len(page.cells)
            cursor = page.cursor
            if len(page.cells) < FEED_PAGE:
                break
        self.stats.polled_at[feed.name] = self._clock()
        HOTEL_CURSOR_AGE.labels(feed.name).set(0)
        return read

    async def run_pollers(self, *, interval_s: float, stop: asyncio.Event) -> None:
        async def one(feed: ChangeFeed) -> None:
            while not stop.is_set():
                try:
                    await self.poll_once(feed)
                except (HotelSupplierError, DependencyUnavailableError) as e:
                    log.warning("hotel feed poll failed", supplier=feed.name, error=str(e))
                    polled = self.stats.polled_at.get(feed.name)
                    if polled is not None:
                        HOTEL_CURSOR_AGE.labels(feed.name).set(self._clock() - polled)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval_s)

        await asyncio.gather(*(one(f) for f in self._feeds))

    # --- loading from snapshots -------------------------------------------------------------

    async def loaded(self) -> dict[str, dt.date]:
        self._loaded = await self.store.loaded()
        HOTEL_LOADED.set(len(self._loaded))
        return self._loaded

    def is_loaded(self, destination: str) -> bool:
        return self._loaded.get(destination) == self._today()

    async def ensure_loaded(self, destination: str) -> None:
        """Load a destination now unless the store has it for today's window."""
        if self.is_loaded(destination):
            return
        lock = self._locks.setdefault(destination, asyncio.Lock())
        async with lock:
            self._loaded.update(await self.store.loaded())  # another process may have loaded it
            await self._bring_up_to_date(destination)

    async def load_destination(self, destination: str) -> ApplyCounts:
        first, nights = self.window()
        span = self.catalogue.span(destination)
        props = [self.catalogue.property(n) for n in span]
        shape = (len(props), len(ROOM_TYPES), nights)
        avail = np.zeros(shape, dtype=np.int64)
        rate = np.zeros(shape, dtype=np.int64)
        version = np.zeros(shape, dtype=np.int64)
        owners = self._by_supplier(destination)
        failed: list[HotelSupplierError] = []
        for name, numbers in owners.items():
            try:
                block = await self._suppliers[name].snapshot_block(
                    numbers, first_night=first, nights=nights
                )
            except HotelSupplierError as e:
                failed.append(e)  # its hotels show as full until reconciliation reaches them
                continue
            at = block.numbers - span.start
            avail[at], rate[at], version[at] = block.available, block.rate_paise, block.version
        if failed and len(failed) == len(owners):
            raise failed[0]
        if failed:
            self.partial.add(destination)
            log.warning("hotel destination loaded without some suppliers",
                        destination=destination, missing=[e.supplier for e in failed])  # fmt: skip
        counts = await self.store.load(
            props, first_night=first, available=avail, rate_paise=rate, version=version
        )
        await self.store.mark_loaded(destination, first_night=first)
        self._loaded[destination] = first
        HOTEL_LOADED.set(len(self._loaded))
        return counts

    async def load_all(
        self, *, first: Sequence[str] = (), stop: asyncio.Event, concurrency: int = 4
    ) -> int:
        """Load every destination not loaded for today, `first` ones first, a few at a time (a
        destination's snapshots and its store writes overlap another's); returns how many."""
        loaded = await self.loaded()
        order = list(first) + [d.code for d in self.catalogue.destinations if d.code not in first]
        todo = [code for code in order if loaded.get(code) != self._today()]
        gate = asyncio.Semaphore(concurrency)

        async def one(code: str) -> bool:
            async with gate:
                if stop.is_set():
                    return False
                try:
                    await self._load_once(code)
                except (HotelSupplierError, DependencyUnavailableError) as e:
                    log.warning("hotel destination not loaded", destination=code, error=str(e))
                    return False
                return True

        return sum(await asyncio.gather(*(one(code) for code in todo)))

    async def _load_once(self, destination: str) -> None:
        async with self._locks.setdefault(destination, asyncio.Lock()):
            await self._bring_up_to_date(destination)

    async def _bring_up_to_date(self, destination: str) -> None:
        first = self._loaded.get(destination)
        if first == self._today():
            return
        if first is None:
            await self.load_destination(destination)
        else:  # loaded for an earlier window: only the nights that entered it are new
            await self.reconcile_destination(destination)
            await self.store.mark_loaded(destination, first_night=self._today())
            self._loaded[destination] = self._today()

    async def watch_store(self, *, interval_s: float, stop: asyncio.Event) -> None:
        """Reload when the store lost its data (the loaded record is gone) or the day rolled."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
            if stop.is_set():
                break
            try:
                had = dict(self._loaded)
                now = await self.loaded()
                lost = [d for d in had if d not in now]
                rolled = [d for d, first in now.items() if first != self._today()]
                if lost:
                    log.warning("hotel store lost data; loading again", destinations=len(lost))
                for code in lost + rolled:
                    if stop.is_set():
                        break
                    await self.ensure_loaded(code)
                for code in list(self.partial):
                    if not (await self.reconcile_destination(code)).failed:
                        self.partial.discard(code)
            except (HotelSupplierError, DependencyUnavailableError) as e:
                log.warning("hotel store watch failed", error=str(e))

    # --- reconciliation ---------------------------------------------------------------------

    async def reconcile(self, destinations: Sequence[str] | None = None) -> DriftReport:
        report = DriftReport()
        codes = list(destinations) if destinations is not None else list(await self.loaded())
        for code in codes:
            await self.reconcile_destination(code, report=report)
        return report

    async def reconcile_destination(
        self, destination: str, *, report: DriftReport | None = None
    ) -> DriftReport:
        """Compare each supplier's snapshot of a destination with the store; repair differences
        where the supplier's version is newer."""
        report = report if report is not None else DriftReport()
        first, nights = self.window()
        for name, numbers in self._by_supplier(destination).items():
            try:
                snap = await self._suppliers[name].snapshot_block(
                    numbers, first_night=first, nights=nights
                )
            except HotelSupplierError as e:
                log.warning("hotel snapshot unavailable", supplier=name, error=str(e))
                report.failed.append(name)
                continue
            props = [self.catalogue.property(int(n)) for n in numbers]
            stored = await self.store.read_block(props, first_night=first, nights=nights)
            has_room = snap.rate_paise > 0
            newer_a = snap.version > stored.available_version
            newer_r = snap.version > stored.rate_version
            drift = has_room & (
                (newer_a & (snap.available != stored.available))
                | (newer_r & (snap.rate_paise != stored.rate_paise))
                | (stored.available_version < 0)
            )
            cells = [
                (props[i], Cell(hotel_id=props[i].hotel_id, room_type=ROOM_TYPES[r],
                                night=first + dt.timedelta(days=int(d)),
                                available=int(snap.available[i, r, d]),
                                rate_paise=int(snap.rate_paise[i, r, d]),
                                version=int(snap.version[i, r, d])))
                for i, r, d in zip(*np.nonzero(drift), strict=True)
            ]  # fmt: skip
            counts = await self.store.apply(cells) if cells else ApplyCounts()
            report.found[name] = report.found.get(name, 0) + len(cells)
            report.repaired[name] = report.repaired.get(name, 0) + counts.applied
            HOTEL_DRIFT.labels(name, "found").inc(len(cells))
            HOTEL_DRIFT.labels(name, "repaired").inc(counts.applied)
        return report

    async def run_reconciler(self, *, interval_s: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
            if stop.is_set():
                break
            try:
                report = await self.reconcile()
                log.info("hotel reconciliation", found=report.total_found,
                         repaired=report.total_repaired, failed=report.failed)  # fmt: skip
            except DependencyUnavailableError as e:
                log.warning("hotel reconciliation failed", error=str(e))

    def _by_supplier(self, destination: str) -> dict[str, npt.NDArray[np.int64]]:
        owners = self._owners.get(destination)
        if owners is None:
            span = self.catalogue.span(destination)
            groups: dict[str, list[int]] = {}
            for n in span:
                groups.setdefault(self.catalogue.supplier_of(n), []).append(n)
            owners = {
                name: np.array(ns, dtype=np.int64)
                for name, ns in groups.items()
                if name in self._suppliers
            }
            self._owners[destination] = owners
        return owners
