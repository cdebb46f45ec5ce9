"""The agent tools end to end: the MCP SDK's own client against a real uvicorn server on
loopback serving the real app, with the real Redis, Temporal dev server, sandbox suppliers and
audit table. Search, quote, the out-of-band code, booking, cancelling, auth, the rate limit
and the audit trail; booking codes under the shared approval rules (daily cap, tries)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import httpx
import httpx2
import jwt
import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent

from api.booking_backends import BOOKINGS_DB
from bookings.consent import ApprovalCodes, ApprovalError
from core.embedded import free_port
from core.money import rupees
from core.settings import Settings
from fares.models import IST

RATE = 12
CODES_PER_DAY = 3
TOOLS = {
    "search_flights",
    "quote_booking",
    "confirm_booking",
    "get_booking",
    "modify_booking",
    "cancel_booking",
}
CONTACT = {"email": "asha@example.com", "phone": "+91 98765 43210"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "agent_rate_per_minute": RATE,
            "approval_codes_per_day": CODES_PER_DAY,
            "booking_wait_s": 30.0,
            "booking_hold_ttl_s": 120.0,
        }
    )


@pytest.fixture
async def base_url(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


def agent_token(settings: Settings, *, agent: str, traveller: str) -> str:
    claims = {
        "sub": agent,
        "scope": "bookings:agent",
        "act_for": traveller,
        "exp": int(time.time()) + 600,
    }
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm="HS256")


@asynccontextmanager
async def mcp_session(base_url: str, token: str) -> AsyncIterator[ClientSession]:
    headers = {"authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def text(result: CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, TextContent))


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    return dict(result.structured_content)


def travel_date(days: int = 10) -> str:
    return (dt.datetime.now(IST).date() + dt.timedelta(days=days)).isoformat()


def latest_code(messages: list[dict[str, Any]]) -> str:
    """The code in the newest SMS the traveller received."""
    found: list[str] = re.findall(r"\b\d{6}\b", messages[-1]["text"])
    return found[0]


async def outbox(app: FastAPI, traveller: str) -> list[dict[str, Any]]:
    services = app.state.services
    key = f"{services.settings.redis_namespace}:sandbox:outbox:{traveller}"
    return [orjson.loads(m) for m in await services.redis.lrange(key, 0, -1)]


async def audit_rows(settings: Settings, agent: str) -> list[dict[str, Any]]:
    async with aiosqlite.connect(settings.data_dir / BOOKINGS_DB) as db:
        db.row_factory = aiosqlite.Row
        async with db.execute(
            "SELECT * FROM tool_audit WHERE agent_id = ? ORDER BY id", (agent,)
        ) as cursor:
            return [dict(row) for row in await cursor.fetchall()]


async def quote(session: ClientSession, offer: dict[str, Any], date: str) -> CallToolResult:
    return await session.call_tool(
        "quote_booking",
        {
            "origin": "DEL",
            "destination": "BOM",
            "date": date,
            "flight_number": offer["flight_number"],
            "fare_family": offer["fare_family"],
            "adults": 1,
            "children": 0,
            "travellers": [{"first_name": "Asha", "last_name": "Rao"}],
            "contact": CONTACT,
        },
    )


async def first_offer(session: ClientSession, date: str) -> dict[str, Any]:
    found = ok(
        await session.call_tool(
            "search_flights", {"origin": "DEL", "destination": "BOM", "date": date}
        )
    )
    assert found["offers"], found
    return dict(found["offers"][0])


async def test_tools_are_listed_with_accurate_annotations(
    base_url: str, settings: Settings
) -> None:
    token = agent_token(settings, agent="agent-list", traveller="trav-list")
    async with mcp_session(base_url, token) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == TOOLS
    hints = {
        name: (
            a.read_only_hint,
            a.destructive_hint,
            a.idempotent_hint,
            a.open_world_hint,
        )
        for name, t in tools.items()
        if (a := t.annotations) is not None
    }
    assert hints == {
        "search_flights": (True, None, True, True),
        "quote_booking": (False, False, False, True),
        "confirm_booking": (None, True, True, True),
        "get_booking": (True, None, True, False),
        "modify_booking": (None, True, False, True),
        "cancel_booking": (None, True, True, True),
    }
    search = tools["search_flights"].input_schema["properties"]
    assert search["origin"]["pattern"] == "^[A-Z]{3}$"
    assert (search["adults"]["minimum"], search["adults"]["maximum"]) == (1, 9)
    confirm = tools["confirm_booking"].input_schema
    assert set(confirm["required"]) == {"quote_id", "confirmation"}


async def test_an_agent_books_with_the_code_sent_to_the_traveller_then_cancels(
    base_url: str, app: FastAPI, settings: Settings
) -> None:
    agent, traveller = f"agent-{uuid.uuid4().hex[:8]}", f"trav-{uuid.uuid4().hex[:8]}"
    date = travel_date()
    async with mcp_session(base_url, agent_token(settings, agent=agent, traveller=traveller)) as s:
        offer = await first_offer(s, date)
        assert set(offer) >= {"flight_number", "fare_family", "departure", "refundable", "price"}
        assert offer["price"]["display"].startswith("₹")

        quoted = await quote(s, offer, date)
        q = ok(quoted)
        assert q["total"]["total_paise"] == offer["price"]["total_paise"]
        messages = await outbox(app, traveller)
        assert len(messages) == 1
        found = re.search(r"\b(\d{6})\b", messages[0]["text"])
        assert found is not None
        code = found.group(1)
        assert code not in text(quoted) and code not in orjson.dumps(q).decode()

        wrong = f"{(int(code) + 1) % 10**6:06d}"
        refused = await s.call_tool(
            "confirm_booking", {"quote_id": q["quote_id"], "confirmation": wrong}
        )
        assert refused.is_error
        assert "code does not match (4 attempts left)" in text(refused)

        booked = ok(
            await s.call_tool("confirm_booking", {"quote_id": q["quote_id"], "confirmation": code})
        )
        assert booked["status"] == "confirmed", booked
        assert booked["traveller_id"] == traveller
        assert booked["price"]["total_paise"] == offer["price"]["total_paise"]
        assert booked["references"]["pnr"] and booked["references"]["ticket_number"]

        # The quote is the idempotency key: confirming again answers with the same booking.
        again = ok(
            await s.call_tool("confirm_booking", {"quote_id": q["quote_id"], "confirmation": code})
        )
        assert again["booking_id"] == booked["booking_id"]
        assert again["status"] == "confirmed"

        fetched = ok(await s.call_tool("get_booking", {"booking_id": booked["booking_id"]}))
        assert fetched["status"] == "confirmed"

        # Cancelling costs a fee: the traveller approves it with a code the agent never sees.
        asked = ok(await s.call_tool("cancel_booking", {"booking_id": booked["booking_id"]}))
        assert asked["status"] == "confirmation_required", asked
        refund = asked["quote"]["refund_paise"]
        assert rupees(refund) in (await outbox(app, traveller))[-1]["text"]
        refused = await s.call_tool(
            "cancel_booking", {"booking_id": booked["booking_id"], "confirmation": "000000"}
        )
        assert refused.is_error and "attempts left" in text(refused)
        approval = latest_code(await outbox(app, traveller))
        cancelled = ok(
            await s.call_tool(
                "cancel_booking", {"booking_id": booked["booking_id"], "confirmation": approval}
            )
        )
        assert cancelled["status"] == "cancelled", cancelled
        assert cancelled["paid_paise"] == booked["paid_paise"] - refund
        repeat = ok(await s.call_tool("cancel_booking", {"booking_id": booked["booking_id"]}))
        assert repeat["status"] == "cancelled"
        assert repeat["paid_paise"] == cancelled["paid_paise"]

    rows = await audit_rows(settings, agent)
    assert [r["tool"] for r in rows] == [
        "search_flights",
        "quote_booking",
        "confirm_booking",
        "confirm_booking",
        "confirm_booking",
        "get_booking",
        "cancel_booking",
        "cancel_booking",
        "cancel_booking",
        "cancel_booking",
    ]
    assert [r["outcome"] for r in rows] == ["ok", "ok", "error"] + ["ok"] * 4 + ["error"] + [
        "ok"
    ] * 2
    assert all(r["traveller_id"] == traveller for r in rows)
    assert "4 attempts left" in rows[2]["error"]
    stored = orjson.dumps(rows).decode()
    for secret in (code, wrong, approval, "asha@example.com", "98765", "Asha", "Rao"):
        assert secret not in stored, secret
    assert all(r["duration_ms"] >= 0 for r in rows)


async def test_a_quote_is_burned_after_five_wrong_codes_and_bound_to_its_traveller(
    base_url: str, app: FastAPI, settings: Settings
) -> None:
    agent, traveller = f"agent-{uuid.uuid4().hex[:8]}", f"trav-{uuid.uuid4().hex[:8]}"
    date = travel_date(12)
    token = agent_token(settings, agent=agent, traveller=traveller)
    other = agent_token(settings, agent=agent, traveller=f"{traveller}-other")
    async with mcp_session(base_url, token) as s:
        q = ok(await quote(s, await first_offer(s, date), date))
    code = re.findall(r"\b\d{6}\b", (await outbox(app, traveller))[0]["text"])[0]
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    # Another traveller's agent does not even learn that the quote exists.
    async with mcp_session(base_url, other) as s:
        result = await s.call_tool(
            "confirm_booking", {"quote_id": q["quote_id"], "confirmation": code}
        )
    assert result.is_error and "call quote_booking again" in text(result)

    async with mcp_session(base_url, token) as s:
        answers = [
            text(
                await s.call_tool(
                    "confirm_booking", {"quote_id": q["quote_id"], "confirmation": wrong}
                )
            )
            for _ in range(5)
        ]
        assert "(1 attempts left)" in answers[3]
        assert "no attempts are left" in answers[4]
        late = await s.call_tool(
            "confirm_booking", {"quote_id": q["quote_id"], "confirmation": code}
        )
    assert late.is_error
    assert "has expired or does not exist; call quote_booking again" in text(late)


async def test_booking_codes_follow_the_approval_rules_every_surface_shares(
    base_url: str, app: FastAPI, settings: Settings
) -> None:
    agent, traveller = f"agent-{uuid.uuid4().hex[:8]}", f"trav-{uuid.uuid4().hex[:8]}"
    date = travel_date(13)
    approvals: ApprovalCodes = app.state.services.approvals
    async with mcp_session(base_url, agent_token(settings, agent=agent, traveller=traveller)) as s:
        offer = await first_offer(s, date)
        quotes = [ok(await quote(s, offer, date))["quote_id"] for _ in range(CODES_PER_DAY)]
        # Asking again sends a fresh code with fresh tries: the daily cap bounds guessing.
        capped = await quote(s, offer, date)
        assert capped.is_error
        assert f"sent {CODES_PER_DAY} codes to book today" in text(capped)
        assert "try again tomorrow" in text(capped) and "retry in a few" not in text(capped)
        codes = [latest_code([m]) for m in await outbox(app, traveller)]
        assert len(codes) == CODES_PER_DAY

        # A quote's tries are counted by the approval codes, wherever the code is checked.
        wrong = f"{(int(codes[0]) + 1) % 10**6:06d}"
        args = {"quote_id": quotes[0], "confirmation": wrong}
        assert "(4 attempts left)" in text(await s.call_tool("confirm_booking", args))
        with pytest.raises(ApprovalError, match=r"\(3 attempts left\)"):
            await approvals.verify(traveller_id=traveller, action="book", scope=quotes[0],
                                   code=wrong)  # fmt: skip
        assert "(2 attempts left)" in text(await s.call_tool("confirm_booking", args))

        # Once booked, only the code that booked it answers a retry.
        right = {"quote_id": quotes[1], "confirmation": codes[1]}
        booked = ok(await s.call_tool("confirm_booking", right))
        assert booked["status"] == "confirmed", booked
        refused = await s.call_tool("confirm_booking", right | {"confirmation": codes[2]})
        assert refused.is_error and "the code does not match" in text(refused)
        again = ok(await s.call_tool("confirm_booking", right))
    assert again["booking_id"] == booked["booking_id"]


async def test_bad_arguments_are_refused_with_a_message_the_model_can_act_on(
    base_url: str, settings: Settings
) -> None:
    token = agent_token(settings, agent=f"agent-{uuid.uuid4().hex[:8]}", traveller="trav-args")
    async with mcp_session(base_url, token) as s:
        bad_code = await s.call_tool(
            "search_flights", {"origin": "Delhi", "destination": "BOM", "date": travel_date()}
        )
        too_many = await s.call_tool(
            "search_flights",
            {"origin": "DEL", "destination": "BOM", "date": travel_date(), "adults": 12},
        )
        past = await s.call_tool(
            "search_flights", {"origin": "DEL", "destination": "BOM", "date": "2020-01-01"}
        )
        missing = await s.call_tool("get_booking", {"booking_id": "bk_00000000000000000000"})
        lap_infants = await s.call_tool("quote_booking", {
            "origin": "DEL", "destination": "BOM", "date": travel_date(), "flight_number": "6E 1",
            "fare_family": "Saver", "adults": 1, "children": 0, "infants": 4,
            "travellers": [{"first_name": "Asha", "last_name": "Rao"}], "contact": CONTACT,
        })  # fmt: skip
    assert lap_infants.is_error and "infant" in text(lap_infants)
    assert bad_code.is_error and "origin" in text(bad_code) and "pattern" in text(bad_code)
    assert too_many.is_error and "adults" in text(too_many)
    assert past.is_error and "has passed" in text(past)
    assert missing.is_error and "no booking bk_00000000000000000000" in text(missing)
    assert "Traceback" not in text(bad_code) + text(past) + text(missing)


async def test_a_request_without_an_agent_token_is_refused(
    base_url: str, settings: Settings
) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"accept": "application/json, text/event-stream"}
    traveller = jwt.encode(
        {"sub": "trav-1", "scope": "bookings", "exp": int(time.time()) + 600},
        settings.secret_key.get_secret_value(),
        algorithm="HS256",
    )
    async with httpx.AsyncClient(base_url=base_url) as client:
        missing = await client.post("/mcp", json=body, headers=headers)
        forged = await client.post(
            "/mcp", json=body, headers=headers | {"authorization": "Bearer not-a-jwt"}
        )
        travellers_own = await client.post(
            "/mcp", json=body, headers=headers | {"authorization": f"Bearer {traveller}"}
        )
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.headers["content-type"] == "application/problem+json"
    assert forged.status_code == 401
    assert travellers_own.status_code == 403
    assert "bookings:agent" in travellers_own.json()["detail"]

    # The SDK's client gets no further than the handshake.
    with pytest.RaisesGroup(MCPError, flatten_subgroups=True):
        async with mcp_session(base_url, "not-a-jwt"):
            pass


async def test_an_agent_over_its_rate_gets_a_tool_error_saying_when_to_retry(
    base_url: str, settings: Settings
) -> None:
    agent = f"agent-{uuid.uuid4().hex[:8]}"
    token = agent_token(settings, agent=agent, traveller="trav-rate")
    args = {"booking_id": "bk_00000000000000000000"}
    async with mcp_session(base_url, token) as s:
        for _ in range(RATE):
            result = await s.call_tool("get_booking", args)
            assert "rate limit" not in text(result)
        limited = await s.call_tool("get_booking", args)
    assert limited.is_error
    assert re.search(rf"at most {RATE} tool calls a minute .*retry in \d+ s", text(limited))
    rows = await audit_rows(settings, agent)
    assert len(rows) == RATE + 1
    assert rows[-1]["outcome"] == "error" and "rate limit" in rows[-1]["error"]


async def test_modify_moves_the_flight_once_even_when_repeated(
    base_url: str, app: FastAPI, settings: Settings
) -> None:
    agent, traveller = f"agent-{uuid.uuid4().hex[:8]}", f"trav-{uuid.uuid4().hex[:8]}"
    date = travel_date(15)
    async with mcp_session(base_url, agent_token(settings, agent=agent, traveller=traveller)) as s:
        q = ok(await quote(s, await first_offer(s, date), date))
        code = re.findall(r"\b\d{6}\b", (await outbox(app, traveller))[0]["text"])[0]
        booked = ok(
            await s.call_tool("confirm_booking", {"quote_id": q["quote_id"], "confirmation": code})
        )
        assert booked["status"] == "confirmed", booked
        new_date = travel_date(16)
        change = {"booking_id": booked["booking_id"], "new_date": new_date}
        asked = ok(await s.call_tool("modify_booking", change))
        assert asked["status"] == "confirmation_required", asked
        due = asked["quote"]["amount_due_paise"]
        sms = (await outbox(app, traveller))[-1]["text"]
        assert rupees(abs(due)) in sms and "change fee" in sms  # the traveller sees the amount
        approval = latest_code(await outbox(app, traveller))
        moved = ok(await s.call_tool("modify_booking", change | {"confirmation": approval}))
        assert moved["status"] == "confirmed", moved
        assert moved["paid_paise"] == booked["paid_paise"] + due
        assert moved["flight"]["date"] == new_date
        ticket = moved["references"]["ticket_number"]
        assert ticket != booked["references"]["ticket_number"]

        # Asking again for the itinerary it already has changes nothing and charges nothing.
        repeated = ok(await s.call_tool("modify_booking", change))
    assert repeated["references"]["ticket_number"] == ticket
    assert repeated["paid_paise"] == moved["paid_paise"]
