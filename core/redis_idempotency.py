"""The idempotency store on Redis: one string per scoped key, claimed with SET NX."""

from __future__ import annotations

import contextlib

from redis.exceptions import RedisError

from core.errors import DependencyUnavailableError
from core.redis_conn import RedisClient


class RedisIdempotencyStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def claim(self, key: str, record: bytes, *, ttl_s: int) -> tuple[bool, bytes | None]:
        try:
            if await self._redis.set(key, record, nx=True, ex=ttl_s):
                return True, None
            stored = await self._redis.get(key)
        except RedisError as e:
            raise DependencyUnavailableError("idempotency store is unavailable") from e
        return False, stored if isinstance(stored, bytes) else None

    async def put(self, key: str, record: bytes, *, ttl_s: int) -> None:
        try:
            await self._redis.set(key, record, ex=ttl_s)
        except RedisError as e:
            raise DependencyUnavailableError("idempotency store is unavailable") from e

    async def release(self, key: str) -> None:
        with contextlib.suppress(RedisError):
            await self._redis.delete(key)
