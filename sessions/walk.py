"""Walking the flow under way (sessions/flows.py): fill what a collect step needs (from what
was said, a profile, or by asking), run action steps through their skills, stop at a confirm
step for an explicit yes, and re-ask, then offer a human, when an answer keeps not coming."""

from __future__ import annotations

from typing import Any

from sessions.flows import FLOWS, invalidate, pending
from sessions.replies import QUESTIONS
from sessions.skills.bookings import BookingsSkill
from sessions.skills.flights import FlightsSkill
from sessions.skills.hotels import HotelsSkill
from sessions.skills.identity import IdentitySkill
from sessions.skills.party import PartySkill
from sessions.state import Frame
from sessions.turn import Next, Turn

MAX_STEPS = 16  # steps walked in one turn: a guard against a flow that never settles
_CONFIRM = {"confirm_book": "Shall I book it?", "confirm_cancel": "Shall I cancel it?",
            "confirm_modify": "Shall I make the change?"}  # fmt: skip
_ASK = QUESTIONS | {"new_date": "Which date would you like to move it to?",
                    "city": "Which city or town would you like to stay in?",
                    "check_in": "What date would you like to check in?"}  # fmt: skip


# What a search assumes for a count nobody gave: "just me" after it changes nothing.
_DEFAULTS = {"adults": 1, "children": 0, "infants": 0}


def set_slots(frame: Frame, slots: dict[str, Any]) -> None:
    """Set slots on the frame; each changed one undoes what depended on it (a correction)."""
    partial = slots.get("contact_partial")
    if isinstance(partial, dict):
        contact = {**frame.data.get("contact", {}), **partial}
        frame.data["contact"] = contact
        if {"email", "phone"} <= contact.keys():
            slots = {**slots, "contact": contact}
    for name, value in slots.items():
        if name == "contact_partial" or value is None:
            continue
        for chosen in ("offer", "hotel"):
            if name == "offer_ref" and frame.slots.get(chosen) is not None:
                # "change it to the second flight" after one was chosen: choose again.
                frame.slots.pop(chosen)
                invalidate(frame, chosen)
        if frame.slots.get(name, _DEFAULTS.get(name)) != value:
            frame.slots[name] = value
            invalidate(frame, name)
        else:
            frame.slots[name] = value


class FlowWalker:
    def __init__(
        self,
        *,
        flights: FlightsSkill,
        bookings: BookingsSkill,
        identity: IdentitySkill,
        party: PartySkill,
        hotels: HotelsSkill,
    ) -> None:
        self._flights = flights
        self._hotels = hotels
        self._bookings = bookings
        self._identity = identity
        self._party = party

    async def advance(self, turn: Turn, *, asked_before: str | None) -> None:
        state = turn.state
        for _ in range(MAX_STEPS):
            top = state.top
            if top is None:
                break
            step = pending(top)
            if step is None:
                state.pop()
                if top.flow == "search_flights" and state.offers:
                    state.expecting = "choice"
                break
            if step.kind == "collect":
                filled = await self._fill(step.name, turn, top)
                if filled is None:
                    if self._ended(turn):
                        continue
                    break
                if filled:
                    continue
                if asked_before == step.expecting and top.data.get("asked") == step.name:
                    top.reasks += 1
                    if top.reasks >= 2:
                        turn.say("If you'd rather, I can connect you with a travel expert.")
                        turn.data["handoff_offered"] = True
                top.data["asked"] = step.name
                state.expecting = step.expecting
                if step.expecting.startswith("slot:"):
                    turn.data["ask_for"] = step.name
                break
            if step.kind == "confirm":
                turn.say(_CONFIRM.get(step.name, "Shall I go ahead?"))
                state.expecting = "confirmation"
                break
            outcome = await self._act(step.name, turn, top)
            if outcome is Next.DONE:
                top.done.append(step.name)
            elif outcome is Next.WAIT:
                break
            elif outcome is Next.END:
                if self._ended(turn):
                    continue
                break

    def _ended(self, turn: Turn) -> bool:
        """The flow on top is over; True when an interrupted one under it carries on."""
        state = turn.state
        state.pop()
        if state.top is None:
            return False
        turn.say(f"Now, back to {FLOWS[state.top.flow].what}.")
        return True

    async def _fill(self, slot: str, turn: Turn, frame: Frame) -> bool | None:
        """True when `slot` got filled without asking; False after asking for it; None when
        the flow cannot go on."""
        if slot == "offer":
            if self._flights.choose(turn, frame):
                return True
            self._flights.ask_choice(turn)
            return False
        if slot == "hotel":
            if self._hotels.choose(turn, frame):
                return True
            self._hotels.ask_choice(turn, frame)
            return False
        if slot == "nights":
            return self._hotels.fill_nights(turn, frame)
        if slot == "travellers" and frame.flow == "book_hotel":
            self._hotels.ask_guests(turn)
            return False
        if slot == "booking":
            return await self._bookings.choose(turn, frame)
        if slot == "travellers":
            await self._party.ask_travellers(turn)
            return False
        if slot == "birth_dates":
            return self._party.fill_birth_dates(turn, frame)
        if slot == "contact":
            return await self._party.fill_contact(turn, frame)
        turn.say(_ASK.get(slot, f"What is the {slot.replace('_', ' ')}?"))
        return False

    async def _act(self, name: str, turn: Turn, frame: Frame) -> Next:
        flights, bookings = self._flights, self._bookings
        match name:
            case "search":
                return await flights.search(turn, frame)
            case "review":
                return await flights.review(turn, frame)
            case "place_booking":
                return await flights.place_booking(turn, frame)
            case "hotel_search":
                return await self._hotels.search(turn, frame)
            case "hotel_review":
                return await self._hotels.review(turn, frame)
            case "place_hotel":
                return await self._hotels.place_booking(turn, frame)
            case "verify_traveller":
                return await self._identity.verify(turn, frame)
            case "status":
                return await bookings.status(turn, frame)
            case "cancel_quote":
                return await bookings.cancel_quote(turn, frame)
            case "cancel":
                return await bookings.cancel(turn, frame)
            case "modify_quote":
                return await bookings.modify_quote(turn, frame)
            case "modify":
                return await bookings.modify(turn, frame)
        raise ValueError(f"flow step {name!r} has no skill")
