"""Bookings end to end against the real Temporal dev server, Redis and the sandbox suppliers'
shared ledger: compensation at every failure point, idempotency, hold expiry, repricing, fare
rules and ownership."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from api.app import create_app
from bookings.suppliers.hotel_network import NetworkHotel
from bookings.suppliers.sandbox import SandboxLedger
from core.embedded import Endpoints
from core.settings import Settings
from fares.models import IST

ROUTE = ("DEL", "BOM")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Short waits keep a stuck test short; holds long enough for a normal booking.
    return settings.model_copy(update={"booking_wait_s": 30.0, "booking_hold_ttl_s": 120.0})


def token(settings: Settings, traveller: str) -> dict[str, str]:
    claims = {"sub": traveller, "scope": "bookings", "exp": int(time.time()) + 600}
    encoded = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm="HS256")
    return {"authorization": f"Bearer {encoded}"}


def ledger(app: FastAPI) -> SandboxLedger:
    found = app.state.services.extras["sandbox_ledger"]
    assert isinstance(found, SandboxLedger)
    return found


async def offer(client: httpx.AsyncClient, *, days: int = 10, adults: int = 1) -> dict[str, Any]:
    date = (dt.datetime.now(IST).date() + dt.timedelta(days=days)).isoformat()
    response = await client.get(
        "/v1/fares", params={"from": ROUTE[0], "to": ROUTE[1], "date": date, "adults": adults}
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["offers"][0])


def order(found: dict[str, Any], *, adults: int = 1, total: int | None = None) -> dict[str, Any]:
    return {
        "flight": {
            "origin": found["from"],
            "destination": found["to"],
            "date": found["departure"][:10],
            "flight_number": found["flight_number"],
            "fare_family": found["fare_family"],
            "adults": adults,
        },
        "expected_total_paise": total or found["price"]["total_paise"],
        "travellers": [{"first_name": f"Asha{i}", "last_name": "Rao"} for i in range(adults)],
        "contact": {"email": "asha@example.com", "phone": "+91 98765 43210"},
    }


async def book(
    client: httpx.AsyncClient, settings: Settings, body: dict[str, Any], *,
    traveller: str = "trav-1", key: str | None = None,
) -> httpx.Response:  # fmt: skip
    headers = token(settings, traveller) | {"idempotency-key": key or str(uuid.uuid4())}
    return await client.post("/v1/bookings", json=body, headers=headers)


async def cancel(
    client: httpx.AsyncClient, settings: Settings, booking_id: str, *, traveller: str = "trav-1"
) -> httpx.Response:
    """Quote the cancellation, then cancel at that quote, as a traveller's app does."""
    headers = token(settings, traveller)
    quote = await client.post(f"/v1/bookings/{booking_id}/cancel/quote", headers=headers)
    if quote.status_code != 200:
        return quote
    return await client.post(
        f"/v1/bookings/{booking_id}/cancel", json={"quote_id": quote.json()["quote_id"]},
        headers=headers | {"idempotency-key": str(uuid.uuid4())},
    )  # fmt: skip


async def modify(
    client: httpx.AsyncClient, settings: Settings, booking_id: str, new_date: str
) -> httpx.Response:
    """Quote the change, then make it at that quote."""
    headers = token(settings, "trav-1")
    quote = await client.post(f"/v1/bookings/{booking_id}/modify/quote",
                              json={"new_date": new_date}, headers=headers)  # fmt: skip
    assert quote.status_code == 200, quote.text
    return await client.post(
        f"/v1/bookings/{booking_id}/modify", json={"quote_id": quote.json()["quote_id"]},
        headers=headers | {"idempotency-key": str(uuid.uuid4())},
    )  # fmt: skip


async def test_booking_confirms_with_one_charge_and_a_ticket(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    found = await offer(client)
    response = await book(client, settings, order(found))
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["status"] == "confirmed"
    assert booking["references"]["ticket_number"] and booking["references"]["pnr"]
    assert booking["paid_paise"] == found["price"]["total_paise"]
    assert [h["status"] for h in booking["history"]] == ["pending", "confirmed"]
    assert "98765" not in str(booking["contact"])  # the phone is masked
    state = await ledger(app).summary(booking["booking_id"])
    assert state.captures == 1 and state.net_charged_paise == found["price"]["total_paise"]
    assert state.tickets_issued == 1 and state.open_holds == 0


# Each forward step failing for good: everything before it is undone.
@pytest.mark.parametrize(
    ("op", "failed_step"),
    [
        ("airline.hold", "hold"),
        ("payments.authorise", "authorise"),
        ("airline.issue", "ticket"),
        ("payments.capture", "capture"),
    ],
)
async def test_compensation_at_every_failure_point(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, op: str, failed_step: str
) -> None:
    found = await offer(client)
    await ledger(app).set_fault(op, decline_next=1)
    try:
        response = await book(client, settings, order(found))
    finally:
        await ledger(app).clear_faults()
    booking = response.json()
    assert booking["status"] == "failed", booking
    assert booking["outcome"]["failed_step"] == failed_step
    state = await ledger(app).summary(booking["booking_id"])
    # No charge without a ticket, no orphaned hold, no authorisation left hanging.
    assert state.net_charged_paise == 0
    assert state.open_holds == 0 and state.tickets_issued == 0
    assert state.uncaptured_authorisations == 0
    assert booking["paid_paise"] == 0


async def test_lost_answers_and_transient_errors_are_retried_without_repeating(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    found = await offer(client)
    for op in ("airline.hold", "payments.authorise", "airline.issue", "payments.capture"):
        await ledger(app).set_fault(op, lose_response_next=1, fail_next=1)
    try:
        response = await book(client, settings, order(found))
    finally:
        await ledger(app).clear_faults()
    booking = response.json()
    assert booking["status"] == "confirmed", booking
    state = await ledger(app).summary(booking["booking_id"])
    assert state.captures == 1 and state.tickets_issued == 1 and state.open_holds == 0


async def test_a_changed_price_stops_before_any_money_moves(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    found = await offer(client)
    response = await book(
        client, settings, order(found, total=found["price"]["total_paise"] - 10_000)
    )
    booking = response.json()
    assert booking["status"] == "price_changed"
    assert booking["outcome"]["new_total_paise"] == found["price"]["total_paise"]
    state = await ledger(app).summary(booking["booking_id"])
    assert state.captures == 0 and state.open_holds == 0 and state.uncaptured_authorisations == 0


async def test_hold_expiry_compensates(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    app.state.services.bookings._hold_ttl_s = 1.0  # a hold that lapses while payment is slow
    await ledger(app).set_fault("payments.authorise", latency_ms=1500)
    found = await offer(client)
    try:
        response = await book(client, settings, order(found))
    finally:
        await ledger(app).clear_faults()
    booking = response.json()
    assert booking["status"] == "failed"
    assert booking["outcome"]["failed_step"] == "ticket"
    assert "hold-expired" in booking["outcome"]["detail"]
    state = await ledger(app).summary(booking["booking_id"])
    assert state.net_charged_paise == 0 and state.uncaptured_authorisations == 0


async def test_idempotency_key_semantics(client: httpx.AsyncClient, settings: Settings) -> None:
    found = await offer(client)
    body = order(found)
    missing = await client.post("/v1/bookings", json=body, headers=token(settings, "trav-1"))
    assert missing.status_code == 400
    assert missing.json()["type"] == "/problems/idempotency-key-missing"

    key = str(uuid.uuid4())
    responses = await asyncio.gather(*(book(client, settings, body, key=key) for _ in range(50)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    done = [r for r in responses if r.status_code == 201]
    assert len({r.json()["booking_id"] for r in done}) == 1
    replay = await book(client, settings, body, key=key)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["booking_id"] == done[0].json()["booking_id"]
    listed = await client.get(
        "/v1/bookings", params={"traveller": "trav-1"}, headers=token(settings, "trav-1")
    )
    ids = [b["booking_id"] for b in listed.json()]
    assert ids.count(done[0].json()["booking_id"]) == 1

    other = await book(client, settings, body | {"expected_total_paise": 1}, key=key)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-mismatch"


async def test_one_charge_for_fifty_concurrent_requests_with_one_key(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    found = await offer(client, days=12)
    key = str(uuid.uuid4())
    responses = await asyncio.gather(
        *(book(client, settings, order(found), key=key) for _ in range(50))
    )
    booking_id = next(r.json()["booking_id"] for r in responses if r.status_code == 201)
    assert (
        sum(r.status_code == 409 for r in responses) + sum(r.status_code == 201 for r in responses)
        == 50
    )
    state = await ledger(app).summary(booking_id)
    assert state.captures == 1 and state.tickets_issued == 1


async def test_a_traveller_cannot_read_or_change_another_travellers_booking(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    found = await offer(client)
    booking = (await book(client, settings, order(found), traveller="trav-a")).json()
    path = f"/v1/bookings/{booking['booking_id']}"
    assert (await client.get(path, headers=token(settings, "trav-b"))).status_code == 404
    cancelled = await cancel(client, settings, booking["booking_id"], traveller="trav-b")
    assert cancelled.status_code == 404
    listing = await client.get(
        "/v1/bookings", params={"traveller": "trav-a"}, headers=token(settings, "trav-b")
    )
    assert listing.status_code == 403
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=token(settings, "trav-a"))).status_code == 200


@pytest.mark.parametrize(("days", "fee_per_seat"), [(10, 3_000_00), (2, 4_000_00)])
async def test_cancel_applies_the_fee_by_time_to_departure(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, days: int, fee_per_seat: int
) -> None:
    found = await offer(client, days=days)
    if found["fare_family"] != "Saver":
        pytest.skip(
            "the cheapest sandbox offer is not a Saver fare: run with the default "
            "YATRI_SUPPLIER_SEED (2026)"
        )
    booking = (await book(client, settings, order(found))).json()
    assert booking["status"] == "confirmed"
    response = await cancel(client, settings, booking["booking_id"])
    cancelled = response.json()
    assert cancelled["status"] == "cancelled", cancelled
    total = found["price"]["total_paise"]
    base = found["price"]["base_paise"]
    fee = min(fee_per_seat, base)
    state = await ledger(app).summary(booking["booking_id"])
    assert state.refunded_paise == total - fee
    assert state.net_charged_paise == fee and cancelled["paid_paise"] == fee
    assert state.tickets_issued == 0 and state.open_holds == 0


async def test_modify_moves_the_flight_and_settles_the_difference(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    found = await offer(client, days=15)
    booking = (await book(client, settings, order(found))).json()
    new_date = (dt.date.fromisoformat(found["departure"][:10]) + dt.timedelta(days=1)).isoformat()
    response = await modify(client, settings, booking["booking_id"], new_date)
    moved = response.json()
    assert moved["status"] == "confirmed", moved
    assert moved["flight"]["date"] == new_date
    assert moved["references"]["ticket_number"] != booking["references"]["ticket_number"]
    state = await ledger(app).summary(booking["booking_id"])
    assert state.tickets_issued == 1 and state.open_holds == 0  # exactly one itinerary
    assert moved["paid_paise"] == state.net_charged_paise


@pytest.mark.parametrize(
    ("op", "failed_step"), [("airline.hold", "hold"), ("airline.issue", "ticket")]
)
async def test_modify_failure_keeps_the_original_itinerary(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, op: str, failed_step: str
) -> None:
    found = await offer(client, days=16)
    booking = (await book(client, settings, order(found))).json()
    await ledger(app).set_fault(op, decline_next=1)
    try:
        new_date = (dt.datetime.now(IST).date() + dt.timedelta(days=20)).isoformat()
        response = await modify(client, settings, booking["booking_id"], new_date)
    finally:
        await ledger(app).clear_faults()
    kept = response.json()
    assert kept["status"] == "confirmed" and kept["outcome"]["failed_step"] == failed_step
    assert kept["references"]["ticket_number"] == booking["references"]["ticket_number"]
    state = await ledger(app).summary(booking["booking_id"])
    assert state.tickets_issued == 1 and state.open_holds == 0
    assert state.net_charged_paise == found["price"]["total_paise"]


async def test_cancel_completes_through_supplier_failures_with_one_refund(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    found = await offer(client, days=11)
    booking = (await book(client, settings, order(found))).json()
    sandbox = ledger(app)
    await sandbox.set_fault("airline.cancel_ticket", fail_next=2, lose_response_next=1)
    await sandbox.set_fault("payments.refund", lose_response_next=1, timeout_next=1)
    try:
        response = await cancel(client, settings, booking["booking_id"])
    finally:
        await sandbox.clear_faults()
    cancelled = response.json()
    assert cancelled["status"] == "cancelled", cancelled
    state = await sandbox.summary(booking["booking_id"])
    assert state.tickets_issued == 0 and state.open_holds == 0
    assert state.refunded_paise == found["price"]["total_paise"] - state.net_charged_paise
    assert cancelled["paid_paise"] == state.net_charged_paise


HOTEL_ID = "YH0000042"  # the hotel network's (hotels/catalogue.py)


def hotel(days: int, price: int) -> dict[str, Any]:
    check_in = (dt.datetime.now(IST).date() + dt.timedelta(days=days)).isoformat()
    return {"hotel_id": HOTEL_ID, "check_in": check_in, "nights": 2, "price_paise": price}


async def stay_price(app: FastAPI, days: int, *, nights: int = 2, rooms: int = 1) -> int:
    """The hotel network's own price for the stay, every room type stocked with nine rooms
    first (about one night in ten starts sold out): what the supplier charges."""
    desk = app.state.services.extras["booking_activities"].hotel
    assert isinstance(desk, NetworkHotel)
    prop = desk.inventory.catalogue.get(HOTEL_ID)
    assert prop is not None
    check_in = dt.datetime.now(IST).date() + dt.timedelta(days=days)
    for room_type in prop.room_types:
        for night in range(nights):
            desk.inventory.set(prop, room_type, check_in + dt.timedelta(days=night), available=9)
    price = await desk.price(hotel_id=HOTEL_ID, check_in=check_in, nights=nights, rooms=rooms)
    assert price is not None
    return price.total_paise


async def test_flight_and_hotel_book_together_or_not_at_all(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    found = await offer(client, days=13)
    price = await stay_price(app, 13)
    body = order(found) | {"hotel": hotel(13, price)}
    body["expected_total_paise"] = found["price"]["total_paise"] + price
    together = (await book(client, settings, body)).json()
    assert together["status"] == "confirmed", together
    assert together["references"]["hotel_confirmation"]
    state = await ledger(app).summary(together["booking_id"])
    assert state.hotel_confirmations == 1 and state.tickets_issued == 1 and state.captures == 1

    await ledger(app).set_fault("hotel.confirm", decline_next=1)
    try:
        failed = (await book(client, settings, body)).json()
    finally:
        await ledger(app).clear_faults()
    assert failed["status"] == "failed" and failed["outcome"]["failed_step"] == "hotel_confirm"
    state = await ledger(app).summary(failed["booking_id"])
    # The ticket issued before the hotel said no is cancelled, and nothing stays charged.
    assert state.tickets_issued == 0 and state.hotel_confirmations == 0
    assert state.open_holds == 0 and state.net_charged_paise == 0


async def test_name_correction_within_the_rules(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    found = await offer(client, days=14)
    booking = (await book(client, settings, order(found))).json()
    path = f"/v1/bookings/{booking['booking_id']}/modify"
    headers = token(settings, "trav-1")
    fixed = await client.post(
        path,
        json={"travellers": [{"first_name": "Aasha0", "last_name": "Rao"}]},
        headers=headers | {"idempotency-key": str(uuid.uuid4())},
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["travellers"] == [{"first_name": "Aasha0", "last_name": "Rao"}]
    assert fixed.json()["history"][-1]["detail"] == "passenger names corrected"
    other_person = await client.post(
        path,
        json={"travellers": [{"first_name": "Rahul", "last_name": "Verma"}]},
        headers=headers | {"idempotency-key": str(uuid.uuid4())},
    )
    assert other_person.status_code == 422
    assert other_person.json()["reason"] == "name-change-not-allowed"
    state = await ledger(app).summary(booking["booking_id"])
    assert state.captures == 1 and state.refunded_paise == 0  # a correction is free


async def test_the_booking_record_survives_a_restart_of_every_process(
    settings: Settings, endpoints: Endpoints
) -> None:
    first = create_app(settings, endpoints=endpoints)
    async with (
        first.router.lifespan_context(first),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=first), base_url="http://yatri.test"
        ) as c,
    ):
        found = await offer(c, days=9)
        booking = (await book(c, settings, order(found))).json()
    assert booking["status"] == "confirmed"
    # A new app on the same data directory: nothing of the first process is left in memory.
    second = create_app(settings, endpoints=endpoints)
    async with (
        second.router.lifespan_context(second),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=second), base_url="http://yatri.test"
        ) as c,
    ):
        again = await c.get(
            f"/v1/bookings/{booking['booking_id']}", headers=token(settings, "trav-1")
        )
    assert again.status_code == 200
    assert again.json() == booking | {"outcome": None}
