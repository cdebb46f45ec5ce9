"""Hotel availability changes on their way from a supplier to the store: a Redis Stream read by
a consumer group, at least once, the shape fare events use (`fares/events.py`).

A webhook or a poller publishes a *batch* (one supplier message, many cells) and answers the
supplier as soon as the entry is written; a consumer applies batches to the store and only then
acknowledges them, so a crash leaves them pending, and XAUTOCLAIM hands entries idle longer than
``claim_idle_ms`` to a live consumer. Redelivery is harmless: the store's version rule turns a
second application into a counted duplicate. An entry that does not decode goes to a
dead-letter stream.

Mapping to Kafka: the stream becomes a topic keyed by hotel id (one property's changes stay in one
partition, in order, though the version rule does not need order); the consumer group becomes a
Kafka consumer group and XAUTOCLAIM's reassignment what a rebalance does; the DLQ a topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import msgpack
from redis.exceptions import RedisError, ResponseError

from core.errors import DependencyUnavailableError
from core.logging import get_logger
from core.redis_conn import RedisClient
from hotels.models import Cell, RoomType

log = get_logger(__name__)
_READ = 64  # batches a read


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    supplier: str
    received_at: float  # epoch seconds, when Yatri accepted it
    cells: Sequence[Cell]

    def encode(self) -> bytes:
        rows = [
            [c.hotel_id, c.room_type.value, c.night.toordinal(),
             -1 if c.available is None else c.available,
             -1 if c.rate_paise is None else c.rate_paise, c.version]
            for c in self.cells
        ]  # fmt: skip
        packed: bytes = msgpack.packb([self.supplier, self.received_at, rows])
        return packed

    @classmethod
    def decode(cls, raw: bytes) -> ChangeBatch:
        """ValueError when the entry is not a batch."""
        try:
            supplier, received_at, rows = msgpack.unpackb(raw)
            cells = [
                Cell(hotel_id=str(h), room_type=RoomType(rt), night=dt.date.fromordinal(int(o)),
                     available=None if a < 0 else int(a), rate_paise=None if p < 0 else int(p),
                     version=int(v))
                for h, rt, o, a, p, v in rows
            ]  # fmt: skip
        except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError) as e:
            raise ValueError(f"not a change batch: {e}") from e
        return cls(supplier=str(supplier), received_at=float(received_at), cells=cells)


Handler = Callable[[Sequence[ChangeBatch]], Awaitable[None]]


class ChangePublisher(Protocol):
    async def publish(self, batch: ChangeBatch) -> None: ...


class ChangeConsumer(Protocol):
    async def run(self, handler: Handler, *, stop: asyncio.Event) -> None: ...


class RedisChangeBus:
    """Both ports over one Redis Stream and consumer group."""

    def __init__(
        self,
        *,
        redis: RedisClient,
        consumer: str,
        namespace: str,
        group: str = "hotel-sync",
        claim_idle_ms: int = 10_000,
        block_ms: int = 100,
        maxlen: int = 200_000,
    ) -> None:
        self._redis = redis
        self._consumer = consumer
        self.stream = f"{namespace}:hotels:changes"
        self.dlq_stream = f"{namespace}:hotels:changes:dlq"
        self._group = group
        self._claim_idle_ms = claim_idle_ms
        self._block_ms = block_ms
        self._maxlen = maxlen

    async def publish(self, batch: ChangeBatch) -> None:
        try:
            await self._redis.xadd(
                self.stream, {"b": batch.encode()}, maxlen=self._maxlen, approximate=True
            )
        except RedisError as e:
            raise DependencyUnavailableError("hotel change stream (Redis) is unavailable") from e

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self.stream, self._group, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise DependencyUnavailableError("cannot create the hotel change group") from e
        except RedisError as e:
            raise DependencyUnavailableError("hotel change stream (Redis) is unavailable") from e

    async def pending(self) -> int:
        """Entries not yet applied (undelivered plus delivered and unacknowledged)."""
        try:
            groups = await self._redis.xinfo_groups(self.stream)
        except ResponseError:
            return 0
        for g in groups:
            name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
            if name == self._group:
                return int(g["pending"]) + int(g.get("lag") or 0)
        return int(await self._redis.xlen(self.stream))

    async def run(self, handler: Handler, *, stop: asyncio.Event) -> None:
        """Apply batches until ``stop`` is set; Redis outages are logged and waited out."""
        loop = asyncio.get_running_loop()
        ready = False
        next_claim = 0.0
        while not stop.is_set():
            try:
                if not ready:
                    await self.ensure_group()
                    ready = True
                if loop.time() >= next_claim:
                    await self._reclaim(handler)
                    next_claim = loop.time() + self._claim_idle_ms / 2000
                response: Any = await self._redis.xreadgroup(
                    self._group, self._consumer, {self.stream: ">"},
                    count=_READ, block=self._block_ms,
                )  # fmt: skip
                entries = [e for _s, es in response or [] for e in es]
                if entries:
                    await self._process(entries, handler)
            except (RedisError, DependencyUnavailableError) as e:
                log.warning("hotel change stream unavailable", error=repr(e))
                ready = False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._block_ms / 1000)

    async def _reclaim(self, handler: Handler) -> None:
        response: Any = await self._redis.xautoclaim(
            self.stream, self._group, self._consumer,
            min_idle_time=self._claim_idle_ms, start_id="0-0", count=_READ,
        )  # fmt: skip
        entries = [(i, raw) for i, raw in response[1] if i is not None and raw is not None]
        if entries:
            await self._process(entries, handler)

    async def _process(self, entries: Sequence[tuple[Any, Any]], handler: Handler) -> None:
        batches: list[ChangeBatch] = []
        ids = []
        for entry_id, raw in entries:
            ids.append(entry_id)
            body = raw.get(b"b", raw.get("b"))
            try:
                batches.append(ChangeBatch.decode(body))
            except ValueError as e:
                log.warning("hotel change entry dead-lettered", error=str(e))
                await self._redis.xadd(self.dlq_stream, {"b": body or b"", "why": str(e)[:200]})
        if batches:
            await handler(batches)  # raises: the entries stay pending and are reclaimed later
        await self._redis.xack(self.stream, self._group, *ids)


class MemoryChangeBus:
    """The same ports in process, for the benchmark's peer and single-process tools."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[ChangeBatch] = asyncio.Queue()

    async def publish(self, batch: ChangeBatch) -> None:
        await self._queue.put(batch)

    async def run(self, handler: Handler, *, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                first = await asyncio.wait_for(self._queue.get(), 0.1)
            except TimeoutError:
                continue
            batch = [first]
            while not self._queue.empty() and len(batch) < _READ:
                batch.append(self._queue.get_nowait())
            await handler(batch)


def received_now() -> float:
    return time.time()
