"""Reply wording on real sandbox fares: counts, group totals, overnight arrivals, places abroad;
and the chat turn that says "domestic flights only" for a city abroad."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from core.airports import load_airports
from fares.models import IST, FareOffer, FareQuery, FareResult, FareSource, Passengers
from fares.suppliers.sandbox import SandboxAirline, SandboxFaults
from sessions.replies import search_reply
from voice.tts import speakable

AIRPORTS = load_airports()
NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)
DAY = NOW.astimezone(IST).date() + dt.timedelta(days=20)


async def offers(query: FareQuery) -> list[FareOffer]:
    airline = SandboxAirline(
        airports=AIRPORTS, seed=7, faults=SandboxFaults(latency_ms=0), clock=lambda: NOW
    )
    found = sorted(await airline.search(query), key=lambda o: o.price.total)
    assert found
    return found


def result(query: FareQuery, found: list[FareOffer]) -> FareResult:
    return FareResult(query=query, offers=tuple(found), source=FareSource.LIVE, fetched_at=NOW)


async def test_one_flight_is_singular() -> None:
    query = FareQuery("DEL", "BOM", DAY)
    reply = search_reply(result(query, (await offers(query))[:1]), AIRPORTS)
    assert reply.startswith("I found 1 flight from Delhi (DEL)"), reply
    assert "1 flights" not in reply


@pytest.mark.parametrize(
    ("party", "label"),
    [
        (Passengers(adults=2), "Prices are totals for 2 adults."),
        (Passengers(adults=2, children=1, infants=1), "for 2 adults, 1 child, 1 infant."),
    ],
)
async def test_group_prices_are_labelled_as_totals(party: Passengers, label: str) -> None:
    query = FareQuery("DEL", "BOM", DAY, passengers=party)
    reply = search_reply(result(query, await offers(query)), AIRPORTS)
    assert label in reply, reply


async def test_one_traveller_needs_no_total_label() -> None:
    query = FareQuery("DEL", "BOM", DAY)
    assert "totals" not in search_reply(result(query, await offers(query)), AIRPORTS)


async def test_overnight_arrivals_are_marked_plus_one_and_spoken_as_the_next_day() -> None:
    query = FareQuery("DEL", "BOM", DAY)
    found = await offers(query)
    overnight = [o for o in found if o.arrival.date() > o.departure.date()]
    same_day = [o for o in found if o.arrival.date() == o.departure.date()]
    assert overnight and same_day, "the sandbox flies late-evening DEL-BOM flights"
    reply = search_reply(result(query, [overnight[0], same_day[0]]), AIRPORTS)
    assert f"to {overnight[0].arrival:%H:%M} (+1)," in reply, reply
    assert f"to {same_day[0].arrival:%H:%M}," in reply, reply
    assert "the next day" in speakable(reply) and "(+1)" not in speakable(reply)


@pytest.mark.parametrize("city", ["Dubai", "Singapore", "London"])
async def test_a_city_abroad_gets_domestic_only(client: httpx.AsyncClient, city: str) -> None:
    body = (
        await client.post("/v1/chat", json={"text": f"flights from Delhi to {city} tomorrow"})
    ).json()
    assert body["reply"] == (
        f"I can search domestic flights within India only for now, and {city} is outside "
        "India. Where would you like to fly to?"
    )
    assert body["data"]["ask_for"] == "destination"


async def test_a_place_nowhere_still_has_no_airport(client: httpx.AsyncClient) -> None:
    body = (await client.post("/v1/chat", json={"text": "flights from Atlantis to Mumbai"})).json()
    assert body["reply"].lower().startswith("i couldn't find an airport for “atlantis”.")
