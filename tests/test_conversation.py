"""The dialogue engine end to end through `POST /v1/chat`, on the real stack (Redis, Temporal
dev server, embedded Qdrant, sandbox suppliers): booking by talking with a read-back and an
explicit yes, digressions that resume, corrections, "never mind", status, cancellation and date
change read back from quotes, honest answers for trains and hotels, and bad input."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from core.settings import Settings
from fares.models import IST
from tests.test_bookings import book, ledger, offer, order, token


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"booking_wait_s": 30.0, "booking_hold_ttl_s": 120.0})


class Chat:
    """One traveller's conversation."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> None:
        self._client = client
        self._headers = headers or {}
        self.session_id: str | None = None

    async def say(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {"text": text}
        if self.session_id:
            body["session_id"] = self.session_id
        response = await self._client.post("/v1/chat", json=body, headers=self._headers)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        self.session_id = answer["session_id"]
        # pytest shows this with a failing test: the conversation so far.
        print(
            f"> {text}\n< [{answer['intent']}|{answer['data'].get('expecting')}] {answer['reply']}"
        )
        return answer


def day(days: int) -> dt.date:
    return dt.datetime.now(IST).date() + dt.timedelta(days=days)


def spoken(d: dt.date) -> str:
    return f"{d.day} {d:%B}"


async def test_a_signed_in_traveller_books_by_talking_and_a_second_yes_books_nothing(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    chat = Chat(client, token(settings, "trav-talk"))
    found = await chat.say(f"flights from Delhi to Mumbai on {spoken(day(12))}")
    assert found["intent"] == "search_flights" and found["data"]["offers"]
    assert found["data"]["expecting"] == "choice"
    cheapest = min(found["data"]["offers"], key=lambda o: o["price"]["total_paise"])

    chosen = await chat.say("book the cheapest one")
    assert chosen["data"]["expecting"] == "traveller_details", chosen["reply"]
    named = await chat.say("Asha Rao")
    assert named["data"]["expecting"] == "traveller_details"
    assert "email" in named["reply"].lower()
    review = await chat.say("asha@example.com, 98765 43210")
    assert review["data"]["expecting"] == "confirmation", review["reply"]
    assert cheapest["flight_number"] in review["reply"] and "Asha Rao" in review["reply"]
    assert "₹" in review["reply"] and review["reply"].endswith("Shall I book it?")

    booked = await chat.say("yes")
    assert booked["data"]["booking"]["status"] == "confirmed", booked["reply"]
    assert booked["data"]["booking"]["pnr"] in booked["reply"]
    booking_id = booked["data"]["booking"]["booking_id"]
    again = await chat.say("yes")
    assert "booking" not in again["data"]
    state = await ledger(app).summary(booking_id)
    assert state.captures == 1 and state.tickets_issued == 1
    listed = await client.get("/v1/bookings", params={"traveller": "trav-talk"},
                              headers=token(settings, "trav-talk"))  # fmt: skip
    assert [b["booking_id"] for b in listed.json()] == [booking_id]


async def test_a_guest_is_asked_to_sign_in_before_booking(client: httpx.AsyncClient) -> None:
    chat = Chat(client)
    await chat.say(f"flights from Bangalore to Goa on {spoken(day(9))}")
    refused = await chat.say("book the second one")
    assert refused["data"]["needs"] == "sign_in"
    assert "sign in" in refused["reply"]
    assert refused["data"]["expecting"] == "none"


async def test_a_question_mid_booking_is_answered_and_the_booking_resumes(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    chat = Chat(client, token(settings, "trav-digress"))
    await chat.say(f"flights from Chennai to Kolkata on {spoken(day(14))}")
    await chat.say("I'll take the first one")
    await chat.say("Meera Iyer")
    review = await chat.say("meera@example.com 9123456780")
    assert review["data"]["expecting"] == "confirmation"
    asked = await chat.say("how much cabin baggage can I carry?")
    assert asked["intent"] == "policy_question"
    assert "back to your booking" in asked["reply"] and asked["reply"].endswith("Shall I book it?")
    assert asked["data"]["expecting"] == "confirmation"
    dropped = await chat.say("never mind")
    assert "dropped your booking" in dropped["reply"] or "won't book" in dropped["reply"]
    assert dropped["data"]["expecting"] == "none"


async def test_a_correction_redoes_the_search(client: httpx.AsyncClient) -> None:
    chat = Chat(client)
    first = await chat.say(f"flights from Hyderabad to Pune on {spoken(day(10))}")
    assert first["data"]["query"]["date"] == day(10).isoformat()
    corrected = await chat.say(f"actually make it {spoken(day(11))}")
    assert corrected["data"]["query"]["date"] == day(11).isoformat(), corrected["reply"]
    assert corrected["data"]["query"]["from"] == "HYD"
    more = await chat.say("for 2 adults")
    assert more["data"]["query"]["adults"] == 2 and more["data"]["query"]["to"] == "PNQ"


async def test_status_cancel_and_change_by_talking_read_back_the_quote_first(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    traveller = f"trav-{uuid.uuid4().hex[:6]}"
    found = await offer(client, days=20)
    booking = (await book(client, settings, order(found), traveller=traveller)).json()
    assert booking["status"] == "confirmed"
    chat = Chat(client, token(settings, traveller))

    status = await chat.say("what is the status of my booking?")
    assert status["data"]["booking"]["booking_id"] == booking["booking_id"], status["reply"]
    assert "confirmed" in status["reply"]

    moved_to = day(22)
    quote = await chat.say(f"change my booking to {spoken(moved_to)}")
    assert quote["data"]["expecting"] == "confirmation", quote["reply"]
    assert quote["reply"].endswith("Shall I make the change?") and "₹" in quote["reply"]
    due = quote["data"]["quote"]["amount_due_paise"]
    moved = await chat.say("yes please")
    assert moved["data"]["booking"]["flight"]["date"] == moved_to.isoformat(), moved["reply"]
    state = await ledger(app).summary(booking["booking_id"])
    assert state.net_charged_paise == found["price"]["total_paise"] + due

    asked = await chat.say("cancel my booking")
    assert asked["reply"].endswith("Shall I cancel it?") and "back" in asked["reply"]
    kept = await chat.say("no")
    assert "won't cancel" in kept["reply"]
    assert (await ledger(app).summary(booking["booking_id"])).refunded_paise == state.refunded_paise
    asked = await chat.say("please cancel my booking")
    refund = asked["data"]["quote"]["refund_paise"]
    cancelled = await chat.say("yes")
    assert cancelled["data"]["booking"]["status"] == "cancelled", cancelled["reply"]
    after = await ledger(app).summary(booking["booking_id"])
    assert after.refunded_paise - state.refunded_paise == refund


@pytest.mark.parametrize(
    ("text", "intent"),
    [("train to Jaipur tomorrow", "search_trains"),
     ("is there a bus from Pune to Goa tonight", "search_buses")],
)  # fmt: skip
async def test_other_verticals_get_an_honest_answer_not_a_flight_search(
    client: httpx.AsyncClient, text: str, intent: str
) -> None:
    chat = Chat(client)
    answer = await chat.say(text)
    assert answer["intent"] == intent
    assert "can't" in answer["reply"]
    assert "fares" not in answer["data"]
    if answer["reply"].endswith("instead?"):  # flights offered, searched only on a yes
        assert answer["data"]["expecting"] == "confirmation"
        declined = await chat.say("no thanks")
        assert "fares" not in declined["data"] and declined["data"]["expecting"] == "none"


async def test_a_place_to_stay_starts_a_hotel_search(client: httpx.AsyncClient) -> None:
    answer = await Chat(client).say("I'm looking for a place to stay in Goa")
    assert answer["intent"] == "search_hotels"
    assert "can't" not in answer["reply"]
    assert "fares" not in answer["data"]


async def test_bad_input_is_answered_never_a_500(client: httpx.AsyncClient, app: FastAPI) -> None:
    emoji = await Chat(client).say("🙏🙏✈️")
    assert emoji["reply"]
    too_long = await client.post("/v1/chat", json={"text": "a" * 10_000})
    assert too_long.status_code == 422
    assert too_long.headers["content-type"] == "application/problem+json"

    chat = Chat(client)
    await chat.say("hello")
    redis = app.state.services.redis
    key = f"yatri:session:{{{chat.session_id}}}"
    await redis.set(key, b'{"session_id": "x", "state": {"version": 99}')  # corrupt JSON
    fresh = await chat.say(f"flights from Delhi to Goa on {spoken(day(8))}")
    assert fresh["data"].get("offers")

    stored = await redis.get(key)
    old = stored.replace(b'"version":2', b'"version":1')  # a state from another version
    await redis.set(key, old)
    reset = await chat.say("hi")
    assert "afresh" in reset["reply"]

    both = await asyncio.gather(
        client.post("/v1/chat", json={"session_id": chat.session_id, "text": "for 2 adults"}),
        client.post("/v1/chat", json={"session_id": chat.session_id, "text": "for 3 adults"}),
    )
    assert all(r.status_code in (200, 409) for r in both), [r.text for r in both]


async def test_a_date_changed_while_names_are_awaited_searches_again(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    chat = Chat(client, token(settings, "trav-redate"))
    await chat.say(f"flights from Delhi to Chennai on {spoken(day(21))}")
    asked = await chat.say("book the cheapest")
    assert asked["data"]["expecting"] == "traveller_details"
    moved = await chat.say(f"oh wait, make it {spoken(day(22))} instead")
    assert moved["data"]["query"]["date"] == day(22).isoformat(), moved["reply"]
    assert moved["data"]["expecting"] == "choice"
    named = await chat.say("the cheapest one")
    assert named["data"]["expecting"] == "traveller_details"
    await chat.say("Farhan Akhtar")
    review = await chat.say("farhan@example.com 9890098900")
    assert "Farhan Akhtar" in review["reply"] and spoken(day(22)) in review["reply"]


async def test_a_yes_that_restates_the_request_confirms_it(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    traveller = f"trav-{uuid.uuid4().hex[:6]}"
    found = await offer(client, days=24)
    booking = (await book(client, settings, order(found), traveller=traveller)).json()
    chat = Chat(client, token(settings, traveller))
    asked = await chat.say("cancel my booking")
    assert asked["data"]["expecting"] == "confirmation"
    done = await chat.say("yes, cancel it")
    assert done["data"]["booking"]["status"] == "cancelled", done["reply"]
    assert (await ledger(app).summary(booking["booking_id"])).refunded_paise > 0


@pytest.mark.parametrize(
    ("first", "correction", "route"),
    [("flights from Mumbai to Goa", "actually from Pune, not Mumbai", ("PNQ", "GOI")),
     ("flights from Bangalore to Hyderabad", "nahi nahi, Hyderabad nahi, Chennai jaana hai",
      ("BLR", "MAA"))],
)  # fmt: skip
async def test_a_negated_correction_keeps_the_place_meant(
    client: httpx.AsyncClient, first: str, correction: str, route: tuple[str, str]
) -> None:
    chat = Chat(client)
    await chat.say(f"{first} on {spoken(day(15))}")
    corrected = await chat.say(correction)
    query = corrected["data"]["query"]
    assert (query["from"], query["to"]) == route, corrected["reply"]


async def test_changing_the_flight_at_the_read_back_reviews_the_new_one(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    chat = Chat(client, token(settings, f"trav-{uuid.uuid4().hex[:6]}"))
    found = await chat.say(f"flights from Delhi to Pune on {spoken(day(17))}")
    first, second = (o["flight_number"] for o in found["data"]["offers"][:2])
    await chat.say("the first one")
    await chat.say("Kiran Shah")
    review = await chat.say("kiran@example.com 9123456789")
    assert first in review["reply"] and review["data"]["expecting"] == "confirmation"
    changed = await chat.say("hmm, change it to the second flight")
    assert second in changed["reply"], changed["reply"]
    assert changed["data"]["expecting"] == "confirmation"


async def test_a_travellers_conversation_is_theirs_alone(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    mine = Chat(client, token(settings, "trav-owner"))
    await mine.say(f"flights from Delhi to Goa on {spoken(day(12))}")
    for headers in ({}, token(settings, "trav-stranger")):
        taken = await client.post("/v1/chat", headers=headers,
                                  json={"text": "book the cheapest", "session_id": mine.session_id})  # fmt: skip
        assert taken.status_code == 403, taken.text
    still = await mine.say("book the cheapest")  # untouched by the attempts
    assert still["data"]["expecting"] == "traveller_details"
    # A guest's conversation becomes the traveller's when they sign in mid-way.
    guest = Chat(client)
    await guest.say(f"flights from Pune to Delhi on {spoken(day(12))}")
    signed = Chat(client, token(settings, "trav-late"))
    signed.session_id = guest.session_id
    assert (await signed.say("book the cheapest"))["data"]["expecting"] == "traveller_details"
    assert (await client.post("/v1/chat", json={"text": "hi",
                                                "session_id": guest.session_id})).status_code == 403  # fmt: skip
