"""The understanding contract: what `POST /v1/intents/parse` answers and what the dialogue
engine consumes. One utterance in, the intent with its confidence and close alternatives, and
every slot with the span it came from, its normalised value and a confidence.

Slot names (normalised value in brackets):
  origin, destination, city            [IATA code of the place; `candidates` when unsure]
  date, return_date, check_in, check_out   [ISO date]
  time_of_day                          ["morning" | "afternoon" | "evening" | "night" | "HH:MM"]
  adults, children, infants, rooms, nights [int]
  cabin                                ["economy" | "premium_economy" | "business" | "first"]
  budget                               [int paise, the most the traveller wants to pay]
  offer_ref                            [{"ordinal": 2} | {"cheapest": true} | {"earliest": true}
                                        | {"latest": true} | {"carrier": "6E"} | {"time": "06:00"}
                                        | {"nonstop": true}; keys combine; "the last
                                        one" is {"ordinal": -1}]
  booking_ref                          [{"booking_id": "bk_…"} | {"pnr": "…"} | {"place": "GOI"}]
  traveller_names                      [[{"first_name": …, "last_name": …}, …]]
  otp                                  ["123456"]
  Unresolved places (a city abroad, a name we do not know) come with `normalized` None and
  confidence 0; a place to confirm ("Mobile" for Mumbai) with its best guess, confidence below
  0.6 and the guess in `candidates`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from intents.models import Intent

Language = Literal["en", "hi", "hi-Latn"]  # English, Devanagari Hindi, Hinglish (Latin script)


@dataclass(frozen=True, slots=True)
class Slot:
    name: str
    value: str  # the words it came from
    normalized: Any  # JSON-able; see the module docstring
    start: int  # span in the text as given
    end: int
    confidence: float
    # Other readings when unsure (e.g. a place heard as "Mobile": ("BOM",)).
    candidates: tuple[Any, ...] = ()


# Below this vote margin two readings are too close to act on: ask which was meant.
CLARIFY_BELOW = 0.2
# Readings worth asking between ("Do you want to cancel a booking or hear the cancellation
# rules?"); small talk, yes and no are never worth a question of their own.
ASKABLE = frozenset(
    (Intent.SEARCH_FLIGHTS, Intent.SEARCH_HOTELS, Intent.SEARCH_TRAINS, Intent.SEARCH_BUSES,
     Intent.BOOK, Intent.BOOKING_STATUS, Intent.MODIFY_BOOKING, Intent.CANCEL_BOOKING,
     Intent.POLICY_QUESTION, Intent.HUMAN_AGENT)
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Parse:
    """`confidence` is the chosen intent's; `alternatives` the other readings the example vote
    gave, best first, each with its share of the vote (0 to 1); `margin` how far the vote put
    the chosen intent ahead of the best alternative (its share minus theirs), 1.0 when a rule
    decided the intent. `clarify()` names the two readings to ask between, or None."""

    text: str
    intent: Intent
    confidence: float
    alternatives: tuple[tuple[Intent, float], ...] = ()
    slots: tuple[Slot, ...] = ()
    language: Language = "en"
    margin: float = 1.0

    def clarify(self) -> tuple[Intent, Intent] | None:
        """The chosen reading and the close second to ask about ("Do you want to X or Y?"),
        when the vote's margin is under `CLARIFY_BELOW` and both are tasks worth asking."""
        if self.margin >= CLARIFY_BELOW or not self.alternatives:
            return None
        second = self.alternatives[0][0]
        if self.intent in ASKABLE and second in ASKABLE:
            return self.intent, second
        return None

    def slot(self, name: str) -> Slot | None:
        return next((s for s in self.slots if s.name == name), None)

    def value(self, name: str) -> Any:
        found = self.slot(name)
        return None if found is None else found.normalized


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What the conversation expects next, so a bare "yes", "the second one" or "tomorrow"
    is read in context: `expecting` is `confirmation`, `choice`, `traveller_details`, `otp`,
    `slot:<name>` or None; `known` holds slots already filled (normalised values); `intent`
    is the task under way, so a bare answer ("Chennai", "the 10th") keeps it."""

    expecting: str | None = None
    known: dict[str, Any] = field(default_factory=dict)
    offers_shown: int = 0
    intent: Intent | None = None


class IntentParser(Protocol):
    async def parse(
        self, text: str, *, today: dt.date, context: ParseContext | None = None
    ) -> Parse:
        """Intent and slots of one utterance."""
        ...
