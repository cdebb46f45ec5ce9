"""What understanding produces: an intent and the slots it filled."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Intent(StrEnum):
    """The intent catalogue (see intents/parse.py for the slots each may carry)."""

    SEARCH_FLIGHTS = "search_flights"
    SELECT_OFFER = "select_offer"
    BOOK = "book"
    PROVIDE_TRAVELLER_DETAILS = "provide_traveller_details"
    AFFIRM = "affirm"
    DENY = "deny"
    BOOKING_STATUS = "booking_status"
    MODIFY_BOOKING = "modify_booking"
    CANCEL_BOOKING = "cancel_booking"
    POLICY_QUESTION = "policy_question"
    SEARCH_HOTELS = "search_hotels"
    SEARCH_TRAINS = "search_trains"
    SEARCH_BUSES = "search_buses"
    GREET = "greet"
    HELP = "help"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    HUMAN_AGENT = "human_agent"
    NEVERMIND = "nevermind"  # drop what we are doing ("never mind", "forget it")
    OUT_OF_SCOPE = "out_of_scope"
    UNKNOWN = "unknown"  # the rule-based reader found nothing (kept for its callers)


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
