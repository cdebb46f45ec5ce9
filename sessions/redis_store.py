"""Conversations in Redis: one JSON value per session, with a TTL refreshed on every turn."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import ValidationError
from redis.exceptions import RedisError

from core.errors import ConflictError, DependencyUnavailableError
from core.redis_conn import RedisClient
from sessions.store import Conversation, SessionUnreadableError

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisSessionStore:
    def __init__(
        self,
        *,
        redis: RedisClient,
        ttl_s: int,
        prefix: str = "yatri:session:",
        lock_ttl_ms: int = 15_000,
        lock_wait_s: float = 5.0,
    ) -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._prefix = prefix
        self._lock_ttl_ms = lock_ttl_ms
        self._lock_wait_s = lock_wait_s

    def _key(self, session_id: str) -> str:
        # Hash tag keeps a session's keys on one cluster slot.
        return f"{self._prefix}{{{session_id}}}"

    async def load(self, session_id: str) -> Conversation | None:
        try:
            raw = await self._redis.get(self._key(session_id))
        except RedisError as e:
            raise DependencyUnavailableError("conversation store is unavailable") from e
        if raw is None:
            return None
        try:
            return Conversation.model_validate_json(raw)
        except ValidationError as e:
            raise SessionUnreadableError(session_id) from e

    async def save(self, conversation: Conversation) -> None:
        try:
            await self._redis.set(
                self._key(conversation.session_id), conversation.model_dump_json(), ex=self._ttl_s
            )
        except RedisError as e:
            raise DependencyUnavailableError("conversation store is unavailable") from e

    @asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        key = self._key(session_id) + ":lock"
        token = secrets.token_hex(8)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_wait_s
        try:
            while not await self._redis.set(key, token, nx=True, px=self._lock_ttl_ms):
                if loop.time() > deadline:
                    raise ConflictError(
                        "another turn of this conversation is still being answered",
                        session_id=session_id,
                    )
                await asyncio.sleep(0.02)
        except RedisError as e:
            raise DependencyUnavailableError("conversation store is unavailable") from e
        try:
            yield
        finally:
            with contextlib.suppress(RedisError):  # the lock's TTL frees it
                await self._redis.eval(_RELEASE, 1, key, token)


class RedisCallDirectory:
    """The call directory in Redis: call id -> session id (`{prefix}{provider}:{call id}`),
    expiring with the conversation."""

    def __init__(self, *, redis: RedisClient, ttl_s: int, prefix: str = "yatri:call:") -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._prefix = prefix

    async def session_for(self, *, provider: str, call_id: str, proposed: str) -> str:
        """The session already bound to this call, or `proposed`, bound now (first one wins)."""
        key = f"{self._prefix}{provider}:{call_id}"
        try:
            # SET NX GET: one atomic step answers "who was here first" (None: we were).
            bound = await self._redis.set(key, proposed, nx=True, get=True, ex=self._ttl_s)
        except RedisError as e:
            raise DependencyUnavailableError("call directory is unavailable") from e
        if bound is None:
            return proposed
        return bound.decode() if isinstance(bound, bytes) else str(bound)
