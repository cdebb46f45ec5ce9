"""Quotes and what surrounds them: agents' booking quotes and travellers' change and
cancellation quotes (Redis), the out-of-band confirmation code's delivery (the sandbox SMS
outbox), and the per-agent rate limit."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from pydantic import BaseModel, ConfigDict
from redis.exceptions import RedisError

from bookings.models import ChangeQuote, Contact, FlightSelection, Traveller
from core.errors import DependencyUnavailableError
from core.redis_conn import RedisClient

RATE_WINDOW_S = 60
CONFIRMED_QUOTE_TTL_S = 24 * 60 * 60


class StoredQuote(BaseModel):
    """An agent's booking quote: what the traveller's code approves (bookings/agents.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    traveller_id: str
    agent_id: str
    selection: FlightSelection
    travellers: tuple[Traveller, ...]
    contact: Contact
    total_paise: int
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class QuoteState:
    quote: StoredQuote
    booking_id: str | None  # set once the traveller's code confirmed it
    code_mac: str | None  # the confirming code's HMAC, so that only it retries the booking


class BookingQuoteStore(Protocol):
    async def put(self, quote_id: str, quote: StoredQuote, *, ttl_s: float) -> None:
        """Keep the quote for `ttl_s`."""
        ...

    async def get(self, quote_id: str) -> QuoteState | None:
        """The quote and whether it was confirmed; None once it expired or never existed."""
        ...

    async def confirmed(self, quote_id: str, *, booking_id: str, code_mac: str) -> None:
        """Mark the quote booked, and keep it a day so that a retried confirm finds it."""
        ...


class RedisBookingQuotes:
    """Booking quotes as Redis hashes (`{ns}:agent-quote:{id}`: the quote, then the booking and
    the confirming code's HMAC)."""

    def __init__(self, *, redis: RedisClient, namespace: str) -> None:
        self._redis = redis
        self._ns = namespace

    def _key(self, quote_id: str) -> str:
        return f"{self._ns}:agent-quote:{quote_id}"

    async def put(self, quote_id: str, quote: StoredQuote, *, ttl_s: float) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._key(quote_id), mapping={"quote": quote.model_dump_json()})
        pipe.expire(self._key(quote_id), max(1, int(ttl_s)))
        await store_call(pipe.execute())

    async def get(self, quote_id: str) -> QuoteState | None:
        raw: dict[bytes, bytes] = await store_call(self._redis.hgetall(self._key(quote_id)))
        if b"quote" not in raw:
            return None
        booking_id, code_mac = raw.get(b"booking_id"), raw.get(b"code_mac")
        return QuoteState(
            quote=StoredQuote.model_validate_json(raw[b"quote"]),
            booking_id=booking_id.decode() if booking_id else None,
            code_mac=code_mac.decode() if code_mac else None,
        )

    async def confirmed(self, quote_id: str, *, booking_id: str, code_mac: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._key(quote_id), mapping={"booking_id": booking_id, "code_mac": code_mac})
        pipe.expire(self._key(quote_id), CONFIRMED_QUOTE_TTL_S)
        await store_call(pipe.execute())


class ChangeQuoteStore(Protocol):
    async def put(self, quote: ChangeQuote) -> None:
        """Keep the quote until it expires."""
        ...

    async def get(self, quote_id: str) -> ChangeQuote | None:
        """The quote, or None once it expired or never existed."""
        ...


class RedisChangeQuotes:
    """Change and cancellation quotes as JSON strings (`{ns}:change-quote:{id}`) that expire
    with the quote."""

    def __init__(self, *, redis: RedisClient, namespace: str) -> None:
        self._redis = redis
        self._ns = namespace

    def _key(self, quote_id: str) -> str:
        return f"{self._ns}:change-quote:{quote_id}"

    async def put(self, quote: ChangeQuote) -> None:
        ttl = (quote.expires_at - dt.datetime.now(dt.UTC)).total_seconds()
        await store_call(
            self._redis.set(self._key(quote.quote_id), quote.model_dump_json(),
                            ex=max(1, int(ttl) + 1))
        )  # fmt: skip

    async def get(self, quote_id: str) -> ChangeQuote | None:
        raw = await store_call(self._redis.get(self._key(quote_id)))
        return None if raw is None else ChangeQuote.model_validate_json(raw)


class CodeNotifier(Protocol):
    async def send(self, *, traveller_id: str, text: str) -> None:
        """Deliver `text` to the traveller on a channel the agent does not control."""
        ...


class SandboxSmsOutbox:
    """The sandbox SMS gateway: messages land on a Redis list per traveller
    (`{ns}:sandbox:outbox:{traveller}`), where the traveller's test app (or a test) reads them.
    A production gateway sends to the phone on the traveller's profile, never to contact
    details an agent supplied, or the agent could confirm its own bookings."""

    def __init__(self, *, redis: RedisClient, namespace: str, keep_s: int = 24 * 60 * 60) -> None:
        self._redis = redis
        self._ns = namespace
        self._keep_s = keep_s

    async def send(self, *, traveller_id: str, text: str) -> None:
        key = f"{self._ns}:sandbox:outbox:{traveller_id}"
        message = orjson.dumps({"channel": "sms", "text": text, "sent_at": time.time()})
        pipe = self._redis.pipeline(transaction=True)
        pipe.rpush(key, message)
        pipe.expire(key, self._keep_s)
        await store_call(pipe.execute())

    async def messages(self, *, traveller_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The latest messages sent to the traveller, oldest first: their sandbox inbox."""
        key = f"{self._ns}:sandbox:outbox:{traveller_id}"
        raw: list[bytes] = await store_call(self._redis.lrange(key, -limit, -1))
        return [orjson.loads(m) for m in raw]


class AgentRateLimit:
    """A fixed window per agent that opens at its first call: SET NX EX creates the counter
    with its expiry in the same transaction as the INCR, so a counter can never outlive it."""

    def __init__(self, *, redis: RedisClient, namespace: str, per_minute: int) -> None:
        self._redis = redis
        self._ns = namespace
        self._per_minute = per_minute

    async def retry_after(self, agent_id: str) -> int | None:
        """Take one call from the agent's allowance; None when allowed, else seconds to wait."""
        key = f"{self._ns}:agent:rate:{agent_id}"  # one allowance for MCP and REST alike
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(key, 0, ex=RATE_WINDOW_S, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, count, ttl = await store_call(pipe.execute())
        return None if int(count) <= self._per_minute else max(1, int(ttl))


async def store_call(pending: Any) -> Any:
    """Await a Redis call of the quote or approval stores; 503 when Redis fails."""
    try:
        return await pending
    except RedisError as e:
        raise DependencyUnavailableError("the quote store is unavailable") from e
