"""Flows as data: each task a traveller can do by talking is a list of steps the engine walks.

* `collect` fills a slot (asking when nothing fills it; `expecting` says what the answer is);
* `action` runs a skill (search, review, book, quote ...); it runs again when a slot or step it
  depends on changes (a correction);
* `confirm` waits for an explicit yes; a no ends the flow and nothing happens.

Flows that act on a traveller's money or bookings start with `verify_traveller`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sessions.state import Frame

StepKind = Literal["collect", "action", "confirm"]
PARTY = ("adults", "children", "infants", "cabin")
ROUTE = ("origin", "destination", "date")
STAY = ("city", "check_in", "nights", "check_out", "adults", "children", "rooms", "budget", "stars")


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    kind: StepKind
    expecting: str = ""  # for collect: what the traveller's next turn gives
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    steps: tuple[Step, ...]
    what: str  # how the engine names the flow to the traveller ("your booking")


def _collect(slot: str, expecting: str = "", *, depends_on: tuple[str, ...] = ()) -> Step:
    return Step(slot, "collect", expecting or f"slot:{slot}", depends_on)


def _action(name: str, *depends_on: str) -> Step:
    return Step(name, "action", depends_on=depends_on)


_SEARCH = (
    _collect("origin"),
    _collect("destination"),
    _collect("date"),
    _action("search", *ROUTE, *PARTY),
)

FLOWS: dict[str, Flow] = {
    flow.name: flow
    for flow in (
        Flow("search_flights", _SEARCH, "your flight search"),
        Flow(
            "book_flight",
            (
                _action("verify_traveller"),
                *_SEARCH,
                _collect("offer", "choice", depends_on=("search",)),
                _collect("travellers", "traveller_details", depends_on=("adults", "children", "infants")),
                _collect("birth_dates", "traveller_details", depends_on=("travellers",)),
                _collect("contact", "traveller_details"),
                _action("review", "offer", "travellers", "birth_dates", "contact"),
                Step("confirm_book", "confirm", "confirmation", ("review",)),
                _action("place_booking"),
            ),
            "your booking",
        ),
        Flow(
            "book_hotel",
            (
                _collect("city"),
                _collect("check_in"),
                _collect("nights"),
                _action("hotel_search", *STAY),
                _collect("hotel", "choice", depends_on=("hotel_search",)),
                _action("verify_traveller"),
                _collect("travellers", "traveller_details"),
                _collect("contact", "traveller_details"),
                _action("hotel_review", "hotel", "travellers", "contact"),
                Step("confirm_book", "confirm", "confirmation", ("hotel_review",)),
                _action("place_hotel"),
            ),
            "your hotel booking",
        ),
        Flow(
            "booking_status",
            (_action("verify_traveller"), _collect("booking", "choice"), _action("status")),
            "your booking's status",
        ),
        Flow(
            "cancel_booking",
            (
                _action("verify_traveller"),
                _collect("booking", "choice"),
                _action("cancel_quote", "booking"),
                Step("confirm_cancel", "confirm", "confirmation", ("cancel_quote",)),
                _action("cancel"),
            ),
            "your cancellation",
        ),
        Flow(
            "modify_booking",
            (
                _action("verify_traveller"),
                _collect("booking", "choice"),
                _collect("new_date", "slot:date"),
                _action("modify_quote", "booking", "new_date"),
                Step("confirm_modify", "confirm", "confirmation", ("modify_quote",)),
                _action("modify"),
            ),
            "your date change",
        ),
    )
}  # fmt: skip


def pending(frame: Frame) -> Step | None:
    """The first step of the frame's flow not yet done: what the engine does next."""
    for step in FLOWS[frame.flow].steps:
        if step.kind == "collect" and frame.slots.get(step.name) is None:
            return step
        if step.kind != "collect" and step.name not in frame.done:
            return step
    return None


def invalidate(frame: Frame, changed: str) -> None:
    """`changed` (a slot or a step) changed: undo every step that depended on it, and the
    steps that depended on those, so the flow redoes them with the new value."""
    todo = [changed]
    while todo:
        name = todo.pop()
        for step in FLOWS[frame.flow].steps:
            if name not in step.depends_on:
                continue
            if step.kind == "collect":
                if frame.slots.pop(step.name, None) is not None:
                    todo.append(step.name)
            elif step.name in frame.done:
                frame.done.remove(step.name)
                todo.append(step.name)


def uses(flow: str, slot: str) -> bool:
    """Whether `flow` collects or depends on `slot` (a correction applies to it)."""
    return any(s.name == slot or slot in s.depends_on for s in FLOWS[flow].steps)
