"""What understanding produces: an intent and the slots it filled."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Intent(StrEnum):
    SEARCH_FLIGHTS = "search_flights"
    GREET = "greet"
    HELP = "help"
    THANKS = "thanks"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class FlightSlots:
    """Slots of a flight search. ``None`` means not said (yet)."""

    origin: str | None = None
    destination: str | None = None
    date: dt.date | None = None
    adults: int | None = None
    children: int | None = None
    infants: int | None = None
    cabin: str | None = None

    def merged_with(self, newer: FlightSlots) -> FlightSlots:
        """These slots, overridden by every slot ``newer`` states."""
        changes: dict[str, Any] = {k: v for k, v in newer.as_dict().items() if v is not None}
        return replace(self, **changes)

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    def missing(self) -> list[str]:
        return [name for name in ("origin", "destination", "date") if getattr(self, name) is None]

    def is_empty(self) -> bool:
        return all(v is None for v in self.as_dict().values())


@dataclass(frozen=True, slots=True)
class Understanding:
    intent: Intent
    slots: FlightSlots = field(default_factory=FlightSlots)
    # Places named but not recognised as airports, so the reply can say so.
    unknown_places: tuple[str, ...] = ()
