"""Bookable means flyable: flights inside the booking cut-off are never searched, served from
the cache, quoted, held or ticketed; past dates are answered as past. Clocks are injected."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from bookings.activities import BookingActivities
from bookings.suppliers.sandbox import SandboxLedger
from core.airports import load_airports
from core.embedded import EmbeddedValkey
from core.errors import InvalidRequestError
from core.redis_conn import connect_redis
from core.settings import Settings
from fares.cache import CachePolicy, FareCache
from fares.models import IST, FareOffer, FareQuery, FareSource
from fares.service import FareService, SupplierGuard
from fares.suppliers.sandbox import CARRIERS, SandboxAirline, SandboxFaults
from intents.dates import parse_date
from intents.legacy import RuleParser
from sessions.engine import TurnEngine
from sessions.redis_store import RedisSessionStore

AIRPORTS = load_airports()
MINUTE = dt.timedelta(minutes=1)


class Clock:
    """Fake time shared by the airline, the cache (epoch seconds) and the service."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def utc(self) -> dt.datetime:
        return self.at

    def epoch(self) -> float:
        return self.at.timestamp()


def build(
    clock: Clock, *, cutoff_min: int = 45, redis_url: str | None = None
) -> tuple[FareService, SandboxAirline]:
    airline = SandboxAirline(airports=AIRPORTS, seed=5, faults=SandboxFaults(latency_ms=1),
                             clock=clock.utc)  # fmt: skip
    cache = None
    if redis_url is not None:
        cache = FareCache(redis=connect_redis(redis_url), policy=CachePolicy(early_refresh=False),
                          namespace=f"t{uuid.uuid4().hex[:8]}", clock=clock.epoch)  # fmt: skip
    service = FareService(
        supplier=airline, airports=AIRPORTS, cache=cache, clock=clock.utc, cutoff_min=cutoff_min,
        guard=SupplierGuard.for_supplier(f"t-{uuid.uuid4().hex[:6]}", timeout_s=1),
    )  # fmt: skip
    return service, airline


DAY = dt.date(2026, 12, 10)
DAY_START = dt.datetime(2026, 12, 10, 0, 1, tzinfo=IST)


def flight_at_noon(airline: SandboxAirline) -> FareOffer:
    """The first DEL-BOM flight leaving after noon on DAY, with its carrier's cut-off."""
    offers = airline.offers(FareQuery("DEL", "BOM", DAY), searched_at=DAY_START)
    return min(
        (o for o in offers if o.departure.hour >= 12), key=lambda o: (o.departure, o.price.total)
    )


@pytest.mark.parametrize("cutoff_min", [0, 45, 120])
async def test_the_boundary_is_departure_minus_the_cutoff(cutoff_min: int) -> None:
    clock = Clock(DAY_START)
    service, airline = build(clock, cutoff_min=cutoff_min)
    offer = flight_at_noon(airline)
    assert offer.cutoff_minutes is not None and 45 <= offer.cutoff_minutes <= 75
    cutoff = dt.timedelta(minutes=max(cutoff_min, offer.cutoff_minutes))

    clock.at = offer.departure - cutoff  # departs exactly at now + cut-off: still sold
    result = await service.search(FareQuery("DEL", "BOM", DAY))
    assert offer.flight_number in {o.flight_number for o in result.offers}
    assert (await service.reprice(offer)).offer is not None

    clock.at = offer.departure - cutoff + MINUTE  # departs a minute before now + cut-off
    result = await service.search(FareQuery("DEL", "BOM", DAY))
    assert offer.flight_number not in {o.flight_number for o in result.offers}
    assert all(o.departure - clock.at >= cutoff for o in result.offers
               if o.cutoff_minutes == offer.cutoff_minutes)  # fmt: skip
    assert result.hidden_flights >= 1 and result.hidden_offers >= 2
    assert result.hidden_reason and "too soon to book" in result.hidden_reason
    repriced = await service.reprice(offer)  # the MCP quote's path
    assert repriced.offer is None


async def test_a_cached_answer_hides_flights_that_closed_while_it_was_cached(
    redis_server: EmbeddedValkey,
) -> None:
    clock = Clock(DAY_START)
    service, airline = build(clock, redis_url=redis_server.url)
    offer = flight_at_noon(airline)
    closes = offer.booking_closes(cutoff_min=45)
    clock.at = closes - dt.timedelta(seconds=10)
    first = await service.search(FareQuery("DEL", "BOM", DAY))
    assert first.source is FareSource.LIVE
    assert offer.flight_number in {o.flight_number for o in first.offers}
    clock.at = closes + dt.timedelta(seconds=10)  # still fresh in the cache
    second = await service.search(FareQuery("DEL", "BOM", DAY))
    assert second.source is FareSource.L1 and airline.calls == 1
    assert offer.flight_number not in {o.flight_number for o in second.offers}
    assert second.hidden_flights == first.hidden_flights + 1


async def test_past_dates_have_passed() -> None:
    service, _ = build(Clock(DAY_START))
    with pytest.raises(InvalidRequestError, match="that date has passed") as refused:
        await service.search(FareQuery("DEL", "BOM", DAY - dt.timedelta(days=1)))
    assert refused.value.extensions["field"] == "date"
    # A day-and-month that has gone by this year is that day, not next year's (beyond sale).
    assert parse_date("delhi to mumbai on 9 december", today=DAY) == dt.date(2026, 12, 9)
    assert parse_date("delhi to mumbai on 9 nov", today=DAY) == dt.date(2027, 11, 9)
    assert parse_date("delhi to mumbai on 11 december", today=DAY) == dt.date(2026, 12, 11)


async def test_the_fares_api_says_a_past_date_has_passed_and_hides_closed_flights(
    client: httpx.AsyncClient,
) -> None:
    yesterday = dt.datetime.now(IST).date() - dt.timedelta(days=1)
    r = await client.get("/v1/fares", params={"from": "DEL", "to": "BOM", "date": yesterday})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert "that date has passed" in r.json()["detail"] and r.json()["field"] == "date"

    today = dt.datetime.now(IST).date()
    r = await client.get("/v1/fares", params={"from": "DEL", "to": "BOM", "date": today})
    assert r.status_code == 200, r.text
    body = r.json()
    asked = dt.datetime.now(dt.UTC)
    assert set(body["hidden"]) == {"offers", "flights", "reason", "detail"}
    for offer in body["offers"]:
        assert dt.datetime.fromisoformat(offer["departure"]) - asked >= dt.timedelta(minutes=44)
    assert (body["hidden"]["reason"] == "booking-closed") == (body["hidden"]["flights"] > 0)


async def test_a_same_day_chat_search_says_how_many_flights_were_left_out(
    redis_server: EmbeddedValkey,
) -> None:
    clock = Clock(dt.datetime(2026, 12, 10, 14, 0, tzinfo=IST))
    service, _ = build(clock)
    engine = TurnEngine(
        store=RedisSessionStore(redis=connect_redis(redis_server.url), ttl_s=60,
                                prefix=f"t{uuid.uuid4().hex[:6]}:"),
        parser=RuleParser(AIRPORTS), fares=service, airports=AIRPORTS, history_turns=5,
        clock=clock.utc,
    )  # fmt: skip
    turn = await engine.handle(text="flights from Delhi to Mumbai today", session_id=None,
                               channel="chat")  # fmt: skip
    hidden = turn.data["hidden"]["flights"]
    assert hidden > 0
    assert f"{hidden} flights that leave too soon to book were left out" in turn.reply
    assert all(
        dt.datetime.fromisoformat(f["departure"]) >= clock.at + dt.timedelta(minutes=45)
        for f in turn.data["fares"]
    )

    past = await engine.handle(text="flights from Delhi to Mumbai on 9 December",
                               session_id=None, channel="chat")  # fmt: skip
    assert past.reply.startswith("That date has passed")
    assert past.data["ask_for"] == "date"


async def test_the_chat_api_says_a_past_date_has_passed(client: httpx.AsyncClient) -> None:
    yesterday = dt.datetime.now(IST).date() - dt.timedelta(days=1)
    text = f"flights from Delhi to Mumbai on {yesterday.day} {yesterday:%B}"
    r = await client.post("/v1/chat", json={"text": text})
    assert r.status_code == 200
    assert "that date has passed" in r.json()["reply"].lower()
    assert "361 days" not in r.json()["reply"]


# --- the booking workflow ------------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"booking_wait_s": 30.0, "booking_hold_ttl_s": 120.0})


class SteppingClock:
    """Each reading is ``step`` later than the one before: price, hold and ticket each read
    it once, so a booking's flight closes between two of its steps, deterministically."""

    def __init__(self, start: dt.datetime, step: dt.timedelta) -> None:
        self._next = start
        self._step = step

    def __call__(self) -> dt.datetime:
        now, self._next = self._next, self._next + self._step
        return now


def token(settings: Settings, traveller: str = "trav-1") -> dict[str, str]:
    claims = {"sub": traveller, "scope": "bookings", "exp": int(time.time()) + 600}
    encoded = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm="HS256")
    return {"authorization": f"Bearer {encoded}"}


async def _offer(client: httpx.AsyncClient, **party: int) -> dict[str, Any]:
    date = (dt.datetime.now(IST).date() + dt.timedelta(days=10)).isoformat()
    r = await client.get("/v1/fares", params={"from": "DEL", "to": "BOM", "date": date, **party})
    assert r.status_code == 200, r.text
    return dict(r.json()["offers"][0])


def _order(found: dict[str, Any], travellers: list[dict[str, str]], **party: int) -> dict[str, Any]:
    return {
        "flight": {"origin": found["from"], "destination": found["to"],
                   "date": found["departure"][:10], "flight_number": found["flight_number"],
                   "fare_family": found["fare_family"], **party},
        "expected_total_paise": found["price"]["total_paise"],
        "travellers": travellers,
        "contact": {"email": "asha@example.com", "phone": "+91 98765 43210"},
    }  # fmt: skip


def _closes(found: dict[str, Any], settings: Settings) -> dt.datetime:
    carrier = next(c for c in CARRIERS if c.code == found["carrier_code"])
    cutoff = max(carrier.cutoff_minutes, settings.booking_cutoff_min)
    return dt.datetime.fromisoformat(found["departure"]) - dt.timedelta(minutes=cutoff)


async def _book(client: httpx.AsyncClient, settings: Settings, body: dict[str, Any]) -> Any:
    headers = token(settings) | {"idempotency-key": str(uuid.uuid4())}
    return await client.post("/v1/bookings", json=body, headers=headers)


@pytest.mark.parametrize(
    ("start", "failed_step"),
    [(-15, "ticket"), (-5, "hold")],  # minutes before sales close at the price step
)
async def test_a_flight_that_closes_while_the_booking_runs_is_compensated(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, start: int, failed_step: str
) -> None:
    found = await _offer(client)
    activities = app.state.services.extras["booking_activities"]
    assert isinstance(activities, BookingActivities)
    activities._clock = SteppingClock(_closes(found, settings) + dt.timedelta(minutes=start),
                                      step=dt.timedelta(minutes=10))  # fmt: skip
    r = await _book(client, settings, _order(found, [{"first_name": "Asha", "last_name": "Rao"}]))
    booking = r.json()
    assert booking["status"] == "failed", booking
    assert booking["outcome"]["failed_step"] == failed_step
    assert "booking-closed" in booking["outcome"]["detail"]
    ledger = app.state.services.extras["sandbox_ledger"]
    assert isinstance(ledger, SandboxLedger)
    state = await ledger.summary(booking["booking_id"])
    assert state.net_charged_paise == 0 and booking["paid_paise"] == 0
    assert state.tickets_issued == 0 and state.open_holds == 0
    assert state.uncaptured_authorisations == 0


async def test_a_flight_closed_before_pricing_is_not_sold(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    found = await _offer(client)
    activities = app.state.services.extras["booking_activities"]
    activities._clock = lambda: _closes(found, settings) + MINUTE
    r = await _book(client, settings, _order(found, [{"first_name": "Asha", "last_name": "Rao"}]))
    booking = r.json()
    assert booking["status"] == "failed" and booking["outcome"]["failed_step"] == "reprice"
    state = await app.state.services.extras["sandbox_ledger"].summary(booking["booking_id"])
    assert state.net_charged_paise == 0 and state.open_holds == 0
