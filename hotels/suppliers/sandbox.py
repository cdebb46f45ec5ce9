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
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from core.errors import InvalidRequestError, NotFoundError
from hotels.catalogue import SUPPLIERS, Catalogue
from hotels.models import Cell, Property, RoomType, SupplierKind
from hotels.ota import MAX_BOOKING_LIMIT, NotifKind, build_avail_notif, build_rate_notif
from hotels.suppliers.base import Block, FeedPage, HotelSupplierError
from hotels.suppliers.inventory import RT_INDEX, Inventory

log = logging.getLogger(__name__)

PushSink = Callable[[str, bytes], Awaitable[int]]  # (supplier name, OTA body) -> HTTP status
MAX_CHURN_PER_S = 50_000.0
MAX_SNAPSHOT_NIGHTS = 400
_SNAPSHOT_CHUNK = 256  # properties per step, so a big snapshot lets other tasks run between


@dataclass(slots=True)
class HotelFaults:
    """What the sandbox suppliers do wrong on purpose; change the fields at any time."""

    latency_ms: float = 0.0  # per call (snapshot, feed page, one push), +-50 % uniform
    error_rate: float = 0.0  # a call fails (snapshot, feed page) or a push does not get through
    outage: bool = False  # every call fails; pushes wait in the queue until it ends
    lost_push_rate: float = 0.0  # pushes dropped without a trace (counted in PushStats.lost)
    duplicate_rate: float = 0.0  # pushes sent twice; feed changes repeated within a page
    reorder: bool = False  # push batches shuffled and a quarter held back; feed pages shuffled


@dataclass(slots=True)
class PushStats:
    changes: int = 0  # changes queued
    messages: int = 0  # OTA messages built from them (several changes of a hotel share one)
    sent: int = 0  # calls made, duplicates and retries included
    delivered: int = 0  # accepted by the sink: 2xx, or 409 (it already had the message)
    lost: int = 0  # dropped by the lost-push fault or by a full queue
    duplicated: int = 0
    retried: int = 0
    failed: int = 0  # still failing after max_attempts
    rejected: int = 0  # refused with a 4xx: not retried


@dataclass(frozen=True, slots=True)
class PushMessage:
    hotel_id: str
    kind: NotifKind
    body: bytes


class UnknownPropertyError(HotelSupplierError):
    """The property belongs to another supplier."""


class FeedCursorExpired(HotelSupplierError):
    """The feed no longer has the changes after this cursor: resync from snapshots, then read
    on from `changes_since(None, ...)`."""


class SandboxSupplier:
    """What the three suppliers share: snapshots of their own properties, and the call faults."""

    def __init__(
        self, *, name: str, kind: SupplierKind, inventory: Inventory, faults: HotelFaults,
        rng: random.Random,
    ) -> None:  # fmt: skip
        self._name = name
        self._kind = kind
        self.inventory = inventory
        self.faults = faults
        self.rng = rng
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> SupplierKind:
        return self._kind

    async def snapshot(
        self, props: Sequence[Property], *, first_night: dt.date, nights: int
    ) -> list[Cell]:
        """Every room type of each property for the nights, from the inventory (its versions)."""
        if not 1 <= nights <= MAX_SNAPSHOT_NIGHTS:
            raise ValueError(f"nights must be 1..{MAX_SNAPSHOT_NIGHTS}")
        foreign = next((p for p in props if p.supplier != self.name), None)
        if foreign is not None:
            raise UnknownPropertyError(f"{self.name} does not serve {foreign.hotel_id}",
                                       supplier=self.name, hotel_id=foreign.hotel_id)  # fmt: skip
        await self._call()
        out: list[Cell] = []
        for start in range(0, len(props), _SNAPSHOT_CHUNK):
            if start:
                await asyncio.sleep(0)
            chunk = props[start : start + _SNAPSHOT_CHUNK]
            numbers = np.array([p.number for p in chunk], dtype=np.int64)
            block = self.inventory.block(numbers, first_night=first_night, nights=nights)
            days = [first_night + dt.timedelta(days=d) for d in range(nights)]
            for i, prop in enumerate(chunk):
                for rt in prop.room_types:
                    r = RT_INDEX[rt]
                    rows = zip(days, block.available[i, r].tolist(), block.rate_paise[i, r].tolist(),
                               block.version[i, r].tolist(), strict=True)  # fmt: skip
                    out.extend(Cell(hotel_id=prop.hotel_id, room_type=rt, night=night,
                                    available=a, rate_paise=p, version=v)
                               for night, a, p, v in rows)  # fmt: skip
        return out

    async def snapshot_block(
        self, numbers: npt.NDArray[np.int64], *, first_night: dt.date, nights: int
    ) -> Block:
        """The snapshot as arrays (full loads, reconciliation); computed in chunks so a large
        destination does not hold the event loop."""
        if not 1 <= nights <= MAX_SNAPSHOT_NIGHTS:
            raise ValueError(f"nights must be 1..{MAX_SNAPSHOT_NIGHTS}")
        for n in numbers[:1].tolist() + numbers[-1:].tolist():
            if self.inventory.catalogue.supplier_of(int(n)) != self.name:
                raise UnknownPropertyError(f"{self.name} does not serve property {n}",
                                           supplier=self.name)  # fmt: skip
        await self._call()
        parts = []
        for start in range(0, len(numbers), _SNAPSHOT_CHUNK):
            if start:
                await asyncio.sleep(0)
            chunk = numbers[start : start + _SNAPSHOT_CHUNK]
            parts.append(self.inventory.block(chunk, first_night=first_night, nights=nights))
        if not parts:
            return self.inventory.block(numbers, first_night=first_night, nights=nights)
        return Block(
            numbers=np.concatenate([b.numbers for b in parts]), first_night=first_night,
            available=np.concatenate([b.available for b in parts]),
            rate_paise=np.concatenate([b.rate_paise for b in parts]),
            version=np.concatenate([b.version for b in parts]),
        )  # fmt: skip

    def record(self, cell: Cell, *, available: bool, rate: bool) -> None:
        """A change of one of this supplier's cells (a bulk supplier tells no one)."""

    async def _call(self) -> None:
        """One call's faults: its latency, then an outage or an error."""
        self.calls += 1
        faults = self.faults
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000 * (0.5 + self.rng.random()))
        if faults.outage:
            raise HotelSupplierError(f"{self.name} is down (injected outage)", supplier=self.name)
        if faults.error_rate > 0 and self.rng.random() < faults.error_rate:
            raise HotelSupplierError(f"{self.name} failed (injected error)", supplier=self.name)


class SandboxChannelManager(SandboxSupplier):
    """Queues its properties' changes and pushes them as OTA messages (see `run_pushes`)."""

    def __init__(
        self, *, name: str, inventory: Inventory, faults: HotelFaults, rng: random.Random,
        batch_messages: int = 500, concurrency: int = 32, max_attempts: int = 5,
        backoff_s: float = 0.05, max_backoff_s: float = 2.0, max_pending_cells: int = 500_000,
    ) -> None:  # fmt: skip
        super().__init__(name=name, kind=SupplierKind.PUSH, inventory=inventory, faults=faults,
                         rng=rng)  # fmt: skip
        self.batch_messages = batch_messages
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_pending_cells = max_pending_cells
        self.stats = PushStats()
        # hotel -> (room type, night) -> the latest value and its version; a hotel's queued
        # changes become one message of each kind when it is taken.
        self._avail: dict[str, dict[tuple[RoomType, dt.date], Cell]] = {}
        self._rate: dict[str, dict[tuple[RoomType, dt.date], Cell]] = {}
        self._pending_cells = 0
        self._ready: deque[PushMessage] = deque()
        self._held: list[PushMessage] = []
        self._echo = 0

    def record(self, cell: Cell, *, available: bool, rate: bool) -> None:
        if self._pending_cells >= self.max_pending_cells:
            self.stats.lost += 1  # a channel manager's queue is finite too
            return
        self.stats.changes += 1
        key = (cell.room_type, cell.night)
        for wanted, queue in ((available, self._avail), (rate, self._rate)):
            if wanted:
                cells = queue.setdefault(cell.hotel_id, {})
                self._pending_cells += key not in cells
                cells[key] = cell

    def pending(self) -> int:
        """Messages not yet sent: built or still to build (per hotel and kind), and held back."""
        return len(self._ready) + len(self._held) + len(self._avail) + len(self._rate)

    def take(self, limit: int) -> list[PushMessage]:
        """Up to `limit` messages, oldest first; the queue keeps the rest."""
        while len(self._ready) < limit and (self._avail or self._rate):
            self._build_next()
        return [self._ready.popleft() for _ in range(min(limit, len(self._ready)))]

    async def run_pushes(
        self, sink: PushSink, stop: asyncio.Event, *, interval_s: float = 0.05
    ) -> None:
        """Deliver queued changes until `stop` is set; in-flight deliveries are then cancelled."""
        gate = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                batch = [] if self.faults.outage else self._shape(self.take(self.batch_messages))
                for message in batch:
                    await gate.acquire()
                    task = asyncio.create_task(self._deliver(sink, message, gate))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if self.faults.outage or not (self._ready or self._avail or self._rate):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), interval_s)
                else:
                    await asyncio.sleep(0)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def push_pending(self, sink: PushSink) -> None:
        """Deliver everything queued now (faults included) and return when it is done; during
        an outage nothing is sent and the queue stays."""
        gate = asyncio.Semaphore(self.concurrency)
        while self.pending() and not self.faults.outage:
            tasks = []
            for message in self._shape(self.take(self.batch_messages)):
                await gate.acquire()
                tasks.append(asyncio.create_task(self._deliver(sink, message, gate)))
            await asyncio.gather(*tasks)

    def _build_next(self) -> None:
        hotel_id = next(iter(self._avail or self._rate))
        for kind, queue, build in ((NotifKind.AVAIL, self._avail, build_avail_notif),
                                   (NotifKind.RATE, self._rate, build_rate_notif)):  # fmt: skip
            cells = queue.pop(hotel_id, None)
            if not cells:
                continue
            self._pending_cells -= len(cells)
            self._echo += 1
            body = build(hotel_id, list(cells.values()), echo_token=f"{self.name}-{self._echo}")
            self._ready.append(PushMessage(hotel_id=hotel_id, kind=kind, body=body))
            self.stats.messages += 1

    def _shape(self, batch: list[PushMessage]) -> list[PushMessage]:
        """The batch as the network delivers it: lost, duplicated, shuffled and delayed."""
        faults, rng = self.faults, self.rng
        out: list[PushMessage] = []
        for message in batch:
            if faults.lost_push_rate > 0 and rng.random() < faults.lost_push_rate:
                self.stats.lost += 1
                continue
            out.append(message)
            if faults.duplicate_rate > 0 and rng.random() < faults.duplicate_rate:
                out.append(message)
                self.stats.duplicated += 1
        if faults.reorder:
            out.extend(self._held)
            rng.shuffle(out)
            keep = len(out) // 4
            self._held, out = out[:keep], out[keep:]
        elif self._held:
            out, self._held = self._held + out, []
        return out

    async def _deliver(self, sink: PushSink, message: PushMessage, gate: asyncio.Semaphore) -> None:
        """One message, retried with jittered exponential backoff; releases `gate` when done."""
        try:
            for attempt in range(self.max_attempts):
                if attempt:
                    self.stats.retried += 1
                    pause = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
                    await asyncio.sleep(pause * (0.5 + self.rng.random()))
                status = await self._send(sink, message)
                if 200 <= status < 300 or status == 409:
                    self.stats.delivered += 1
                    return
                if 400 <= status < 500 and status not in (408, 429):
                    self.stats.rejected += 1
                    log.warning("hotel push refused", extra={"supplier": self.name,
                                "hotel_id": message.hotel_id, "status": status})  # fmt: skip
                    return
            self.stats.failed += 1
            log.warning("hotel push failed after retries", extra={"supplier": self.name,
                        "hotel_id": message.hotel_id, "attempts": self.max_attempts})  # fmt: skip
        finally:
            gate.release()

    async def _send(self, sink: PushSink, message: PushMessage) -> int:
        """One call; a call that never reaches Yatri reads as 503."""
        try:
            await self._call()
        except HotelSupplierError:
            return 503
        self.stats.sent += 1
        try:
            return await sink(self.name, message.body)
        except Exception:  # any transport failure is retried, as an HTTP client would
            return 503


class SandboxChangeFeed(SandboxSupplier):
    """An append-only change log; the cursor is "<epoch hex>-<sequence of the last change read>",
    the epoch telling this log from the one before a restart."""

    def __init__(
        self, *, name: str, inventory: Inventory, faults: HotelFaults, rng: random.Random,
        retention: int = 200_000,
    ) -> None:  # fmt: skip
        super().__init__(name=name, kind=SupplierKind.FEED, inventory=inventory, faults=faults,
                         rng=rng)  # fmt: skip
        if retention < 1:
            raise ValueError("retention must be positive")
        self.retention = retention
        self.epoch = f"{inventory.base_version:x}"
        self._log: list[Cell] = []
        self._first = 1  # the sequence number of _log[0]

    @property
    def last_seq(self) -> int:
        return self._first + len(self._log) - 1

    @property
    def oldest_seq(self) -> int:
        """The oldest change still kept."""
        return max(self._first, self.last_seq - self.retention + 1)

    def record(self, cell: Cell, *, available: bool, rate: bool) -> None:
        self._log.append(cell)
        if len(self._log) >= 2 * self.retention:  # trim in bulk: a list slice, not a deque walk
            drop = len(self._log) - self.retention
            del self._log[:drop]
            self._first += drop

    async def changes_since(self, cursor: str | None, *, limit: int) -> FeedPage:
        if limit < 1:
            raise ValueError("limit must be positive")
        await self._call()
        after = self.oldest_seq - 1 if cursor is None else self._after(cursor)
        if after + 1 < self.oldest_seq:
            raise FeedCursorExpired(f"{self.name} no longer has changes after this cursor",
                                    supplier=self.name, reason="cursor-expired")  # fmt: skip
        start = after + 1 - self._first
        cells = self._log[start : start + limit]
        next_cursor = f"{self.epoch}-{after + len(cells)}"
        faults = self.faults
        if faults.duplicate_rate > 0:
            cells = [c for c in cells
                     for _ in range(2 if self.rng.random() < faults.duplicate_rate else 1)]  # fmt: skip
        if faults.reorder:
            self.rng.shuffle(cells)
        return FeedPage(cells=cells, cursor=next_cursor)

    def _after(self, cursor: str) -> int:
        epoch, _, seq = cursor.partition("-")
        if epoch != self.epoch or not seq.isascii() or not seq.isdigit() or len(seq) > 15:
            raise FeedCursorExpired(f"{self.name} does not know this cursor", supplier=self.name,
                                    reason="cursor-unknown")  # fmt: skip
        after = int(seq)
        if after > self.last_seq:
            raise FeedCursorExpired(f"{self.name} has not reached this cursor",
                                    supplier=self.name, reason="cursor-unknown")  # fmt: skip
        return after


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
