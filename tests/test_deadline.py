"""One deadline per request: the route sets it, the services below honour it. A supplier that
hangs past it gets the engine's own reply or the stale fallback, never a 504; a service with no
request deadline keeps its own timeouts. End to end through the real app (Redis, Temporal, the
sandbox airline's injected latency)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.deps import Services
from api.turns import turn_handler
from bookings.models import BookingStatus, Contact, FlightSelection, Traveller
from bookings.service import BookingOrder, booking_id_for
from bookings.suppliers.sandbox import SandboxLedger
from core.airports import load_airports
from core.deadline import (
    answer_within,
    call_budget,
    call_deadline,
    current,
    remaining,
    request_deadline,
    time_for_calls,
)
from core.embedded import Endpoints
from core.errors import DeadlineExceededError, SupplierTimeoutError
from core.settings import Settings
from fares.models import IST, FareQuery
from fares.service import FareService, SupplierGuard
from fares.suppliers.sandbox import SandboxAirline, SandboxFaults
from rag.answers import AnswerService
from rag.retrieval import Passage

AIRPORTS = load_airports()
CORPUS = Path(__file__).parent.parent / "examples" / "policies"
HANG_MS = 60_000.0  # far past any deadline here
SEARCH = "flights from Delhi to Mumbai tomorrow"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the helper ---------------------------------------------------------------------------


def test_without_a_request_deadline_calls_keep_their_own_timeouts() -> None:
    assert current() is None and remaining() is None and time_for_calls() is None
    assert call_budget(3.0) == 3.0
    assert 2.9 < call_deadline(3.0).remaining() <= 3.0


def test_a_call_gets_the_smaller_of_its_own_timeout_and_what_the_request_leaves() -> None:
    clock = FakeClock()
    with request_deadline(5.0, reserve_s=1.0, clock=clock) as deadline:
        assert deadline.remaining() == 5.0 and time_for_calls() == 4.0
        assert call_budget(10.0) == 4.0 and call_budget(2.0) == 2.0
        clock.now += 4.5
        assert remaining() == 0.5 and call_budget(10.0) == 0.0  # the reserve is the reply's
    assert current() is None


def test_the_reserve_is_at_most_half_the_deadline() -> None:
    with request_deadline(0.4, reserve_s=1.0, clock=FakeClock()):
        assert time_for_calls() == pytest.approx(0.2)


def test_nested_deadlines_take_the_earlier_one() -> None:
    clock = FakeClock()
    with request_deadline(10.0, reserve_s=1.0, clock=clock):
        with request_deadline(2.0, reserve_s=0.5, clock=clock):
            assert remaining() == 2.0 and time_for_calls() == 1.5
        with request_deadline(60.0, reserve_s=0.0, clock=clock):
            assert remaining() == 10.0 and time_for_calls() == 9.0
        assert remaining() == 10.0 and time_for_calls() == 9.0
    assert current() is None


async def test_tasks_started_inside_see_the_deadline() -> None:
    async def seen() -> float | None:
        return remaining()

    with request_deadline(5.0):
        inside = await asyncio.create_task(seen())
    outside = await asyncio.create_task(seen())
    assert inside is not None and 0 < inside <= 5.0
    assert outside is None


async def test_the_route_backstop_still_answers_504_for_work_that_ignores_the_deadline() -> None:
    with pytest.raises(DeadlineExceededError, match=r"no answer within 0\.05 s"):
        async with answer_within(0.05):
            await asyncio.sleep(30)
    assert current() is None


async def test_a_timeout_of_the_body_s_own_is_not_the_request_deadline() -> None:
    with pytest.raises(TimeoutError):
        async with answer_within(30):
            async with asyncio.timeout(0.01):
                await asyncio.sleep(30)


# --- the fare service, without an app ----------------------------------------------------


def _service(*, supplier_timeout_s: float) -> FareService:
    airline = SandboxAirline(airports=AIRPORTS, seed=3, faults=SandboxFaults(latency_ms=HANG_MS))
    guard = SupplierGuard.for_supplier(f"sbx-{uuid.uuid4().hex[:6]}",
                                       timeout_s=supplier_timeout_s, max_attempts=1)  # fmt: skip
    return FareService(supplier=airline, airports=AIRPORTS, guard=guard, deadline_s=30.0)


def _query() -> FareQuery:
    return FareQuery("DEL", "BOM", dt.datetime.now(IST).date() + dt.timedelta(days=9))


async def test_fare_search_without_a_request_deadline_uses_the_supplier_timeout() -> None:
    with pytest.raises(SupplierTimeoutError) as caught:
        await _service(supplier_timeout_s=0.2).search(_query())
    assert caught.value.extensions["timeout_s"] == pytest.approx(0.2)


async def test_fare_search_inside_a_request_deadline_gets_only_what_is_left() -> None:
    service = _service(supplier_timeout_s=30.0)
    with request_deadline(0.6, reserve_s=0.2), pytest.raises(SupplierTimeoutError) as caught:
        await service.search(_query())
    assert 0 < caught.value.extensions["timeout_s"] <= 0.4


# --- the app --------------------------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "request_timeout_s": 3.0,
            "request_reply_reserve_s": 1.0,
            # Longer than the request: only the request's deadline can stop the call in time.
            "supplier_timeout_s": 30.0,
            "supplier_max_attempts": 1,
            # Nothing cached but what a test puts there.
            "redis_namespace": f"t{uuid.uuid4().hex[:8]}",
            "fare_warm_routes": [],
        }
    )


def services(app: FastAPI) -> Services:
    found: Services = app.state.services
    return found


def hang_the_airline(app: FastAPI) -> None:
    airline = services(app).extras["airline"]
    assert isinstance(airline, SandboxAirline)
    airline.faults.latency_ms = HANG_MS


async def test_a_hung_airline_gets_the_engines_reply_not_a_504(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    hang_the_airline(app)
    r = await client.post("/v1/chat", json={"text": SEARCH})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["intent"] == "search_flights"
    assert body["data"]["problem"] == "supplier_unavailable"
    assert "airlines aren't answering" in body["reply"]
    assert "Mumbai" in body["reply"]


async def test_a_hung_airline_with_stale_fares_serves_them_flagged(
    settings: Settings, endpoints: Endpoints
) -> None:
    quick = settings.model_copy(update={"fare_fresh_s": 0.3, "supplier_latency_ms": 5})
    app = create_app(quick, endpoints=endpoints)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            first = await c.post("/v1/chat", json={"text": SEARCH})
            assert first.status_code == 200 and first.json()["data"]["source"] == "live"
            await asyncio.sleep(0.5)  # past the freshness window: only a fallback now
            hang_the_airline(app)
            r = await c.post("/v1/chat", json={"text": SEARCH})
            fares = await c.get("/v1/fares", params={
                "from": "DEL", "to": "BOM",
                "date": (dt.datetime.now(IST).date() + dt.timedelta(days=1)).isoformat(),
            })  # fmt: skip
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["source"] == "stale_fallback" and data["age_ms"] >= 300
    shown = {(f["flight_number"], f["price"]["total_paise"]) for f in data["fares"]}
    before = {(f["flight_number"], f["price"]["total_paise"])
              for f in first.json()["data"]["fares"]}  # fmt: skip
    assert shown and shown <= before
    assert fares.status_code == 200, fares.text
    body = fares.json()
    assert body["source"] == "stale_fallback" and body["price_confirmation_required"] is True
    assert fares.headers["cache-control"] == "no-store"


async def test_the_fares_route_answers_a_supplier_timeout_not_the_request_deadline(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    hang_the_airline(app)
    date = (dt.datetime.now(IST).date() + dt.timedelta(days=4)).isoformat()
    r = await client.get("/v1/fares", params={"from": "DEL", "to": "BOM", "date": date})
    assert r.status_code == 504
    assert r.json()["type"] == "/problems/supplier-timeout"  # the service's answer, in time


async def test_a_spoken_turn_gets_the_engines_reply(app: FastAPI) -> None:
    hang_the_airline(app)
    turn = turn_handler(services(app), session_id=f"call-{uuid.uuid4().hex}", channel="phone")
    reply = await turn(SEARCH)
    assert "airlines aren't answering" in reply.text
    assert reply.data["intent"] == "search_flights"


async def test_a_slow_booking_is_answered_pending_within_the_deadline(app: FastAPI) -> None:
    found = services(app)
    bookings = found.bookings
    ledger = found.extras["sandbox_ledger"]
    assert bookings is not None and isinstance(ledger, SandboxLedger)
    day = dt.datetime.now(IST).date() + dt.timedelta(days=10)
    result = await found.fares.search(FareQuery("DEL", "BOM", day))
    offer = result.offers[0]
    order = BookingOrder(
        expected_total_paise=offer.price.total,
        travellers=(Traveller(first_name="Asha", last_name="Rao"),),
        contact=Contact(email="asha@example.com", phone="+91 98765 43210"),
        flight=FlightSelection(origin="DEL", destination="BOM", date=day,
                               flight_number=offer.flight_number, fare_family=offer.fare_family),
    )  # fmt: skip
    traveller = f"trav-{uuid.uuid4().hex[:8]}"
    booking_id = booking_id_for(actor=f"traveller:{traveller}", idempotency_key="deadline")
    await ledger.set_fault("payments.authorise", latency_ms=4000)
    try:
        async with answer_within(1.0, reserve_s=0.2):
            answer = await bookings.book(booking_id=booking_id, traveller_id=traveller,
                                         order=order)  # fmt: skip
        assert answer.outcome is None and answer.record.status is BookingStatus.PENDING
        # The workflow goes on without the request and confirms the booking.
        async with asyncio.timeout(60):
            await found.temporal.get_workflow_handle(booking_id).result()
        record = await bookings.get(booking_id, traveller_id=traveller)
        assert record.status is BookingStatus.CONFIRMED
    finally:
        await ledger.clear_faults()


class StalledWriter:
    """An answer writer (the LLM's port) whose model never answers."""

    def __init__(self) -> None:
        self.asked = 0

    async def write(self, question: str, passages: Sequence[Passage]) -> str | None:
        self.asked += 1
        await asyncio.Event().wait()
        return None


async def test_a_stalled_llm_gives_the_extractive_answer_within_the_deadline(
    app: FastAPI,
) -> None:
    knowledge = services(app).knowledge
    path = CORPUS / "skyindia-baggage-2026.md"
    await knowledge.ingest.ingest(path.read_bytes(), filename=path.name,
                                  source_uri=path.resolve().as_uri())  # fmt: skip
    writer = StalledWriter()
    answers = AnswerService(retriever=knowledge.retriever, embeddings=knowledge.embeddings,
                            confidence_floor=0.3, writer=writer)  # fmt: skip
    async with answer_within(3.0, reserve_s=1.0):
        answer = await answers.answer("How heavy can my cabin bag be on SkyIndia?")
    assert writer.asked == 1
    assert answer.grounded and not answer.generated
    assert answer.citations and answer.citations[0].document.startswith("skyindia-baggage")
    assert all(c.quote in answer.answer for c in answer.citations)
