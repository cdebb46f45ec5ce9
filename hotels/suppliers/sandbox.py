"""The sandbox hotel network: three suppliers over one inventory, each serving the properties the
catalogue gives it, and each reaching Yatri the way its kind of supplier really does.

- `sandbox-channel` (PUSH), a channel manager: every change of one of its properties is queued
  and pushed as OTA XML (rooms left and rates in separate messages) through a sink, in batches,
  with retries and backoff on 5xx and failed calls;
- `sandbox-feed` (FEED): an append-only change log read with an opaque cursor, kept for a bounded
  number of changes; a cursor it no longer has (too old, or from before a restart) raises
  `FeedCursorExpired`, which means "resync from snapshots";
- `sandbox-bulk` (BULK): snapshots only.

Faults (`HotelFaults`) are plain fields, changed at run time: latency, errors and outages on every
call; lost, duplicated and reordered (delayed) pushes; duplicated and reordered changes in a feed
page. The random choices come from RNGs seeded from the network's seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from dataclasses import dataclass
from typing import Literal

from core.errors import InvalidRequestError, NotFoundError
from hotels.catalogue import SUPPLIERS, Catalogue
from hotels.models import Cell, Property, RoomType, SupplierKind
from hotels.ota import MAX_BOOKING_LIMIT
from hotels.suppliers.inventory import Inventory
from hotels.suppliers.sandbox_base import (
    MAX_SNAPSHOT_NIGHTS,
    FeedCursorExpired,
    HotelFaults,
    SandboxSupplier,
    UnknownPropertyError,
)
from hotels.suppliers.sandbox_channel import PushMessage, PushSink, PushStats, SandboxChannelManager
from hotels.suppliers.sandbox_feed import SandboxChangeFeed

__all__ = [
    "MAX_CHURN_PER_S", "MAX_SNAPSHOT_NIGHTS", "FeedCursorExpired", "HotelFaults", "PushMessage",
    "PushSink", "PushStats", "SandboxChange", "SandboxChangeFeed", "SandboxChannelManager",
    "SandboxHotelNetwork", "SandboxSupplier", "UnknownPropertyError",
]  # fmt: skip

MAX_CHURN_PER_S = 50_000.0


@dataclass(frozen=True, slots=True)
class SandboxChange:
    supplier: str
    channel: Literal["push", "feed", "bulk"]
    version: int


class SandboxHotelNetwork:
    """The three sandbox suppliers over one inventory. By default they share one `HotelFaults`
    (`network.faults`); give one supplier its own by setting `supplier.faults`."""

    def __init__(
        self, catalogue: Catalogue, inventory: Inventory, faults: HotelFaults | None = None, *,
        seed: int = 0, feed_retention: int = 200_000,
    ) -> None:  # fmt: skip
        self.catalogue = catalogue
        self.inventory = inventory
        self.faults = faults if faults is not None else HotelFaults()
        self.channel = SandboxChannelManager(name=SUPPLIERS[SupplierKind.PUSH], inventory=inventory,
                                             faults=self.faults, rng=random.Random(seed * 4 + 1))  # fmt: skip
        self.feed = SandboxChangeFeed(name=SUPPLIERS[SupplierKind.FEED], inventory=inventory,
                                      faults=self.faults, rng=random.Random(seed * 4 + 2),
                                      retention=feed_retention)  # fmt: skip
        self.bulk = SandboxSupplier(name=SUPPLIERS[SupplierKind.BULK], kind=SupplierKind.BULK,
                                    inventory=inventory, faults=self.faults,
                                    rng=random.Random(seed * 4 + 3))  # fmt: skip
        self.suppliers: list[SandboxSupplier] = [self.channel, self.feed, self.bulk]
        self._by_name = {s.name: s for s in self.suppliers}
        self._rng = random.Random(seed * 4)
        self._hot = [catalogue.span(d.code) for d in catalogue.largest(20)]
        self.changes = 0

    def supplier(self, name: str) -> SandboxSupplier | None:
        return self._by_name.get(name)

    def change(
        self, prop: Property, room_type: RoomType, night: dt.date, *,
        available: int | None = None, rate_paise: int | None = None,
    ) -> Cell:  # fmt: skip
        """Change the truth at the property's supplier, which then tells Yatri its own way."""
        if available is None and rate_paise is None:
            raise ValueError("a change sets rooms left, the rate, or both")
        if available is not None and not 0 <= available <= MAX_BOOKING_LIMIT:
            raise ValueError(f"rooms left must be 0..{MAX_BOOKING_LIMIT}")
        if rate_paise is not None and rate_paise <= 0:
            raise ValueError("the rate must be positive")
        if not self.inventory.in_window(night):
            raise ValueError("the night is outside the window on sale")
        supplier = self._by_name.get(prop.supplier)
        if supplier is None:
            raise ValueError(f"{prop.hotel_id} has no sandbox supplier")
        cell = self.inventory.set(prop, room_type, night, available=available,
                                  rate_paise=rate_paise)  # fmt: skip
        supplier.record(cell, available=available is not None, rate=rate_paise is not None)
        self.changes += 1
        return cell

    def change_by_id(
        self, hotel_id: str, *, room_type: RoomType, night: dt.date,
        available: int | None = None, rate_paise: int | None = None,
    ) -> SandboxChange:  # fmt: skip
        """The sandbox endpoint's change: the same as `change`, with errors a caller can show."""
        prop = self.catalogue.get(hotel_id)
        if prop is None:
            raise NotFoundError(f"no hotel {hotel_id} in the sandbox network", hotel_id=hotel_id)
        if room_type not in prop.room_types:
            raise InvalidRequestError(f"{hotel_id} has no {room_type.value} rooms",
                                      field="room_type")  # fmt: skip
        try:
            cell = self.change(prop, room_type, night, available=available, rate_paise=rate_paise)
        except ValueError as e:
            raise InvalidRequestError(str(e)) from e
        supplier = self._by_name[prop.supplier]
        return SandboxChange(supplier=supplier.name, channel=supplier.kind.value,
                             version=cell.version)  # fmt: skip

    def random_change(self) -> Cell:
        """One realistic change: mostly a sale, some cancellations, a few rate moves; nearer
        nights and the biggest destinations change more."""
        rng = self._rng
        span = rng.choice(self._hot) if rng.random() < 0.3 else range(self.catalogue.size)
        prop = self.catalogue.property(rng.choice(span))
        room_type = rng.choice(prop.room_types)
        first, last = self.inventory.window()
        night = first + dt.timedelta(days=min((last - first).days, int(rng.expovariate(1 / 7))))
        current = self.inventory.cell(prop, room_type, night)
        available = current.available if current is not None and current.available else 0
        rate = current.rate_paise if current is not None and current.rate_paise else 100_000
        roll = rng.random()
        if roll < 0.75:  # a sale, or a night that sold out gets a room back
            return self.change(prop, room_type, night,
                               available=available - 1 if available else rng.randint(0, 2))  # fmt: skip
        if roll < 0.87:
            return self.change(prop, room_type, night, available=min(available + 1, 60))
        factor = 1 + rng.choice((-1, 1)) * rng.uniform(0.03, 0.12)
        return self.change(prop, room_type, night,
                           rate_paise=max(50_000, round(rate * factor / 1000) * 1000))  # fmt: skip

    async def churn(
        self, changes_per_s: float, stop: asyncio.Event, *, max_changes: int | None = None,
        tick_s: float = 0.05,
    ) -> int:  # fmt: skip
        """Random changes at about `changes_per_s` (at most MAX_CHURN_PER_S) until `stop` is set
        or `max_changes` were made; returns how many were made."""
        rate = max(0.0, min(changes_per_s, MAX_CHURN_PER_S))
        loop = asyncio.get_running_loop()
        made, owed, last = 0, 0.0, loop.time()
        while not stop.is_set() and (max_changes is None or made < max_changes):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick_s)
            now = loop.time()
            # A stalled loop does not come back with a burst: at most a second's worth is owed.
            owed = min(owed + rate * (now - last), max(rate, 1.0))
            last = now
            n = int(owed)
            if max_changes is not None:
                n = min(n, max_changes - made)
            for _ in range(n):
                self.random_change()
            owed -= n
            made += n
        return made
