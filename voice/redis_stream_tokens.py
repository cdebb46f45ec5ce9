"""Stream tokens in Redis (`{ns}:voice:token:{token}`, consumed with GETDEL), the traveller
each voice session is bound to (`{ns}:voice:owner:{session}`), and the provider calls already
answered (`{ns}:voice:answered:{provider}:{call id}`)."""

from __future__ import annotations

import secrets
from dataclasses import asdict

import orjson
from redis.exceptions import RedisError

from core.errors import DependencyUnavailableError
from core.redis_conn import RedisClient
from voice.stream_tokens import StreamGrant, StreamKind

# 32 random bytes, URL-safe base64: 43 characters.
_TOKEN_BYTES = 32
_TOKEN_MAX_CHARS = 64


class StreamTokens:
    """The stream token store (`voice.stream_tokens.StreamTokenStore`) in Redis."""

    def __init__(self, *, redis: RedisClient, ttl_s: float, namespace: str = "yatri") -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self._redis = redis
        self._ttl_ms = int(ttl_s * 1000)
        self._prefix = f"{namespace}:voice:"

    async def mint(self, grant: StreamGrant) -> str:
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        try:
            await self._redis.set(
                self._prefix + "token:" + token, orjson.dumps(asdict(grant)), px=self._ttl_ms
            )
        except RedisError as e:
            raise DependencyUnavailableError("voice token store is unavailable") from e
        return token

    async def redeem(self, token: str, *, kind: StreamKind) -> StreamGrant | None:
        """The grant of an unused, unexpired token of `kind`, consumed; None otherwise."""
        if not token or len(token) > _TOKEN_MAX_CHARS or not token.isascii():
            return None
        try:
            raw = await self._redis.getdel(self._prefix + "token:" + token)
        except RedisError as e:
            raise DependencyUnavailableError("voice token store is unavailable") from e
        if raw is None:
            return None
        grant = StreamGrant(**orjson.loads(raw))
        return grant if grant.kind == kind else None

    async def bind_owner(self, *, session_id: str, owner: str | None, ttl_s: float) -> bool:
        """Bind a voice session to the traveller who first opens it (`owner`), and say whether
        `owner` may open it: a session bound to a traveller is theirs alone; a guest (None)
        may open only a session no traveller holds."""
        key = self._prefix + "owner:" + session_id
        try:
            if owner is None:
                return await self._redis.get(key) is None
            bound = await self._redis.set(key, owner, nx=True, get=True, ex=int(ttl_s))
        except RedisError as e:
            raise DependencyUnavailableError("voice token store is unavailable") from e
        if bound is None:
            return True
        return (bound.decode() if isinstance(bound, bytes) else str(bound)) == owner

    async def first_answer(self, *, provider: str, call_id: str, ttl_s: float) -> bool:
        """True the first time a provider's call asks for its stream; a replayed answer
        webhook gets False and no second token."""
        try:
            first = await self._redis.set(
                f"{self._prefix}answered:{provider}:{call_id}", 1, nx=True, ex=int(ttl_s)
            )
        except RedisError as e:
            raise DependencyUnavailableError("voice token store is unavailable") from e
        return bool(first)
