"""Approval codes in Redis: each pending code a hash `{ns}:approval:{code id}` (the code's
HMAC, the subject, wrong attempts) that expires with the code, and the daily count per
traveller and action `{ns}:approval:issued:{traveller}:{action}:{IST date}`, kept two days."""

from __future__ import annotations

import datetime as dt

from bookings.consent import CodeAttempt
from bookings.quotes import store_call
from core.redis_conn import RedisClient

_ISSUED_KEEP_S = 2 * 24 * 3600


class RedisApprovalStore:
    def __init__(self, *, redis: RedisClient, namespace: str) -> None:
        self._redis = redis
        self._ns = namespace

    def _key(self, code_id: str) -> str:
        return f"{self._ns}:approval:{code_id}"

    async def count_issued(self, *, traveller_id: str, action: str, day: dt.date) -> int:
        key = f"{self._ns}:approval:issued:{traveller_id}:{action}:{day.isoformat()}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, _ISSUED_KEEP_S)
        count, _ = await store_call(pipe.execute())
        return int(count)

    async def put(self, code_id: str, *, code_mac: str, subject: str, ttl_s: int) -> None:
        key = self._key(code_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping={"mac": code_mac, "subject": subject, "attempts": 0})
        pipe.expire(key, ttl_s)
        await store_call(pipe.execute())

    async def attempt(self, code_id: str) -> CodeAttempt | None:
        key = self._key(code_id)
        raw: dict[bytes, bytes] = await store_call(self._redis.hgetall(key))
        if b"mac" not in raw:
            return None
        attempts = int(await store_call(self._redis.hincrby(key, "attempts", 1)))
        return CodeAttempt(code_mac=raw[b"mac"].decode(), subject=raw[b"subject"].decode(),
                           attempts=attempts)  # fmt: skip

    async def delete(self, code_id: str) -> None:
        await store_call(self._redis.delete(self._key(code_id)))
