"""The first rule-based reader (intents/nlu.py) behind the `IntentParser` port: flight
searches and small talk only. It is the engine's parser where no retrieval parser is wired,
and the baseline the understanding benchmark compares with."""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.airports import AirportDirectory
from intents.models import FlightSlots, Intent
from intents.nlu import understand
from intents.parse import Parse, ParseContext, Slot

_KNOWN = ("origin", "destination", "date", "adults", "children", "infants", "cabin")


class RuleParser:
    def __init__(self, airports: AirportDirectory) -> None:
        self._airports = airports

    async def parse(
        self, text: str, *, today: dt.date, context: ParseContext | None = None
    ) -> Parse:
        known = context.known if context else {}
        flight_context = FlightSlots(
            origin=known.get("origin"), destination=known.get("destination")
        )
        understood = understand(text, today=today, airports=self._airports, context=flight_context)
        slots = []
        for name, value in understood.slots.as_dict().items():
            if value is None:
                continue
            normalized: Any = value.isoformat() if isinstance(value, dt.date) else value
            slots.append(Slot(name=name, value=str(value), normalized=normalized, start=0,
                              end=len(text), confidence=0.9))  # fmt: skip
        for name in understood.unknown_places:  # named, but no airport by that name
            start = max(0, text.lower().find(name))
            slots.append(Slot(name="place", value=name, normalized=None, start=start,
                              end=start + len(name), confidence=0.0))  # fmt: skip
        intent = understood.intent
        if intent is Intent.UNKNOWN:
            intent = Intent.OUT_OF_SCOPE
        return Parse(text=text, intent=intent, confidence=0.9 if slots else 0.5,
                     slots=tuple(slots))  # fmt: skip
