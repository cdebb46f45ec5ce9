"""Shared parts of the booking benchmarks: a traveller token, a bookable offer, an order; a
traveller's profile and sandbox SMS inbox, and a phone call through the signed ASR webhook."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import statistics
import time
import uuid
from typing import Any

import httpx
import jwt

from core.settings import DEFAULT_SECRET
from fares.models import IST

ROUTES = (("DEL", "BOM"), ("BLR", "DEL"), ("BOM", "GOI"), ("MAA", "CCU"), ("HYD", "PNQ"))
# The signed ASR webhook's shared secret: a benchmark starts `yatri serve` with it.
WEBHOOK_SECRET = "bench-asr-webhook-secret-0123456789"
_CODE = re.compile(r"\b\d{6}\b")


def traveller_headers(traveller: str, *, key: str | None = None) -> dict[str, str]:
    claims = {"sub": traveller, "scope": "bookings", "exp": int(time.time()) + 3600}
    headers = {"authorization": f"Bearer {jwt.encode(claims, DEFAULT_SECRET, algorithm='HS256')}"}
    if key is not None:
        headers["idempotency-key"] = key
    return headers


async def offers(client: httpx.AsyncClient, *, count: int) -> list[dict[str, Any]]:
    """`count` bookable offers spread over routes and dates (cheapest per flight)."""
    found: list[dict[str, Any]] = []
    day = 0
    while len(found) < count:
        origin, destination = ROUTES[day % len(ROUTES)]
        date = (dt.datetime.now(IST).date() + dt.timedelta(days=7 + day)).isoformat()
        response = await client.get(
            "/v1/fares", params={"from": origin, "to": destination, "date": date}
        )
        response.raise_for_status()
        found += response.json()["offers"][:4]
        day += 1
    return found[:count]


def order(offer: dict[str, Any]) -> dict[str, Any]:
    return {
        "flight": {
            "origin": offer["from"],
            "destination": offer["to"],
            "date": offer["departure"][:10],
            "flight_number": offer["flight_number"],
            "fare_family": offer["fare_family"],
        },
        "expected_total_paise": offer["price"]["total_paise"],
        "travellers": [{"first_name": "Bench", "last_name": "Traveller"}],
        "contact": {"email": "bench@example.com", "phone": "+91 90000 00000"},
    }


def new_key() -> str:
    return str(uuid.uuid4())


def pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


# --- phone callers ------------------------------------------------------------------------


def mobile_number(seed: str) -> str:
    """A valid Indian mobile number of its own for `seed` (+91 98…, outside the sandbox
    profiles' +91 90000 range), so parallel conversations and repeated runs never share one."""
    digest = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
    return f"+9198{digest % 10**8:08d}"


async def put_profile(
    client: httpx.AsyncClient, headers: dict[str, str], profile: dict[str, Any]
) -> dict[str, Any]:
    """Create or replace the traveller's profile (`PUT /v1/travellers/me`)."""
    response = await client.put("/v1/travellers/me", json=profile, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"profile {response.status_code}: {response.text[:300]}")
    saved: dict[str, Any] = response.json()
    return saved


async def latest_code(client: httpx.AsyncClient, headers: dict[str, str]) -> str | None:
    """The six-digit code in the newest SMS of the traveller's sandbox inbox, read off the
    message text as the traveller would read it off their phone."""
    response = await client.get("/v1/travellers/me/messages", headers=headers)
    response.raise_for_status()
    for message in reversed(response.json()):
        if found := _CODE.search(message["text"]):
            return found.group()
    return None


class PhoneCall:
    """One phone call whose provider does its own speech recognition: every turn is a final
    transcript posted to `POST /v1/asr/webhooks/{provider}`, signed with the shared secret
    (hex HMAC-SHA256 of "{timestamp}." + body), with the number the call comes from."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        caller: str,
        provider: str = "exotel",
        secret: str = WEBHOOK_SECRET,
    ) -> None:
        self._client = client
        self._url = f"/v1/asr/webhooks/{provider}"
        self._secret = secret.encode()
        self.caller = caller
        self.call_id = f"bench-{uuid.uuid4().hex}"

    async def say(self, text: str, *, confidence: float = 0.92) -> dict[str, Any]:
        body = json.dumps({
            "call_id": self.call_id, "delivery_id": uuid.uuid4().hex, "transcript": text,
            "confidence": confidence, "caller": self.caller,
        }).encode()  # fmt: skip
        timestamp = int(time.time())
        signature = hmac.new(self._secret, f"{timestamp}.".encode() + body, hashlib.sha256)
        response = await self._client.post(self._url, content=body, headers={
            "content-type": "application/json", "x-yatri-timestamp": str(timestamp),
            "x-yatri-signature": signature.hexdigest(),
        })  # fmt: skip
        if response.status_code != 200:
            raise RuntimeError(f"webhook {response.status_code}: {response.text[:300]}")
        answer: dict[str, Any] = response.json()
        return answer
