"""The turn engine: every typed or spoken turn comes here. It loads the conversation, understands
the text, decides, acts through the platform services and stores the new state."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.airports import AirportDirectory
from core.errors import InvalidRequestError, SupplierError
from core.logging import get_logger
from core.money import rupees
from core.redaction import redact_text
from core.telemetry import TURNS
from fares.models import (
    IST,
    Cabin,
    FareOffer,
    FareQuery,
    FareResult,
    Passengers,
    cheapest_per_flight,
)
from fares.service import FareService
from intents.models import FlightSlots, Intent
from intents.nlu import understand
from intents.policy import Action, Decision, DialogueState, decide
from sessions.replies import (
    CAPABILITIES,
    QUESTIONS,
    long_date,
    place,
    search_reply,
    unknown_place_reply,
)
from sessions.store import Conversation, SessionStore, TurnRecord

log = get_logger(__name__)

MAX_OFFERS_RETURNED = 10


@dataclass(frozen=True, slots=True)
class TurnResult:
    session_id: str
    reply: str
    intent: str
    slots: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def slots_to_json(slots: FlightSlots) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, dt.date) else v)
        for k, v in slots.as_dict().items()
        if v is not None
    }


def slots_from_json(raw: dict[str, Any]) -> FlightSlots:
    values = dict(raw)
    if isinstance(values.get("date"), str):
        values["date"] = dt.date.fromisoformat(values["date"])
    known = set(FlightSlots.__slots__)
    return FlightSlots(**{k: v for k, v in values.items() if k in known})


def offer_json(offer: FareOffer) -> dict[str, Any]:
    return {
        "offer_id": offer.offer_id,
        "carrier": offer.carrier_name,
        "carrier_code": offer.carrier_code,
        "flight_number": offer.flight_number,
        "from": offer.origin,
        "to": offer.destination,
        "departure": offer.departure.isoformat(),
        "arrival": offer.arrival.isoformat(),
        "duration_minutes": offer.duration_minutes,
        "cabin": offer.cabin.value,
        "fare_family": offer.fare_family,
        "refundable": offer.refundable,
        "seats_left": offer.seats_left,
        "price": {
            "currency": offer.price.currency,
            "total_paise": offer.price.total,
            "base_paise": offer.price.base,
            "taxes_paise": offer.price.taxes,
            "fees_paise": offer.price.fees,
            "display": rupees(offer.price.total),
        },
        "supplier": offer.supplier,
    }


class TurnEngine:
    def __init__(
        self,
        *,
        store: SessionStore,
        fares: FareService,
        airports: AirportDirectory,
        history_turns: int,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._store = store
        self._fares = fares
        self._airports = airports
        self._history_turns = history_turns
        self._clock = clock

    async def handle(self, *, text: str, session_id: str | None, channel: str) -> TurnResult:
        session_id = session_id or new_session_id()
        async with self._store.lock(session_id):
            now = self._clock()
            conversation = await self._store.load(session_id) or Conversation(
                session_id=session_id, channel=channel, created_at=now, updated_at=now
            )
            state = DialogueState(
                slots=slots_from_json(conversation.slots),
                last_intent=Intent(conversation.last_intent) if conversation.last_intent else None,
            )
            understanding = understand(
                text,
                today=now.astimezone(IST).date(),
                airports=self._airports,
                context=state.slots,
            )
            decision = decide(understanding, state)
            reply, data = await self._act(decision)
            self._record(conversation, text=text, reply=reply, decision=decision, now=now)
            await self._store.save(conversation)
        TURNS.labels(channel, decision.intent.value).inc()
        log.info(
            "turn handled",
            session_id=session_id,
            channel=channel,
            intent=decision.intent.value,
            action=decision.action.value,
            turn=conversation.turns,
        )
        return TurnResult(
            session_id=session_id,
            reply=reply,
            intent=decision.intent.value,
            slots=conversation.slots,
            data=data,
        )

    def _record(
        self,
        conversation: Conversation,
        *,
        text: str,
        reply: str,
        decision: Decision,
        now: dt.datetime,
    ) -> None:
        conversation.turns += 1
        conversation.updated_at = now
        conversation.last_intent = decision.intent.value
        conversation.slots = slots_to_json(decision.slots)
        conversation.history.extend(
            [
                TurnRecord(
                    role="traveller", text=redact_text(text), at=now, intent=decision.intent
                ),
                TurnRecord(role="yatri", text=reply, at=now),
            ]
        )
        del conversation.history[: -2 * self._history_turns]

    async def _act(self, decision: Decision) -> tuple[str, dict[str, Any]]:
        match decision.action:
            case Action.SEARCH_FLIGHTS:
                return await self._search(decision.slots)
            case Action.ASK:
                question = QUESTIONS[decision.ask_for or "date"]
                if decision.unknown_place:
                    question = unknown_place_reply(decision.unknown_place, question, self._airports)
                return question, {"ask_for": decision.ask_for}
            case Action.GREET:
                return "Namaste! " + CAPABILITIES, {}
            case Action.HELP:
                return CAPABILITIES, {}
            case Action.THANKS:
                return "You're welcome! Anything else I can look up for you?", {}
            case Action.FALLBACK:
                return "Sorry, I didn't get that. " + CAPABILITIES, {}

    async def _search(self, slots: FlightSlots) -> tuple[str, dict[str, Any]]:
        if not (slots.origin and slots.destination and slots.date):
            return QUESTIONS[slots.missing()[0]], {"ask_for": slots.missing()[0]}
        query = FareQuery(
            origin=slots.origin,
            destination=slots.destination,
            date=slots.date,
            passengers=Passengers(
                adults=slots.adults or 1, children=slots.children or 0, infants=slots.infants or 0
            ),
            cabin=Cabin(slots.cabin) if slots.cabin else Cabin.ECONOMY,
        )
        if slots.date < self._clock().astimezone(IST).date():
            return (
                f"That date has passed ({long_date(slots.date)} {slots.date.year}). "
                + QUESTIONS["date"],
                {"problem": "that date has passed", "ask_for": "date"},
            )
        try:
            result = await self._fares.search(query)
        except InvalidRequestError as e:
            return f"I can't search that: {e.detail}.", {"problem": e.detail}
        except SupplierError:
            log.warning("fare search failed", route=query.key)
            return (
                f"The airlines aren't answering right now for {place(query.origin, self._airports)}"
                f" to {place(query.destination, self._airports)} on {long_date(query.date)}."
                " Please try again in a minute.",
                {"problem": "supplier_unavailable"},
            )
        return search_reply(result, self._airports), _result_json(result)


def _result_json(result: FareResult) -> dict[str, Any]:
    flights = cheapest_per_flight(result.offers)
    return {
        "query": {
            "from": result.query.origin,
            "to": result.query.destination,
            "date": result.query.date.isoformat(),
            "adults": result.query.passengers.adults,
            "children": result.query.passengers.children,
            "infants": result.query.passengers.infants,
            "cabin": result.query.cabin.value,
        },
        "source": result.source.value,
        "age_ms": result.age_ms,
        "flights_found": len(flights),
        "fares": [offer_json(o) for o in flights[:MAX_OFFERS_RETURNED]],
        "hidden": hidden_json(result),
    }


def hidden_json(result: FareResult) -> dict[str, Any]:
    """What a search left out and why (flights too close to departure to book)."""
    return {
        "offers": result.hidden_offers,
        "flights": result.hidden_flights,
        "reason": "booking-closed" if result.hidden_flights else None,
        "detail": result.hidden_reason,
    }
