"""The sandbox channel manager (`sandbox-channel`, PUSH): every change of one of its properties is
queued, and `run_pushes` delivers the queue as OTA XML through a sink (one call per message; rooms
left and rates in separate messages; several changes of one hotel share a message), in batches,
retrying 5xx and failed calls with backoff. Push faults: lost, duplicated, reordered (a batch
shuffled and a quarter held back to the next batch), and the call faults of every supplier.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.logging import get_logger
from hotels.models import Cell, RoomType, SupplierKind
from hotels.ota import NotifKind, build_avail_notif, build_rate_notif
from hotels.suppliers.base import HotelSupplierError
from hotels.suppliers.inventory import Inventory
from hotels.suppliers.sandbox_base import HotelFaults, SandboxSupplier

log = get_logger(__name__)

PushSink = Callable[[str, bytes], Awaitable[int]]  # (supplier name, OTA body) -> HTTP status


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
                    log.warning("hotel push refused", supplier=self.name,
                                hotel_id=message.hotel_id, status=status)  # fmt: skip
                    return
            self.stats.failed += 1
            log.warning("hotel push failed after retries", supplier=self.name,
                        hotel_id=message.hotel_id, attempts=self.max_attempts)  # fmt: skip
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
