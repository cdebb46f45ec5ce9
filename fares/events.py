"""Fare-change events on a Redis Stream, and the pub/sub fan-out that drops every process's L1.

A consumer group delivers each event to one process at least once. The handler runs before the
entry is acknowledged, so a failure leaves it pending; XAUTOCLAIM hands entries idle longer than
``claim_idle_ms`` (a failed handler, a dead consumer) to a live consumer, and an entry delivered
more than ``max_deliveries`` times, or one that does not parse, goes to a dead-letter stream.
An ``applied`` key per event id, written after the handler succeeds, turns redeliveries and
republished events into no-ops.

Mapping to Kafka, should the stream be replaced: the stream becomes a topic partitioned by
``route_key`` so that one route's events stay ordered; the consumer group becomes a Kafka consumer
group; XAUTOCLAIM's reassignment of a dead consumer's entries is what partition rebalancing does;
the DLQ stream becomes a DLQ topic; the ``applied`` keys make the consumer idempotent, as they must
be under Kafka's at-least-once delivery. Callers depend only on ``FareEventPublisher`` and
``FareEventConsumer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from redis.exceptions import RedisError, ResponseError
from redis.typing import EncodableT, FieldT

from core.errors import DependencyUnavailableError
from core.logging import get_logger
from core.redis_conn import RedisClient
from core.telemetry import FARE_EVENT_APPLY, FARE_EVENTS, FARE_EVENTS_DLQ, FARE_EVENTS_LAG

log = get_logger(__name__)

L1_CHANNEL = "yatri:fares:l1-invalidate"
ALL_ROUTES = "*"
"""Sent to an L1 callback after a resubscription: messages may have been missed, drop all of L1."""

_APPLIED_PREFIX = "yatri:fares:applied:"
_BATCH = 100
_REQUIRED = ("event_id", "origin", "destination", "date", "published_at")

Fields = Mapping[bytes | str, bytes | str]


def route_key(*, origin: str, destination: str, date: dt.date | None) -> str:
    """``DEL-BOM:2026-12-01``, or ``DEL-BOM:*`` for every date; a prefix of ``FareQuery.key``."""
    return f"{origin}-{destination}:{date.isoformat() if date else '*'}"


@dataclass(frozen=True, slots=True)
class FareChangeEvent:
    event_id: str
    origin: str
    destination: str
    date: dt.date | None
    reason: str
    published_at: dt.datetime

    def __post_init__(self) -> None:
        if self.published_at.utcoffset() is None:
            raise ValueError("published_at has no time zone")

    @classmethod
    def new(
        cls, *, origin: str, destination: str, date: dt.date | None, reason: str
    ) -> FareChangeEvent:
        return cls(
            event_id=uuid.uuid4().hex,
            origin=origin,
            destination=destination,
            date=date,
            reason=reason,
            published_at=dt.datetime.now(dt.UTC),
        )

    @property
    def route_key(self) -> str:
        return route_key(origin=self.origin, destination=self.destination, date=self.date)

    def to_fields(self) -> dict[str, str]:
        return {
            "event_id": self.event_id,
            "origin": self.origin,
            "destination": self.destination,
            "date": self.date.isoformat() if self.date else "*",
            "reason": self.reason,
            "published_at": self.published_at.isoformat(),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> FareChangeEvent:
        """Parse a stream entry; ``ValueError`` says what is wrong with a malformed one."""
        missing = [name for name in _REQUIRED if not fields.get(name)]
        if missing:
            raise ValueError(f"missing fields: {', '.join(missing)}")
        raw_date = fields["date"]
        return cls(
            event_id=fields["event_id"],
            origin=fields["origin"],
            destination=fields["destination"],
            date=None if raw_date == "*" else dt.date.fromisoformat(raw_date),
            reason=fields.get("reason", ""),
            published_at=dt.datetime.fromisoformat(fields["published_at"]),
        )


Handler = Callable[[FareChangeEvent], Awaitable[None]]


class FareEventPublisher(Protocol):
    async def publish(self, event: FareChangeEvent) -> None: ...


class FareEventConsumer(Protocol):
    async def run(self, handler: Handler, *, stop: asyncio.Event) -> None: ...


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode(raw: Fields) -> dict[str, str]:
    try:
        return {_text(k): _text(v) for k, v in raw.items()}
    except UnicodeDecodeError as e:
        raise ValueError("entry is not UTF-8") from e


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class RedisFareEvents:
    """Both ports over one Redis Stream and consumer group."""

    def __init__(
        self,
        *,
        redis: RedisClient,
        consumer: str,
        stream: str = "yatri:fares:events",
        group: str = "fare-invalidators",
        dlq_stream: str = "yatri:fares:events:dlq",
        max_deliveries: int = 5,
        claim_idle_ms: int = 5_000,
        block_ms: int = 200,
        maxlen: int = 100_000,
        applied_ttl_s: int = 86_400,
        handler_timeout_s: float = 5.0,
    ) -> None:
        self._redis = redis
        self._consumer = consumer
        self._stream = stream
        self._group = group
        self._dlq_stream = dlq_stream
        self._max_deliveries = max_deliveries
        self._claim_idle_ms = claim_idle_ms
        self._block_ms = block_ms
        self._maxlen = maxlen
        self._applied_ttl_s = applied_ttl_s
        self._handler_timeout_s = handler_timeout_s

    async def publish(self, event: FareChangeEvent) -> None:
        fields: dict[FieldT, EncodableT] = dict(event.to_fields().items())
        await self._redis.xadd(self._stream, fields, maxlen=self._maxlen, approximate=True)

    async def ensure_group(self, *, start_id: str = "0") -> None:
        """Create the group; from "0" so events published before the first consumer still apply."""
        try:
            await self._redis.xgroup_create(self._stream, self._group, id=start_id, mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise DependencyUnavailableError("cannot create the fare event group") from e
        except RedisError as e:
            raise DependencyUnavailableError("fare event stream (Redis) is unavailable") from e

    async def lag(self) -> int:
        """Entries the group has not yet applied: never delivered plus delivered but unacked."""
        try:
            groups = await self._redis.xinfo_groups(self._stream)
        except ResponseError as e:
            if "no such key" not in str(e):
                raise
            groups = []  # nothing was ever published
        group = next((g for g in groups if _text(g["name"]) == self._group), None)
        if group is None:
            lag = int(await self._redis.xlen(self._stream))
        else:
            lag = int(group["pending"]) + await self._undelivered(group)
        FARE_EVENTS_LAG.set(lag)
        return lag

    async def _undelivered(self, group: Mapping[str, Any]) -> int:
        if group.get("lag") is not None:
            return int(group["lag"])
        # Redis leaves lag unknown after XDEL or an arbitrary start id; count what is left instead.
        after = "(" + _text(group["last-delivered-id"])
        left = await self._redis.xrange(self._stream, min=after, max="+", count=self._maxlen)
        return len(left or [])

    async def dlq_size(self) -> int:
        size = int(await self._redis.xlen(self._dlq_stream))
        FARE_EVENTS_DLQ.set(size)
        return size

    async def run(self, handler: Handler, *, stop: asyncio.Event) -> None:
        """Apply events until ``stop`` is set. Redis outages are logged and waited out."""
        loop = asyncio.get_running_loop()
        group_ready = False
        next_claim = 0.0
        while not stop.is_set():
            try:
                if not group_ready:
                    await self.ensure_group()
                    group_ready = True
                if loop.time() >= next_claim:
                    await self._reclaim(handler, stop=stop)
                    await self.lag()
                    await self.dlq_size()
                    # Half the idle time: a failed entry is retried within 1.5x claim_idle_ms.
                    next_claim = loop.time() + self._claim_idle_ms / 2000
                for entry_id, raw in await self._read_new():
                    await self._process(entry_id, raw, handler, deliveries=1)
            except (RedisError, DependencyUnavailableError) as e:
                log.warning("fare event stream unavailable", stream=self._stream, error=repr(e))
                group_ready = False  # NOGROUP if the stream was deleted meanwhile
                await _sleep_or_stop(stop, self._block_ms / 1000)

    async def _read_new(self) -> list[tuple[bytes | str, Fields]]:
        response: Any = await self._redis.xreadgroup(
            self._group,
            self._consumer,
            {self._stream: ">"},
            count=_BATCH,
            block=self._block_ms,
        )
        return [entry for _stream, entries in response or [] for entry in entries]

    async def _reclaim(self, handler: Handler, *, stop: asyncio.Event) -> None:
        cursor: bytes | str = "0-0"
        while not stop.is_set():
            response: Any = await self._redis.xautoclaim(
                self._stream,
                self._group,
                self._consumer,
                min_idle_time=self._claim_idle_ms,
                start_id=cursor,
                count=_BATCH,
            )
            cursor, entries = response[0], response[1]
            for entry_id, raw in entries:
                if entry_id is None or raw is None:  # trimmed away; Redis 7 drops it from the PEL
                    continue
                deliveries = await self._deliveries(entry_id)
                await self._process(entry_id, raw, handler, deliveries=deliveries)
            if _text(cursor) == "0-0":
                return

    async def _deliveries(self, entry_id: bytes | str) -> int:
        pending = await self._redis.xpending_range(
            self._stream, self._group, min=entry_id, max=entry_id, count=1
        )
        return int(pending[0]["times_delivered"]) if pending else 1

    async def _process(
        self, entry_id: bytes | str, raw: Fields, handler: Handler, *, deliveries: int
    ) -> None:
        try:
            event = FareChangeEvent.from_fields(_decode(raw))
        except ValueError as e:
            await self._dead_letter(entry_id, raw, reason=f"malformed: {e}", deliveries=deliveries)
            return
        applied_key = _APPLIED_PREFIX + event.event_id
        if await self._redis.exists(applied_key):
            FARE_EVENTS.labels("duplicate").inc()
            await self._redis.xack(self._stream, self._group, entry_id)
            return
        if deliveries > self._max_deliveries:
            await self._dead_letter(entry_id, raw, reason="max deliveries", deliveries=deliveries)
            return
        try:
            async with asyncio.timeout(self._handler_timeout_s):
                await handler(event)
        except Exception:
            # Left pending on purpose: XAUTOCLAIM retries it, then dead-letters it.
            FARE_EVENTS.labels("retried").inc()
            log.warning(
                "fare event handler failed",
                event_id=event.event_id,
                entry_id=_text(entry_id),
                deliveries=deliveries,
                exc_info=True,
            )
            return
        first = await self._redis.set(applied_key, "1", nx=True, ex=self._applied_ttl_s)
        await self._redis.xack(self._stream, self._group, entry_id)
        if first:
            FARE_EVENTS.labels("applied").inc()
            age = dt.datetime.now(dt.UTC) - event.published_at
            FARE_EVENT_APPLY.observe(max(age.total_seconds(), 0.0))
        else:  # another consumer applied a republished copy at the same moment
            FARE_EVENTS.labels("duplicate").inc()

    async def _dead_letter(
        self, entry_id: bytes | str, raw: Fields, *, reason: str, deliveries: int
    ) -> None:
        fields: dict[FieldT, EncodableT] = dict(raw.items())
        fields |= {
            "dlq_reason": reason,
            "dlq_entry_id": entry_id,
            "dlq_stream": self._stream,
            "dlq_deliveries": str(deliveries),
        }
        await self._redis.xadd(self._dlq_stream, fields, maxlen=self._maxlen, approximate=True)
        await self._redis.xack(self._stream, self._group, entry_id)
        FARE_EVENTS.labels("dead_lettered").inc()
        log.warning(
            "fare event dead-lettered",
            entry_id=_text(entry_id),
            reason=reason,
            deliveries=deliveries,
        )


class L1Broadcast:
    """Tells every process to drop L1 entries of a route. Pub/sub is at-most-once, so after a
    resubscription the callback gets ``ALL_ROUTES``: anything missed meanwhile is dropped too."""

    def __init__(
        self, *, redis: RedisClient, channel: str = L1_CHANNEL, reconnect_s: float = 0.5
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._reconnect_s = reconnect_s

    async def publish(self, route_key: str) -> None:
        await self._redis.publish(self._channel, route_key)

    async def run(
        self,
        callback: Callable[[str], None],
        *,
        stop: asyncio.Event,
        ready: asyncio.Event | None = None,
    ) -> None:
        subscribed_before = False
        while not stop.is_set():
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    while not stop.is_set():
                        message = await pubsub.get_message(timeout=0.2)
                        if message is None:
                            continue
                        if message["type"] == "message":
                            self._deliver(callback, _text(message["data"]))
                        elif message["type"] == "subscribe":
                            # A second confirmation means redis-py reconnected and resubscribed.
                            if subscribed_before:
                                self._deliver(callback, ALL_ROUTES)
                            subscribed_before = True
                            if ready is not None:
                                ready.set()
            except RedisError as e:
                log.warning("l1 broadcast unavailable", channel=self._channel, error=repr(e))
                await _sleep_or_stop(stop, self._reconnect_s)

    def _deliver(self, callback: Callable[[str], None], route_key: str) -> None:
        try:
            callback(route_key)
        except Exception:
            # One bad callback must not end invalidation for the whole process.
            log.exception("l1 invalidation callback failed", route_key=route_key)
