"""The hotel API on the real app: search, a hotel's rooms, bad input as problem+json, signed OTA
pushes (and the OTA error answer for a bad one), and the development sandbox endpoint."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import httpx
from fastapi import FastAPI
from lxml import etree

from api.deps import Services
from hotels.models import Cell, RoomType, now_version
from hotels.ota import build_avail_notif
from hotels.signing import sign_push, supplier_secret


def _services(app: FastAPI) -> Services:
    services = app.state.services
    assert isinstance(services, Services)
    return services


def _today(app: FastAPI) -> dt.date:
    network = _services(app).hotel_network
    assert network is not None
    return network.inventory.today()


async def test_search_and_a_hotels_rooms(client: httpx.AsyncClient, app: FastAPI) -> None:
    check_in = (_today(app) + dt.timedelta(days=5)).isoformat()
    r = await client.get("/v1/hotels", params={"city": "Bombay", "check_in": check_in,
                                               "nights": 2, "limit": 5})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["destination"]["code"] == "mumbai"
    assert 0 < len(body["results"]) <= 5
    totals = [h["total_paise"] for h in body["results"]]
    assert totals == sorted(totals)
    first = body["results"][0]
    assert {"hotel_id", "name", "stars", "area", "as_of", "source", "cheapest_room"} <= set(first)
    r = await client.get(f"/v1/hotels/{first['hotel_id']}",
                         params={"check_in": check_in, "nights": 2})  # fmt: skip
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["rooms"][0]["price"]["total_paise"] == first["total_paise"]
    assert len(detail["calendar"]) == 30
    r = await client.get("/v1/hotels", params={"city": "goa", "check_in": check_in,
                                               "stars": [4, 5]})  # fmt: skip
    assert r.status_code == 200 and all(h["stars"] >= 4 for h in r.json()["results"])


async def test_bad_searches_are_problems(client: httpx.AsyncClient, app: FastAPI) -> None:
    today = _today(app)
    cases = [
        ({"city": "Goa", "check_in": today.isoformat(), "nights": 0}, 422),
        ({"city": "Goa", "check_in": today.isoformat(), "nights": 31}, 422),
        ({"city": "Goa", "check_in": today.isoformat(), "rooms": 3, "adults": 2}, 422),
        ({"city": "Atlantis", "check_in": today.isoformat()}, 404),
        ({"city": "Goa", "check_in": (today + dt.timedelta(days=60)).isoformat()}, 422),
        ({"city": "Goa", "check_in": (today - dt.timedelta(days=1)).isoformat()}, 422),
        ({"city": "Goa", "check_in": "tomorrow"}, 422),
    ]
    for params, status in cases:
        r = await client.get("/v1/hotels", params=params)
        assert r.status_code == status, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.get("/v1/hotels", params={"city": "Atlantis", "check_in": today.isoformat()})
    assert r.json()["type"] == "/problems/unknown-destination"
    r = await client.get("/v1/hotels/YH9999999", params={"check_in": today.isoformat()})
    assert r.status_code == 404
    assert r.json()["type"] == "/problems/unknown-hotel"


def _push(app: FastAPI, body: bytes, *, supplier: str = "sandbox-channel") -> dict[str, str]:
    secret = _services(app).settings.secret_key.get_secret_value().encode()
    headers = sign_push(supplier_secret(secret, supplier), body, time.time())
    return {**headers, "content-type": "application/xml"}


async def test_signed_pushes_are_applied_and_bad_ones_refused(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    services = _services(app)
    assert services.hotel_sync is not None and services.hotels is not None
    catalogue = services.hotels.catalogue
    prop = next(p for p in catalogue.properties("goa") if p.supplier == "sandbox-channel")
    night = _today(app) + dt.timedelta(days=3)
    rt = prop.room_types[0]
    await services.hotel_sync.ensure_loaded("goa")
    cell = Cell(hotel_id=prop.hotel_id, room_type=rt, night=night, available=42,
                rate_paise=None, version=now_version())  # fmt: skip
    body = build_avail_notif(prop.hotel_id, [cell], echo_token="e-1")
    url = "/v1/hotels/webhooks/sandbox-channel"
    headers = _push(app, body)
    r = await client.post(url, content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert etree.fromstring(r.content).find("{*}Success") is not None
    rooms_left = 0
    for _ in range(60):  # the stream's consumer applies it moments later
        stored = await services.hotel_sync.store.read(prop, first_night=night, nights=1)
        if (c := stored[rt][0]) is not None and c.available == 42:
            rooms_left = c.available
            break
        await asyncio.sleep(0.05)
    assert rooms_left == 42
    r = await client.post(url, content=body, headers=headers)  # the same signed request again
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.post(url, content=body, headers={**headers, "X-Yatri-Signature": "0" * 64})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    broken = b"<OTA_HotelAvailNotifRQ"
    r = await client.post(url, content=broken, headers=_push(app, broken))
    assert r.status_code == 400
    assert etree.fromstring(r.content).find("{*}Errors") is not None
    unknown = build_avail_notif("YH9999999", [Cell(hotel_id="YH9999999", room_type=RoomType.STANDARD,
                                night=night, available=1, rate_paise=None, version=now_version())],
                                echo_token="e-2")  # fmt: skip
    r = await client.post(url, content=unknown, headers=_push(app, unknown))
    assert r.status_code == 400
    error = etree.fromstring(r.content).find("{*}Errors/{*}Error")
    assert error is not None and error.get("Code") == "392"
    r = await client.post("/v1/hotels/webhooks/nobody", content=body, headers=_push(app, body))
    assert r.status_code == 404


async def test_sandbox_changes_reach_yatri_through_the_suppliers_channel(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    services = _services(app)
    assert services.hotels is not None and services.hotel_sync is not None
    prop = next(p for p in services.hotels.catalogue.properties("goa")
                if p.supplier == "sandbox-feed")  # fmt: skip
    await services.hotel_sync.ensure_loaded("goa")
    night = _today(app) + dt.timedelta(days=6)
    r = await client.post(f"/v1/sandbox/hotels/{prop.hotel_id}/availability",
                          json={"date": night.isoformat(), "room_type": prop.room_types[0].value,
                                "available": 0})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["channel"] == "feed"
    seen = None
    for _ in range(100):  # the poller reads the feed every second
        stored = await services.hotel_sync.store.read(prop, first_night=night, nights=1)
        seen = stored[prop.room_types[0]][0]
        if seen is not None and seen.available == 0:
            break
        await asyncio.sleep(0.05)
    assert seen is not None and seen.available == 0
    r = await client.post("/v1/sandbox/hotels/YH9999999/availability",
                          json={"date": night.isoformat(), "room_type": "STD", "available": 1})  # fmt: skip
    assert r.status_code == 404


async def test_sandbox_faults_are_set_at_run_time(client: httpx.AsyncClient, app: FastAPI) -> None:
    r = await client.put("/v1/sandbox/hotels/faults", json={"outage": True, "lost_push_rate": 0.5})
    assert r.status_code == 200, r.text
    network = _services(app).hotel_network
    assert network is not None and network.faults.outage and network.faults.lost_push_rate == 0.5
    assert (await client.get("/v1/sandbox/hotels/faults")).json()["outage"] is True
    r = await client.put("/v1/sandbox/hotels/faults", json={"error_rate": 2})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    await client.put("/v1/sandbox/hotels/faults", json={})
    assert not network.faults.outage


async def test_suppliers_down_is_a_retryable_problem_not_a_500(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await client.put("/v1/sandbox/hotels/faults", json={"outage": True})
    r = await client.get("/v1/hotels", params={"city": "Srinagar",
                                               "check_in": _today(app).isoformat()})  # fmt: skip
    await client.put("/v1/sandbox/hotels/faults", json={})
    assert r.status_code == 502, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.get("/v1/hotels", params={"city": "Srinagar",
                                               "check_in": _today(app).isoformat()})  # fmt: skip
    assert r.status_code == 200, r.text
