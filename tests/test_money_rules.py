"""Money and trust (#10), end to end against the real Temporal dev server, Redis and the
sandbox suppliers' ledger: prices come from suppliers, money moves only at a quote the
traveller saw, agents never move money without the traveller, and idempotency keys are never
stranded."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from typing import Any

import httpx
import jwt
import orjson
import pytest
from fastapi import FastAPI

from api.auth import BookingActor
from bookings.consent import ApprovalCodes, ApprovalCodesExhaustedError, ApprovalError
from bookings.service import booking_id_for
from core.settings import Settings
from fares.models import IST
from tests.test_bookings import HOTEL_ID, book, ledger, offer, order, stay_price, token

AGENT_RATE = 4


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"booking_wait_s": 30.0, "booking_hold_ttl_s": 120.0,
                "agent_rate_per_minute": AGENT_RATE}
    )  # fmt: skip


def agent(settings: Settings, *, agent_id: str, traveller: str) -> dict[str, str]:
    claims = {"sub": agent_id, "scope": "bookings:agent", "act_for": traveller,
              "exp": int(time.time()) + 600}  # fmt: skip
    encoded = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm="HS256")
    return {"authorization": f"Bearer {encoded}"}


def stay(days: int, *, nights: int, rooms: int, price: int, hotel: str = HOTEL_ID) -> dict[str, Any]:  # fmt: skip
    check_in = (dt.datetime.now(IST).date() + dt.timedelta(days=days)).isoformat()
    return {"hotel_id": hotel, "check_in": check_in, "nights": nights, "rooms": rooms,
            "price_paise": price}  # fmt: skip


def hotel_only(hotel: dict[str, Any], total: int) -> dict[str, Any]:
    return {"hotel": hotel, "expected_total_paise": total,
            "travellers": [{"first_name": "Asha", "last_name": "Rao"}],
            "contact": {"email": "asha@example.com", "phone": "+91 98765 43210"}}  # fmt: skip


async def test_a_hotel_is_charged_at_the_suppliers_price_never_the_clients(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    # 9 rooms for 10 nights "at 1 paisa": stopped before money moves, with the real price.
    real = await stay_price(app, 20, nights=10, rooms=9)
    cheap = await book(client, settings, hotel_only(stay(20, nights=10, rooms=9, price=1), 1))
    stopped = cheap.json()
    assert stopped["status"] == "price_changed", stopped
    assert stopped["outcome"]["new_total_paise"] == real
    state = await ledger(app).summary(stopped["booking_id"])
    assert state.net_charged_paise == 0 and state.open_holds == 0

    # Agreeing to the supplier's total books it, and that is what is charged.
    agreed = await book(client, settings, hotel_only(stay(20, nights=10, rooms=9, price=1), real))
    assert agreed.json()["status"] == "confirmed", agreed.text
    state = await ledger(app).summary(agreed.json()["booking_id"])
    assert state.net_charged_paise == real and state.hotel_confirmations == 1

    # A hotel no supplier sells is never confirmed, whatever the client says it costs.
    ghost = await book(client, settings,
                       hotel_only(stay(20, nights=2, rooms=1, price=500_000,
                                       hotel="YH9999999"), 500_000))  # fmt: skip
    failed = ghost.json()
    assert failed["status"] == "failed" and failed["outcome"]["failed_step"] == "hotel_price"
    state = await ledger(app).summary(failed["booking_id"])
    assert state.net_charged_paise == 0 and state.hotel_confirmations == 0


async def test_changes_and_cancellations_move_exactly_the_quoted_amount(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    found = await offer(client, days=17)
    booking = (await book(client, settings, order(found))).json()
    assert booking["status"] == "confirmed"
    booking_id, paid = booking["booking_id"], found["price"]["total_paise"]
    path = f"/v1/bookings/{booking_id}"
    headers = token(settings, "trav-1")

    def key() -> dict[str, str]:
        return headers | {"idempotency-key": str(uuid.uuid4())}

    new_date = (dt.date.fromisoformat(found["departure"][:10]) + dt.timedelta(days=2)).isoformat()
    blind = await client.post(path + "/modify", json={"new_date": new_date}, headers=key())
    assert blind.status_code == 428 and blind.json()["type"] == "/problems/quote-required"

    before = await ledger(app).summary(booking_id)
    quoted = await client.post(path + "/modify/quote", json={"new_date": new_date},
                               headers=headers)  # fmt: skip
    assert quoted.status_code == 200, quoted.text
    quote = quoted.json()
    assert quote["amount_due_paise"] == quote["fare_difference_paise"] + quote["fee_paise"]
    assert quote["fee_paise"] > 0 or found["fare_family"] != "Saver"
    assert "₹" in quote["summary"]
    assert await ledger(app).summary(booking_id) == before  # a quote moves nothing

    wrong = await client.post(
        path + "/modify",
        json={"new_date": new_date, "expected_change_paise": quote["amount_due_paise"] + 100},
        headers=key(),
    )
    assert wrong.status_code == 409 and wrong.json()["type"] == "/problems/quote-mismatch"
    assert wrong.json()["quote"]["amount_due_paise"] == quote["amount_due_paise"]
    assert await ledger(app).summary(booking_id) == before

    moved = await client.post(path + "/modify", json={"quote_id": quote["quote_id"]},
                              headers=key())  # fmt: skip
    assert moved.json()["status"] == "confirmed", moved.text
    assert moved.json()["flight"]["date"] == new_date
    state = await ledger(app).summary(booking_id)
    assert state.net_charged_paise == paid + quote["amount_due_paise"]
    # The quote was for the booking as it was: it cannot be spent twice.
    again = await client.post(path + "/modify", json={"quote_id": quote["quote_id"]},
                              headers=key())  # fmt: skip
    assert again.status_code == 409

    blind = await client.post(path + "/cancel", headers=key())
    assert blind.status_code == 428
    cancel_quote = (await client.post(path + "/cancel/quote", headers=headers)).json()
    assert cancel_quote["refund_paise"] + cancel_quote["fee_paise"] == state.net_charged_paise
    wrong = await client.post(path + "/cancel", headers=key(),
                              json={"expected_refund_paise": cancel_quote["refund_paise"] + 1})  # fmt: skip
    assert wrong.status_code == 409 and wrong.json()["type"] == "/problems/quote-mismatch"
    assert (await ledger(app).summary(booking_id)).refunded_paise == state.refunded_paise
    cancelled = await client.post(path + "/cancel", json={"quote_id": cancel_quote["quote_id"]},
                                  headers=key())  # fmt: skip
    assert cancelled.json()["status"] == "cancelled", cancelled.text
    after = await ledger(app).summary(booking_id)
    assert after.refunded_paise - state.refunded_paise == cancel_quote["refund_paise"]
    assert after.net_charged_paise == cancel_quote["fee_paise"]


async def test_an_agent_cannot_move_money_over_rest_and_every_call_is_limited_and_audited(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    found = await offer(client, days=18)
    mine = (await book(client, settings, order(found), traveller="trav-ag")).json()
    as_agent = agent(settings, agent_id="agent-rest", traveller="trav-ag")

    booked = await client.post("/v1/bookings", json=order(found),
                               headers=as_agent | {"idempotency-key": str(uuid.uuid4())})  # fmt: skip
    assert booked.status_code == 403
    assert booked.json()["type"] == "/problems/agent-approval-required"
    assert booked.json()["approval_flow"] == "/mcp"
    cancel = await client.post(f"/v1/bookings/{mine['booking_id']}/cancel",
                               json={"expected_refund_paise": 1},
                               headers=as_agent | {"idempotency-key": str(uuid.uuid4())})  # fmt: skip
    assert cancel.status_code == 403
    read = await client.get(f"/v1/bookings/{mine['booking_id']}", headers=as_agent)
    assert read.status_code == 200
    state = await ledger(app).summary(mine["booking_id"])
    assert state.captures == 1 and state.refunded_paise == 0  # nothing moved

    over = await client.get(f"/v1/bookings/{mine['booking_id']}", headers=as_agent)
    assert over.status_code == 200  # the 4th call of AGENT_RATE
    limited = await client.get(f"/v1/bookings/{mine['booking_id']}", headers=as_agent)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0

    audit = app.state.services.audit
    rows = await audit.entries(agent_id="agent-rest")
    tools = sorted(r.tool for r in rows)
    assert tools.count("rest:POST /v1/bookings") == 1
    assert tools.count("rest:GET /v1/bookings/{booking_id}") == 3
    assert all(r.traveller_id == "trav-ag" for r in rows)
    refused = [r for r in rows if r.tool == "rest:POST /v1/bookings"][0]
    assert refused.outcome == "error" and "agent-approval-required" in (refused.error or "")


async def test_approval_codes_are_capped_per_traveller_and_action_a_day(app: FastAPI) -> None:
    codes: ApprovalCodes = app.state.services.approvals
    cap = app.state.services.settings.approval_codes_per_day
    traveller = f"trav-cap-{uuid.uuid4().hex[:6]}"
    for i in range(cap):
        await codes.request(traveller_id=traveller, action="cancel", scope=f"bk_{i}",
                            subject=f"cq_{i}", text="code {code} for ₹1,000")  # fmt: skip
    with pytest.raises(ApprovalCodesExhaustedError) as capped:
        await codes.request(traveller_id=traveller, action="cancel", scope="bk_x",
                            subject="cq_x", text="code {code}")  # fmt: skip
    assert capped.value.status == 429 and capped.value.retry_after_s > 0
    # Another kind of action has its own allowance.
    await codes.request(traveller_id=traveller, action="modify", scope="bk_0", subject="mq_0",
                        text="code {code}")  # fmt: skip
    # Five wrong tries burn a code: the right one no longer works after them.
    for _ in range(5):
        with pytest.raises(ApprovalError):
            await codes.verify(traveller_id=traveller, action="modify", scope="bk_0",
                               code="000000")  # fmt: skip
    with pytest.raises(ApprovalError, match="no code is pending|too many"):
        await codes.verify(traveller_id=traveller, action="modify", scope="bk_0", code="123456")


def _record_key(settings: Settings, actor: BookingActor, key: str) -> str:
    scoped = hashlib.sha256(actor.name.encode() + b"\n" + key.encode()).hexdigest()
    return f"{settings.redis_namespace}:idem:{scoped}"


async def test_idempotency_keys_are_never_stranded(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    redis = app.state.services.redis
    found = await offer(client, days=19)

    # An amount past 64 bits is a 422, and the key stays free for the corrected request.
    key = str(uuid.uuid4())
    huge = order(found) | {"expected_total_paise": 1180591620717411303424}
    refused = await book(client, settings, huge, key=key)
    assert refused.status_code == 422 and refused.json()["type"] == "/problems/validation-error"
    assert (await book(client, settings, order(found), key=key)).status_code == 201

    # A request whose process died after the booking was made left its key "running": the
    # retry answers with that booking instead of 409 for a day.
    key = str(uuid.uuid4())
    first = (await book(client, settings, order(found), key=key)).json()
    actor = BookingActor(traveller_id="trav-1")
    died = {"fingerprint": None, "state": "running", "since": time.time()}
    stored = orjson.loads(await redis.get(_record_key(settings, actor, key)))
    await redis.set(_record_key(settings, actor, key),
                    orjson.dumps(died | {"fingerprint": stored["fingerprint"]}))  # fmt: skip
    retry = await book(client, settings, order(found), key=key)
    assert retry.status_code == 201 and retry.json()["booking_id"] == first["booking_id"]
    assert retry.json()["status"] == "confirmed"

    # One that died before anything was booked is finished by the retry once it is stale.
    key = str(uuid.uuid4())
    # (the same body, so the same fingerprint as the request above)
    stale = died | {"fingerprint": stored["fingerprint"], "since": time.time() - 3600}
    await redis.set(_record_key(settings, actor, key), orjson.dumps(stale))
    taken = await book(client, settings, order(found), key=key)
    assert taken.status_code == 201, taken.text
    booking_id = booking_id_for(actor=actor.name, idempotency_key=key)
    assert taken.json()["booking_id"] == booking_id
    assert (await ledger(app).summary(booking_id)).captures == 1


def test_an_agents_key_names_a_different_operation_for_each_traveller() -> None:
    for_a = BookingActor(traveller_id="trav-a", agent_id="agent-1")
    for_b = BookingActor(traveller_id="trav-b", agent_id="agent-1")
    assert for_a.name != for_b.name
    assert booking_id_for(actor=for_a.name, idempotency_key="k") != booking_id_for(
        actor=for_b.name, idempotency_key="k"
    )
