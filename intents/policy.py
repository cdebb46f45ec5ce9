"""The dialogue policy: given what was understood and what the conversation already holds,
decide the next action. A small state machine, read top to bottom."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from intents.models import FlightSlots, Intent, Understanding


class Action(StrEnum):
    SEARCH_FLIGHTS = "search_flights"
    ASK = "ask"
    GREET = "greet"
    HELP = "help"
    THANKS = "thanks"
    FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class DialogueState:
    slots: FlightSlots = FlightSlots()
    last_intent: Intent | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    intent: Intent
    slots: FlightSlots
    ask_for: str | None = None
    unknown_place: str | None = None


def decide(understanding: Understanding, state: DialogueState) -> Decision:
    intent = understanding.intent
    if intent is not Intent.SEARCH_FLIGHTS:
        simple = {
            Intent.GREET: Action.GREET,
            Intent.HELP: Action.HELP,
            Intent.THANKS: Action.THANKS,
            Intent.UNKNOWN: Action.FALLBACK,
        }
        return Decision(simple[intent], intent, state.slots)

    slots = state.slots.merged_with(understanding.slots)
    missing = slots.missing()
    if understanding.unknown_places and ({"origin", "destination"} & set(missing)):
        return Decision(
            Action.ASK,
            intent,
            slots,
            ask_for=next(m for m in missing if m in ("origin", "destination")),
            unknown_place=understanding.unknown_places[0],
        )
    if missing:
        return Decision(Action.ASK, intent, slots, ask_for=missing[0])
    return Decision(Action.SEARCH_FLIGHTS, intent, slots)
