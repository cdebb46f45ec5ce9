"""Applying a turn's commands (sessions/commands.py) to the dialogue state: start or join a
flow, set slots, read back a doubted place, take a yes or no, drop a flow, answer a question
or small talk, offer a human. Each says whether the flow under way should be walked on."""

from __future__ import annotations

from core.airports import AirportDirectory
from intents.models import Intent
from sessions import commands as cmd
from sessions.flows import FLOWS, pending
from sessions.replies import CAPABILITIES, place, unknown_place_reply, unsupported_reply
from sessions.skills.policy import PolicySkill
from sessions.state import DialogueState, Frame
from sessions.turn import Turn
from sessions.walk import set_slots

_REFUSED = {"confirm_book": "OK, I won't book it.", "confirm_cancel": "OK, I won't cancel it.",
            "confirm_modify": "OK, I'll leave your booking as it is."}  # fmt: skip


class CommandApplier:
    def __init__(self, *, airports: AirportDirectory, policy: PolicySkill) -> None:
        self._airports = airports
        self._policy = policy

    async def apply(self, command: cmd.Command, turn: Turn) -> bool:
        """Apply one command; False when the turn's reply is complete without walking on."""
        state = turn.state
        top = state.top
        match command:
            case cmd.StartFlow(flow=flow, slots=slots):
                if top is not None and top.flow == flow:
                    return await self.apply(cmd.SetSlots(slots), turn)
                frame = state.push(Frame(flow=flow, slots=dict(slots)))
                if flow == "book_flight" and state.offers:
                    _from_last_search(frame, state)
                    if _same_search(frame, state):
                        frame.done.append("search")  # the offers on screen are this search's
                return True
            case cmd.SetSlots(slots=slots):
                if top is not None:
                    set_slots(top, slots)
                return True
            case cmd.ConfirmPlace(slot=slot, heard=heard, code=code):
                if top is None:
                    return True
                checks = top.data.setdefault("place_checks", [])
                checks.append({"slot": slot, "code": code, "heard": heard})
                if len(checks) == 1:
                    self._ask_place(turn, checks[0])
                return False
            case cmd.NotAPlace(heard=heard):
                turn.say(unknown_place_reply(heard, "", self._airports).strip())
                return True
            case cmd.Confirm(yes=yes):
                return self._confirm(turn, yes=yes)
            case cmd.CancelFlow():
                if top is None:
                    turn.say("OK. What would you like to do next?")
                    return False
                state.pop()
                turn.say(f"OK, I've dropped {FLOWS[top.flow].what}.")
                return state.top is not None
            case cmd.Knowledge():
                await self._policy.answer(turn)
                return self._resuming(turn)
            case cmd.ChitChat(intent=intent):
                turn.say(_chit_chat(intent, busy=top is not None))
                return top is not None and intent is not Intent.GOODBYE
            case cmd.Unsupported(intent=intent, slots=slots):
                destination = slots.get("destination")
                turn.say(unsupported_reply(intent.value, destination, self._airports))
                if not isinstance(destination, str) or self._airports.get(destination) is None:
                    return False
                # Offer flights to the same place; searched only on a yes.
                route = {k: v for k, v in slots.items() if k in ("origin", "destination", "date")}
                state.push(Frame(flow="search_flights", slots=route, data={"offered": True}))
                state.expecting = "confirmation"
                return False
            case cmd.Handoff():
                turn.say("I'll connect you with a Yatri travel expert now. Please stay on.")
                turn.data["handoff"] = True
                return False
            case cmd.CannotHandle():
                if state.failures >= 3:
                    turn.say("Sorry, I'm still not getting it. Would you like me to connect you "
                             "with a travel expert? Or try, for example, “flights from Delhi "
                             "to Mumbai tomorrow”.")  # fmt: skip
                    turn.data["handoff_offered"] = True
                    return False
                turn.say("Sorry, I didn't get that.")
                if top is None:
                    turn.say(CAPABILITIES)
                return top is not None
        return True

    def _confirm(self, turn: Turn, *, yes: bool) -> bool:
        state = turn.state
        top = state.top
        if top is None:
            turn.say("OK." if yes else "OK, no problem.")
            return False
        if top.data.pop("offered", None):  # "shall I look for flights instead?"
            if not yes:
                state.pop()
                turn.say("OK. What would you like to do next?")
            return yes
        checks = top.data.get("place_checks") or []
        if checks:
            check = checks.pop(0)
            if yes:
                set_slots(top, {check["slot"]: check["code"]})
            if checks:  # another place heard with doubt: ask about it next
                self._ask_place(turn, checks[0])
                return False
            top.data.pop("place_checks", None)
            return True  # a no re-asks the place
        step = pending(top)
        if step is None or step.kind != "confirm":
            turn.say("OK.")
            return True
        if yes:
            top.done.append(step.name)
            return True
        state.pop()
        turn.say(_REFUSED.get(step.name, "OK."))
        return False

    def _ask_place(self, turn: Turn, check: dict[str, str]) -> None:
        turn.say(f"Did you mean {place(check['code'], self._airports)}, not “{check['heard']}”?")
        turn.state.expecting = "confirmation"

    def _resuming(self, turn: Turn) -> bool:
        """After a digression, carry on with the flow it interrupted."""
        top = turn.state.top
        if top is None:
            return False
        turn.say(f"Now, back to {FLOWS[top.flow].what}.")
        return True


_SEARCH_KEYS = ("origin", "destination", "date", "adults", "children", "infants", "cabin")


def _from_last_search(frame: Frame, state: DialogueState) -> None:
    """A booking started on shown offers takes the last search's slots it wasn't told."""
    for key in _SEARCH_KEYS:
        if frame.slots.get(key) is None and state.search.get(key) is not None:
            frame.slots[key] = state.search[key]


def _same_search(frame: Frame, state: DialogueState) -> bool:
    return all(frame.slots.get(k) == state.search.get(k) for k in _SEARCH_KEYS)


def _chit_chat(intent: Intent, *, busy: bool) -> str:
    if intent is Intent.GREET:
        return "Namaste!" if busy else "Namaste! " + CAPABILITIES
    if intent is Intent.THANKS:
        return "You're welcome!" if busy else "You're welcome! Anything else I can look up?"
    if intent is Intent.GOODBYE:
        return "Thank you for choosing Yatri. Have a good trip!"
    if intent is Intent.HELP:
        return CAPABILITIES
    return "OK." if busy else "OK. What would you like to do next?"
