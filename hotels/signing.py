"""Signing of hotel supplier pushes to `POST /v1/hotels/webhooks/{supplier}`.

The scheme is the ASR webhooks' shared-secret one (`voice.webhooks.sign_generic`): hex
HMAC-SHA256 of ``"{timestamp}." + body`` in `X-Yatri-Signature`, the Unix time in
`X-Yatri-Timestamp`. The route checks it with `voice.webhooks.WebhookVerifier` built with
`supplier_secret(...)` for the supplier in the path (`verifier_for` below), which also refuses
a timestamp outside the window and a replay of the same signed request. Each supplier has its
own secret, derived from the app's secret key, so one supplier's key cannot sign for another.
"""

from __future__ import annotations

import hashlib
import hmac

from core.redis_conn import RedisClient
from voice.redis_webhooks import RedisReplayNonces
from voice.webhooks import WebhookVerifier, sign_generic

TIMESTAMP_HEADER = "X-Yatri-Timestamp"
SIGNATURE_HEADER = "X-Yatri-Signature"
TOLERANCE_S = 300


def supplier_secret(secret_key: bytes, supplier: str) -> bytes:
    """The push secret of one supplier: HMAC-SHA256(secret_key, "hotel-supplier:" + name)."""
    if not secret_key:
        raise ValueError("the app secret key must not be empty")
    return hmac.new(secret_key, f"hotel-supplier:{supplier}".encode(), hashlib.sha256).digest()


def sign_push(secret: bytes, body: bytes, now: float) -> dict[str, str]:
    """The headers a supplier sends with `body` at time `now` (Unix seconds)."""
    timestamp = int(now)
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign_generic(secret=secret, timestamp=timestamp, body=body),
    }


def verifier_for(
    redis: RedisClient,
    secret_key: bytes,
    *,
    supplier: str,
    namespace: str = "yatri",
    tolerance_s: int = TOLERANCE_S,
) -> WebhookVerifier:
    """The verifier of one supplier's pushes; its replay keys live beside the ASR webhooks'."""
    replays = RedisReplayNonces(redis=redis, namespace=f"{namespace}:hotels:{supplier}")
    return WebhookVerifier(replays=replays, secret=supplier_secret(secret_key, supplier),
                           tolerance_s=tolerance_s)  # fmt: skip
