"""From what was understood to what the dialogue should do: a turn becomes a few commands
(start a flow, set or correct slots, confirm, cancel, answer from the documents, chit-chat,
hand off, cannot handle). Understanding never acts directly; the engine applies commands to
the state, and the flows decide what happens next (Rasa CALM's split)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from intents.models import Intent
from intents.parse import Parse
from sessions.flows import uses
from sessions.state import DialogueState

# Below this a place is read back before it is used ("Did you mean Mumbai?").
PLACE_SURE = 0.6
_SEARCH_SLOTS = ("origin", "destination", "date", "adults", "children", "infants", "cabin")
_FLOW_OF = {
    Intent.BOOKING_STATUS: "booking_status",
    Intent.CANCEL_BOOKING: "cancel_booking",
    Intent.MODIFY_BOOKING: "modify_booking",
}
_CHAT = (Intent.GREET, Intent.THANKS, Intent.GOODBYE, Intent.HELP)
_OTHER_VERTICALS = (Intent.SEARCH_TRAINS, Intent.SEARCH_BUSES, Intent.SEARCH_HOTELS)
_BOOKING_FLOWS = ("book_flight", "book_hotel")


@dataclass(frozen=True, slots=True)
class StartFlow:
    flow: str
    slots: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SetSlots:
    slots: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ConfirmPlace:
    """A place heard with low confidence: read it back before using it."""

    slot: str
    heard: str
    code: str


@dataclass(frozen=True, slots=True)
class NotAPlace:
    """A place was named that no airport answers to: say so, then ask."""

    heard: str


@dataclass(frozen=True, slots=True)
class Confirm:
    yes: bool


@dataclass(frozen=True, slots=True)
class CancelFlow:
    pass


@dataclass(frozen=True, slots=True)
class Knowledge:
    question: str


@dataclass(frozen=True, slots=True)
class ChitChat:
    intent: Intent


@dataclass(frozen=True, slots=True)
class Unsupported:
    intent: Intent
    slots: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Handoff:
    pass


@dataclass(frozen=True, slots=True)
class CannotHandle:
    pass


Command = (
    StartFlow | SetSlots | ConfirmPlace | NotAPlace | Confirm | CancelFlow | Knowledge | ChitChat
    | Unsupported | Handoff | CannotHandle
)  # fmt: skip


class CommandProposer(Protocol):
    """A second reader for turns the parser could not place (an LLM, when one is configured):
    it proposes commands, which the engine validates against the flows before applying. It
    never proposes a `Confirm`: only the traveller's own yes moves money."""

    async def propose(self, text: str, *, state: DialogueState, parse: Parse) -> list[Command]:
        """Commands for `text`, already validated; [] when it has nothing better."""
        ...


def frame_slots(parse: Parse, *, flow: str | None) -> tuple[dict[str, Any], list[Command]]:
    """The parse's slots as flows name them, and the places to read back or explain first."""
    slots: dict[str, Any] = {}
    unsure: list[Command] = []
    for slot in parse.slots:
        name = slot.name
        if name in ("origin", "destination", "place") and (
            slot.confidence < PLACE_SURE or slot.normalized is None
        ):
            if slot.candidates and name != "place":
                unsure.append(ConfirmPlace(name, slot.value, str(slot.candidates[0])))
            elif not slot.candidates:
                unsure.append(NotAPlace(slot.value))
            continue
        if name == "date" and flow == "modify_booking":
            name = "new_date"
        elif name == "traveller_names":
            name = "travellers"
        slots[name] = slot.normalized
    return slots, unsure


def to_commands(parse: Parse, state: DialogueState, *, hotels: bool = False) -> list[Command]:
    """What this turn asks the dialogue to do, given what it was already doing; `hotels`:
    stays can be searched and booked (otherwise a hotel request is answered honestly)."""
    top = state.top
    intent = parse.intent
    flow = top.flow if top else None
    if intent in _FLOW_OF and flow != _FLOW_OF[intent]:
        flow = _FLOW_OF[intent]
    slots, unsure = frame_slots(parse, flow=flow)
    place_checks = unsure

    if state.expecting == "confirmation":
        if intent is Intent.AFFIRM:
            return [Confirm(yes=True)]
        if intent in (Intent.DENY, Intent.NEVERMIND):
            return [Confirm(yes=False)]
        if top is not None and _FLOW_OF.get(intent) == top.flow and not slots:
            return [Confirm(yes=True)]  # "yes, cancel it" restates what is being confirmed
    if intent is Intent.NEVERMIND:
        return [CancelFlow()]
    if intent is Intent.POLICY_QUESTION:
        return [Knowledge(parse.text)]
    if intent is Intent.HUMAN_AGENT:
        return [Handoff()]
    if intent is Intent.SEARCH_HOTELS and hotels:
        if flow == "book_hotel":
            return [SetSlots(slots)]
        return [StartFlow("book_hotel", slots)]
    if intent in _OTHER_VERTICALS:
        return [Unsupported(intent, slots)]
    if intent in _FLOW_OF:
        wanted = _FLOW_OF[intent]
        if top is not None and top.flow == wanted:
            return [SetSlots(slots)]
        return [StartFlow(wanted, slots)]
    if intent is Intent.SEARCH_FLIGHTS:
        if flow in ("search_flights", "book_flight"):
            return [SetSlots(slots), *place_checks]
        return [StartFlow("search_flights", _search_base(state, slots)), *place_checks]
    if intent in (Intent.BOOK, Intent.SELECT_OFFER):
        if flow in _BOOKING_FLOWS:
            return [SetSlots(slots), *place_checks]
        return [StartFlow("book_flight", _search_base(state, slots)), *place_checks]
    if intent is Intent.PROVIDE_TRAVELLER_DETAILS and top is not None:
        return [SetSlots(slots)]
    if intent in _CHAT and not slots:
        return [ChitChat(intent)]
    # Anything else that carries slots the flow under way uses is an answer or a correction
    # ("from Pune", "actually Saturday", "make it 2 adults", "the second one").
    if slots and top is not None and any(uses(top.flow, s) or s == "offer_ref" for s in slots):
        return [SetSlots(slots), *place_checks]
    if top is None and set(slots) & set(_SEARCH_SLOTS):
        # A trip's details with nothing under way ("I need 2 adults", "Pune to Goa"): a search.
        return [StartFlow("search_flights", _search_base(state, slots)), *place_checks]
    if place_checks:
        flow_name = flow or "search_flights"
        return [StartFlow(flow_name, slots) if top is None else SetSlots(slots), *place_checks]
    if intent in (Intent.AFFIRM, Intent.DENY) or intent in _CHAT:
        return [ChitChat(intent)]
    return [CannotHandle()]


def _search_base(state: DialogueState, slots: dict[str, Any]) -> dict[str, Any]:
    """A new search starts from the last one's slots, overridden by what was just said."""
    base = {k: v for k, v in state.search.items() if k in _SEARCH_SLOTS}
    return base | slots
