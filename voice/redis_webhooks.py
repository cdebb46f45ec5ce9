"""The webhook stores in Redis: replay nonces (`{ns}:webhook:replay:{nonce}`) and delivery
records (`{ns}:webhook:delivery:{provider}:{delivery id}`, kept 24 h)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from redis.exceptions import RedisError

from core.errors import DependencyUnavailableError, InvalidRequestError
from core.redis_conn import RedisClient

DELIVERY_TTL_S = 24 * 60 * 60

_PROVIDER = re.compile(r"[a-z0-9_-]{1,32}")


class RedisReplayNonces:
    """The replay nonces of `voice.webhooks.WebhookVerifier`: SET NX with the nonce's TTL."""

    def __init__(self, *, redis: RedisClient, namespace: str = "yatri") -> None:
        self._redis = redis
        self._namespace = namespace

    async def first_use(self, nonce: str, *, ttl_s: int) -> bool:
        key = f"{self._namespace}:webhook:replay:{nonce}"
        try:
            return bool(await self._redis.set(key, 1, nx=True, ex=ttl_s))
        except RedisError as e:
            raise DependencyUnavailableError("webhook replay store is unavailable") from e


class WebhookDeliveries:
    """Delivery records (`voice.webhooks.DeliveryRecords`) in Redis: provider delivery ids seen
    in the last 24 h, and the answer given to each."""

    def __init__(self, *, redis: RedisClient, namespace: str = "yatri") -> None:
        self._redis = redis
        self._namespace = namespace

    async def claim(self, *, provider: str, delivery_id: str) -> bool:
        """True the first time ``delivery_id`` from ``provider`` is claimed in 24 h, else False."""
        try:
            return bool(
                await self._redis.set(
                    self._key(provider, delivery_id), b"", nx=True, ex=DELIVERY_TTL_S
                )
            )
        except RedisError as e:
            raise DependencyUnavailableError("webhook delivery store is unavailable") from e

    async def claim_all(self, *, provider: str, delivery_ids: Sequence[str]) -> str | None:
        """Claim every id of one delivery: None when none was seen before; else the id that
        was (the claims made here are given back), whose answer the handler returns."""
        claimed: list[str] = []
        for delivery_id in delivery_ids:
            if await self.claim(provider=provider, delivery_id=delivery_id):
                claimed.append(delivery_id)
                continue
            await self.release_all(provider=provider, delivery_ids=claimed)
            return delivery_id
        return None

    async def release_all(self, *, provider: str, delivery_ids: Sequence[str]) -> None:
        for delivery_id in delivery_ids:
            await self.release(provider=provider, delivery_id=delivery_id)

    async def record_all(
        self, *, provider: str, delivery_ids: Sequence[str], answer: bytes
    ) -> None:
        for delivery_id in delivery_ids:
            await self.record(provider=provider, delivery_id=delivery_id, answer=answer)

    async def release(self, *, provider: str, delivery_id: str) -> None:
        """Forget a claim whose processing failed, so the provider's retry is processed."""
        try:
            await self._redis.delete(self._key(provider, delivery_id))
        except RedisError as e:
            raise DependencyUnavailableError("webhook delivery store is unavailable") from e

    async def record(self, *, provider: str, delivery_id: str, answer: bytes) -> None:
        """Keep the answer given to a claimed delivery, for its retries."""
        try:
            await self._redis.set(self._key(provider, delivery_id), answer, ex=DELIVERY_TTL_S)
        except RedisError as e:
            raise DependencyUnavailableError("webhook delivery store is unavailable") from e

    async def answer(self, *, provider: str, delivery_id: str) -> bytes | None:
        """The answer recorded for a delivery; None while the first delivery is still running."""
        try:
            raw = await self._redis.get(self._key(provider, delivery_id))
        except RedisError as e:
            raise DependencyUnavailableError("webhook delivery store is unavailable") from e
        if not raw:
            return None
        return raw.encode() if isinstance(raw, str) else bytes(raw)

    def _key(self, provider: str, delivery_id: str) -> str:
        # The provider is ours and has no ':', so "a" + "b:c" cannot collide with "a:b" + "c".
        if not _PROVIDER.fullmatch(provider):
            raise ValueError(f"provider must match {_PROVIDER.pattern}")
        if not delivery_id:
            raise InvalidRequestError("webhook delivery id is missing")
        return f"{self._namespace}:webhook:delivery:{provider}:{delivery_id}"
