"""Authenticating ASR webhooks from telephony providers.

Twilio signs with its own scheme (``verify_twilio_signature``); other providers share a secret
and sign ``"{timestamp}." + body`` with HMAC-SHA256 (``sign_generic`` / ``WebhookVerifier``),
which also refuses replays through its ``ReplayNonces``; ``DeliveryRecords`` lets a handler
claim a delivery by its ids (the provider's delivery id and a hash of the signed content,
``signed_content_id``) so a retried or replayed transcript is processed once. Exotel's streams
present Basic credentials (``basic_credentials_match``). The Redis stores behind both ports are
voice/redis_webhooks.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from core.errors import ConflictError, UnauthorizedError

# ASCII digits only: int() would also take "+1", " 1", "1_0" and non-ASCII digits.
_TIMESTAMP = re.compile(r"[0-9]{1,15}")


def verify_twilio_signature(
    *, url: str, params: Mapping[str, str], signature: str, auth_token: str
) -> bool:
    """Whether ``signature`` (X-Twilio-Signature) is Twilio's for this request.

    ``url`` must be the full URL Twilio called, query string included, as Twilio saw it (behind a
    proxy, rebuild it from the forwarded headers); ``params`` are the form-encoded POST fields.
    """
    if not signature or not auth_token:
        return False
    digest = hmac.new(auth_token.encode(), _twilio_payload(url, params), hashlib.sha1).digest()
    return hmac.compare_digest(base64.b64encode(digest), signature.encode())


def check_twilio_request(
    *, url: str, body: bytes, signature: str, auth_token: str
) -> dict[str, str]:
    """The form fields of a Twilio request whose X-Twilio-Signature is Twilio's; else
    ``UnauthorizedError``. Behind a proxy, ``url`` must be the public URL Twilio called."""
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if not verify_twilio_signature(url=url, params=params, signature=signature,
                                   auth_token=auth_token):  # fmt: skip
        raise UnauthorizedError("X-Twilio-Signature does not match", reason="bad-signature")
    return params


def _twilio_payload(url: str, params: Mapping[str, str]) -> bytes:
    return (url + "".join(name + params[name] for name in sorted(params))).encode()


def signed_content_id(content: bytes) -> str:
    """A delivery id for what a signature covers: the same signed request, whatever ids its
    provider put beside the signature (Twilio's idempotency token is not signed), has one."""
    return "sha256:" + hashlib.sha256(content).hexdigest()


def twilio_signed_content(*, url: str, params: Mapping[str, str]) -> bytes:
    """What X-Twilio-Signature covers: the URL and the sorted form fields."""
    return _twilio_payload(url, params)


# Yatri's TwiML gives each <Gather> an action URL of its own, so two turns that sound the same
# in one call are different signed requests, and an old one is refused when replayed.
TWILIO_TURN_PARAM = "yatri_turn"
TWILIO_TURN_MAX_AGE_S = 3600
_TURN = re.compile(r"([0-9]{1,15})\.[0-9a-f]{16}")


def twilio_turn_url(url: str, *, now: float) -> str:
    """``url`` with a fresh turn parameter (issue time and a nonce) in place of any old one."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k != TWILIO_TURN_PARAM]  # fmt: skip
    query.append((TWILIO_TURN_PARAM, f"{int(now)}.{secrets.token_hex(8)}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def twilio_turn_age_s(url: str, *, now: float) -> float | None:
    """How long ago Yatri issued the turn parameter of ``url``; None when it has none."""
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key == TWILIO_TURN_PARAM and (match := _TURN.fullmatch(value)):
            return now - int(match.group(1))
    return None


def basic_credentials_match(authorization: str, *, expected: str) -> bool:
    """Whether an ``Authorization: Basic`` header carries ``expected`` ("user:password")."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic" or not expected:
        return False
    try:
        presented = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(presented, expected.encode())


def sign_generic(*, secret: bytes, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"{timestamp}." + body``: what a provider sends and we check."""
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class ReplayNonces(Protocol):
    async def first_use(self, nonce: str, *, ttl_s: int) -> bool:
        """True the first time `nonce` is presented within `ttl_s`, else False."""
        ...


class DeliveryRecords(Protocol):
    """Provider delivery ids seen lately, and the answer given to each, so a retried
    transcript is processed once and its retry gets the first answer again."""

    async def claim_all(self, *, provider: str, delivery_ids: Sequence[str]) -> str | None:
        """Claim every id of one delivery: None when none was seen before; else the id that
        was (the claims made here are given back), whose answer the handler returns."""
        ...

    async def release_all(self, *, provider: str, delivery_ids: Sequence[str]) -> None:
        """Forget the claims of a delivery whose processing failed, so a retry is processed."""
        ...

    async def record_all(
        self, *, provider: str, delivery_ids: Sequence[str], answer: bytes
    ) -> None:
        """Keep the answer given to a claimed delivery under each of its ids, for its retries."""
        ...

    async def answer(self, *, provider: str, delivery_id: str) -> bytes | None:
        """The answer recorded for a delivery; None while the first delivery is still running."""
        ...


class WebhookVerifier:
    """Checks shared-secret webhook signatures and refuses replays."""

    def __init__(
        self,
        *,
        replays: ReplayNonces,
        secret: bytes,
        tolerance_s: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("webhook secret must not be empty")
        if tolerance_s <= 0:
            raise ValueError("tolerance_s must be positive")
        self._replays = replays
        self._secret = secret
        self._tolerance_s = tolerance_s
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
        # A timestamp is accepted for 2 * tolerance, so the nonce must be kept that long.
        if not await self._replays.first_use(signature, ttl_s=self._tolerance_s * 2):
            raise ConflictError("webhook request was already received", reason="replay")
