"""Shared parts of the booking benchmarks: a traveller token, a bookable offer, an order."""

from __future__ import annotations

import datetime as dt
import statistics
import time
import uuid
from typing import Any

import httpx
import jwt

from core.settings import DEFAULT_SECRET
from fares.models import IST

ROUTES = (("DEL", "BOM"), ("BLR", "DEL"), ("BOM", "GOI"), ("MAA", "CCU"), ("HYD", "PNQ"))


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
