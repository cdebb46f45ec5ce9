"""Authenticating ASR webhooks from telephony providers.

Twilio signs with its own scheme (``verify_twilio_signature``); other providers share a secret
and sign ``"{timestamp}." + body`` with HMAC-SHA256 (``sign_generic`` / ``WebhookVerifier``),
which also refuses replays; ``WebhookDeliveries`` lets a handler claim a delivery id so a
retried transcript is processed once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping

from redis.exceptions import RedisError

from core.errors import (
    ConflictError,
    DependencyUnavailableError,
    InvalidRequestError,
    UnauthorizedError,
)
from core.redis_conn import RedisClient

DELIVERY_TTL_S = 24 * 60 * 60

# ASCII digits only: int() would also take "+1", " 1", "1_0" and non-ASCII digits.
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_PROVIDER = re.compile(r"[a-z0-9_-]{1,32}")


def verify_twilio_signature(
    *, url: str, params: Mapping[str, str], signature: str, auth_token: str
) -> bool:
    """Whether ``signature`` (X-Twilio-Signature) is Twilio's for this request.

    ``url`` must be the full URL Twilio called, query string included, as Twilio saw it (behind a
    proxy, rebuild it from the forwarded headers); ``params`` are the form-encoded POST fields.
    """
    if not signature or not auth_token:
        return False
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(base64.b64encode(digest), signature.encode())


def sign_generic(*, secret: bytes, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"{timestamp}." + body``: what a provider sends and we check."""
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class WebhookVerifier:
    """Checks shared-secret webhook signatures, refuses replays, and dedupes deliveries in Redis."""

    def __init__(
        self,
        *,
        redis: RedisClient,
        secret: bytes,
        tolerance_s: int = 300,
        namespace: str = "yatri",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("webhook secret must not be empty")
        if tolerance_s <= 0:
            raise ValueError("tolerance_s must be positive")
        self._redis = redis
        self._secret = secret
        self._tolerance_s = tolerance_s
        self._namespace = namespace
        self._clock = clock

    async def verify(self, *, timestamp: str, signature: str, body: bytes) -> None:
        """Return if the request is authentic, fresh and not seen before.

        Raises ``UnauthorizedError`` (the detail and ``reason`` say why) or ``ConflictError``
        when the same signed request arrives again within the window.
        """
        if not signature:
            raise UnauthorizedError("webhook signature is missing", reason="missing-signature")
        if not _TIMESTAMP.fullmatch(timestamp):
            raise UnauthorizedError("webhook timestamp is not an integer", reason="bad-timestamp")
        sent_at = int(timestamp)
        expected = sign_generic(secret=self._secret, timestamp=sent_at, body=body)
        # Exact match on lowercase hex, so one request has one signature and one replay key.
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise UnauthorizedError("webhook signature does not match", reason="bad-signature")
        skew = self._clock() - sent_at
        if skew > self._tolerance_s:
            raise UnauthorizedError(
                "webhook timestamp is too old",
                reason="stale-timestamp",
                tolerance_s=self._tolerance_s,
            )
        if skew < -self._tolerance_s:
            raise UnauthorizedError(
                "webhook timestamp is in the future",
                reason="future-timestamp",
                tolerance_s=self._tolerance_s,
            )
        # A timestamp is accepted for 2 * tolerance, so the replay key must live that long.
        key = f"{self._namespace}:webhook:replay:{signature}"
        try:
            first = await self._redis.set(key, 1, nx=True, ex=self._tolerance_s * 2)
        except RedisError as e:
            raise DependencyUnavailableError("webhook replay store is unavailable") from e
        if not first:
            raise ConflictError("webhook request was already received", reason="replay")


class WebhookDeliveries:
    """Provider delivery ids seen in the last 24 h, and the answer given to each, so a retried
    transcript is processed once and its retry gets the first answer again."""

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
