"""Answering a provider's call webhook: check that the provider signed it, issue the stream
token for that call, and write the document that connects the call to Yatri's stream.

Plivo signs its answer URL with X-Plivo-Signature-V3 (HMAC-SHA256 of the URL, the sorted
POST fields and the nonce, keyed by the auth token); Vonage with a signed JWT (HS256 under the
account's signature secret, the body's SHA-256 as `payload_hash`). Each call is answered once:
a replayed answer gets no second token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from xml.sax.saxutils import escape, quoteattr

import orjson

from core.errors import ConflictError, UnauthorizedError
from sessions.store import CallDirectory
from voice.plivo import header_token
from voice.stream_tokens import StreamGrant, StreamKind, StreamTokenStore

# A Vonage token older than this is refused (Vonage signs each request as it sends it).
VONAGE_MAX_AGE_S = 300.0


async def grant_stream(
    *,
    tokens: StreamTokenStore,
    calls: CallDirectory,
    provider: StreamKind,
    call_id: str,
    caller: str | None,
    proposed_session: str,
    ttl_s: float,
) -> tuple[str, str]:
    """(token, session id) for the first answer of `call_id`; ConflictError for a replay."""
    if not await tokens.first_answer(provider=provider, call_id=call_id, ttl_s=ttl_s):
        raise ConflictError("this call was already connected to its stream", reason="replay")
    session_id = await calls.session_for(
        provider=provider, call_id=call_id, proposed=proposed_session
    )
    grant = StreamGrant(kind=provider, session_id=session_id, caller=caller, call_id=call_id)
    return await tokens.mint(grant), session_id


def twilio_stream_twiml(*, stream_url: str, token: str) -> str:
    """TwiML connecting the call to its media stream with the token as a parameter (Twilio
    drops a query string from a stream URL)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        f"<Stream url={quoteattr(stream_url)}>"
        f'<Parameter name="token" value={quoteattr(token)}/>'
        "</Stream></Connect></Response>"
    )


# --- Plivo ------------------------------------------------------------------------------------


def plivo_signature(*, url: str, params: Mapping[str, str], nonce: str, auth_token: str) -> str:
    """X-Plivo-Signature-V3 of a POST to `url` with form fields `params`."""
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    query = "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(parts.query, keep_blank_values=True)))
    if query or params:
        base += "?" + query
    if query and params:
        base += "."
    signed = base + "".join(name + params[name] for name in sorted(params)) + "." + nonce
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def check_plivo_request(
    *, url: str, body: bytes, nonce: str, signature: str, auth_token: str
) -> dict[str, str]:
    """The form fields of a Plivo POST whose X-Plivo-Signature-V3 is Plivo's (the header may
    list several, one per active auth token); else UnauthorizedError."""
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if nonce and signature and auth_token:
        expected = plivo_signature(url=url, params=params, nonce=nonce, auth_token=auth_token)
        if any(hmac.compare_digest(expected, s.strip()) for s in signature.split(",")):
            return params
    raise UnauthorizedError("X-Plivo-Signature-V3 does not match", reason="bad-signature")


def plivo_stream_xml(*, stream_url: str, token: str) -> str:
    """Plivo XML connecting the call to a two-way μ-law stream that carries the token."""
    attributes = (
        'bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000" '
        f"extraHeaders={quoteattr('token=' + header_token(token))}"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        f"<Stream {attributes}>{escape(stream_url)}</Stream></Response>"
    )


# --- Vonage -----------------------------------------------------------------------------------


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def check_vonage_request(
    *, authorization: str, body: bytes, secret: str, now: float | None = None
) -> dict[str, Any]:
    """The claims of a Vonage signed-webhook JWT (`Authorization: Bearer ...`, HS256 under the
    signature secret, fresh, its `payload_hash` the body's SHA-256); else UnauthorizedError."""
    scheme, _, token = authorization.partition(" ")
    parts = token.strip().split(".")
    if scheme.lower() != "bearer" or len(parts) != 3 or not secret:
        raise UnauthorizedError("a signed Vonage JWT is required", reason="bad-signature")
    signed = f"{parts[0]}.{parts[1]}".encode()
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    try:
        header = orjson.loads(_b64url(parts[0]))
        claims = orjson.loads(_b64url(parts[1]))
        presented = _b64url(parts[2])
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as e:
        raise UnauthorizedError("the Vonage JWT is malformed", reason="bad-signature") from e
    if (
        not isinstance(header, dict)
        or header.get("alg") != "HS256"
        or not isinstance(claims, dict)
        or not hmac.compare_digest(expected, presented)
    ):
        raise UnauthorizedError("the Vonage JWT signature does not match", reason="bad-signature")
    issued = claims.get("iat")
    age = (time.time() if now is None else now) - issued if isinstance(issued, int) else None
    if age is None or not -60 <= age <= VONAGE_MAX_AGE_S:
        raise UnauthorizedError("the Vonage JWT is stale", reason="stale")
    if body and claims.get("payload_hash") != hashlib.sha256(body).hexdigest():
        raise UnauthorizedError("the Vonage JWT is for another body", reason="bad-signature")
    return claims


def vonage_ncco(*, stream_url: str, token: str, call_id: str) -> list[dict[str, Any]]:
    """An NCCO connecting the call to a 16 kHz L16 websocket whose first message carries the
    token and the call's uuid (the endpoint's headers)."""
    endpoint = {
        "type": "websocket",
        "uri": stream_url,
        "content-type": "audio/l16;rate=16000",
        "headers": {"token": token, "call_id": call_id},
    }
    return [{"action": "connect", "endpoint": [endpoint]}]
