"""The chat turn end to end through real Redis, the real NLU and the sandbox airline."""

from __future__ import annotations

import datetime as dt

import httpx
from fastapi import FastAPI

from api.app import create_app
from core.embedded import Endpoints
from core.redis_conn import connect_redis
from core.settings import Settings
from fares.models import IST


async def test_flight_search_turn_returns_fares(client: httpx.AsyncClient) -> None:
    # A day well ahead: on the day itself, few flights are left to book by the evening.
    when = dt.datetime.now(IST).date() + dt.timedelta(days=10)
    text = f"flights from Delhi to Mumbai on {when.day} {when:%B}"
    r = await client.post("/v1/chat", json={"text": text})
    assert r.status_code == 200
    body = r.json()
    assert body["intent"] == "search_flights"
    assert body["slots"] == {
        "origin": "DEL",
        "destination": "BOM",
        "date": when.isoformat(),
    }
    fares = body["data"]["fares"]
    assert len(fares) >= 5
    for fare in fares:
        assert (fare["from"], fare["to"]) == ("DEL", "BOM")
        assert fare["carrier"] and fare["flight_number"].startswith(fare["carrier_code"])
        price = fare["price"]
        assert (
            price["total_paise"] == price["base_paise"] + price["taxes_paise"] + price["fees_paise"]
        )
        assert price["total_paise"] > 100_000  # more than ₹1,000
        assert dt.datetime.fromisoformat(fare["departure"]).date() == when
    totals = [f["price"]["total_paise"] for f in fares]
    assert totals == sorted(totals)
    assert "Delhi (DEL)" in body["reply"] and "Mumbai (BOM)" in body["reply"]
    assert fares[0]["price"]["display"] in body["reply"]


async def test_follow_up_turn_uses_the_conversation(client: httpx.AsyncClient) -> None:
    first = (await client.post("/v1/chat", json={"text": "BLR to GOI tomorrow"})).json()
    session_id = first["session_id"]
    assert first["slots"]["origin"] == "BLR" and first["slots"]["destination"] == "GOI"
    one_adult = {f["flight_number"]: f["price"]["base_paise"] for f in first["data"]["fares"]}

    second = (
        await client.post("/v1/chat", json={"session_id": session_id, "text": "make it 2 adults"})
    ).json()
    assert second["session_id"] == session_id
    assert second["intent"] == "search_flights"
    assert second["slots"]["adults"] == 2
    assert second["slots"]["origin"] == "BLR" and second["slots"]["destination"] == "GOI"
    assert "2 adults" in second["reply"]
    for fare in second["data"]["fares"]:
        if fare["flight_number"] in one_adult and fare["fare_family"] == "Saver":
            assert fare["price"]["base_paise"] == 2 * one_adult[fare["flight_number"]]


async def test_missing_slots_are_asked_for(client: httpx.AsyncClient) -> None:
    first = (await client.post("/v1/chat", json={"text": "I want to fly to Goa"})).json()
    assert first["data"]["ask_for"] == "origin"
    assert "from" in first["reply"].lower()
    second = (
        await client.post("/v1/chat", json={"session_id": first["session_id"], "text": "Pune"})
    ).json()
    assert second["slots"]["origin"] == "PNQ" and second["slots"]["destination"] == "GOI"
    assert second["data"]["ask_for"] == "date"
    third = (
        await client.post("/v1/chat", json={"session_id": first["session_id"], "text": "on 20 Jan"})
    ).json()
    assert third["data"]["query"]["from"] == "PNQ"
    assert third["data"]["fares"]


async def test_unknown_place_is_named_in_the_reply(client: httpx.AsyncClient) -> None:
    body = (await client.post("/v1/chat", json={"text": "flights from Atlantis to Mumbai"})).json()
    assert "atlantis" in body["reply"].lower()
    assert body["data"]["ask_for"] == "origin"


async def test_text_not_understood_gets_a_helpful_reply(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat", json={"text": "what is the meaning of life"})
    assert r.status_code == 200
    body = r.json()
    assert body["intent"] == "out_of_scope"
    assert "search and book flights" in body["reply"]


async def test_past_date_is_explained_not_an_error(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat", json={"text": "flights from Delhi to Mumbai on 2020-01-05"})
    assert r.status_code == 200
    assert "That date has passed" in r.json()["reply"]


async def test_session_is_stored_in_redis_with_ttl(
    client: httpx.AsyncClient, endpoints: Endpoints, settings: Settings
) -> None:
    body = (
        await client.post(
            "/v1/chat", json={"text": "Chennai to Kolkata tomorrow, call me on 9876543210"}
        )
    ).json()
    redis = connect_redis(endpoints.redis_url)
    try:
        key = f"yatri:session:{{{body['session_id']}}}"
        ttl = await redis.ttl(key)
        stored = await redis.get(key)
    finally:
        await redis.aclose()
    assert 0 < ttl <= settings.session_ttl_s
    assert stored is not None
    assert b"9876543210" not in stored  # the stored transcript is redacted
    assert b"[PHONE]" in stored


async def test_session_survives_an_app_restart(settings: Settings, endpoints: Endpoints) -> None:
    async def turn(app: FastAPI, payload: dict[str, str]) -> dict[str, object]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                result: dict[str, object] = (await c.post("/v1/chat", json=payload)).json()
                return result

    first = await turn(
        create_app(settings, endpoints=endpoints), {"text": "Hyderabad to Jaipur on 10 Feb"}
    )
    second = await turn(
        create_app(settings, endpoints=endpoints),
        {"session_id": str(first["session_id"]), "text": "for 3 adults"},
    )
    assert second["slots"] == {**first["slots"], "adults": 3}  # type: ignore[dict-item]


async def test_client_session_id_is_validated(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat", json={"session_id": "../../etc", "text": "hi"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"


async def test_a_supplier_slower_than_the_request_deadline_gets_the_engines_own_reply(
    settings: Settings, endpoints: Endpoints
) -> None:
    # The deadline is passed down (core/deadline.py): the fare call gets what the request has
    # left, and the engine answers in time instead of the route's 504 backstop firing.
    slow = settings.model_copy(
        update={"request_timeout_s": 0.2, "supplier_latency_ms": 3000, "supplier_timeout_s": 10}
    )
    app = create_app(slow, endpoints=endpoints)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.post("/v1/chat", json={"text": "flights from Delhi to Goa tomorrow"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["problem"] == "supplier_unavailable"
    assert "aren't answering" in r.json()["reply"]
