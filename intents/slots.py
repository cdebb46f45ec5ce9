"""Slots of one utterance: every reader runs on the reading form, then each value gets its role
from the intent and the words around it (outbound or return, check-in or check-out, origin or
destination or the city of a stay) and a span in the text as given."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from intents import numbers, refs
from intents.dates import DateMention, dates_from, find_dates
from intents.models import Intent
from intents.numbers import Found
from intents.parse import ParseContext, Slot
from intents.places import (
    DEST_AFTER,
    DEST_BEFORE,
    ORIGIN_AFTER,
    ORIGIN_BEFORE,
    PlaceIndex,
    PlaceMention,
)
from intents.text import Utterance

_STAYS = (Intent.SEARCH_HOTELS,)
_ROUTES = (Intent.SEARCH_FLIGHTS, Intent.SEARCH_TRAINS, Intent.SEARCH_BUSES)
_GREETINGS = (Intent.GREET, Intent.GOODBYE, Intent.THANKS)
_CHECK_OUT = re.compile(
    r"\b(?:check(?:ing)?[- ]?out|checkout|leave|leaving|till|until)\b[\w\s,]{0,14}$"
)
_CHECK_IN = re.compile(r"\b(?:check(?:ing)?[- ]?in|checkin|arriv\w*)\b[\w\s,]{0,14}$")


@dataclass(slots=True)
class Readings:
    """What the readers found, before roles are given."""

    places: list[PlaceMention] = field(default_factory=list)
    dates: list[DateMention] = field(default_factory=list)
    found: list[Found] = field(default_factory=list)  # counts, times, budget, cabin, refs

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.found)

    def get(self, name: str) -> Found | None:
        return next((f for f in self.found if f.name == name), None)


def read_slots(
    u: Utterance, *, today: dt.date, places: PlaceIndex, context: ParseContext
) -> Readings:
    text = u.text
    expecting = context.expecting or ""
    dates = find_dates(text, today=today)
    if anchor := _date_under_discussion(context):
        # "the day after" the date already searched or booked, not after today.
        anchored = dates_from(text, anchor=anchor)
        dates = sorted(
            anchored + [d for d in dates if all(d.end <= a.start or d.start >= a.end
                                                for a in anchored)],
            key=lambda d: d.start,
        )  # fmt: skip
    times = numbers.times(text)
    found: list[Found] = []
    found.extend(numbers.counts(text))
    if budget := numbers.budget(text):
        found.append(budget)
    clock = next((t for t in times if ":" in str(t.normalized)), None)
    ref = refs.offer_ref(text, expecting_choice=expecting == "choice", time=clock)
    if ref is not None:
        found.append(ref)
        # "the second one" when choosing is an option, not the 2nd of the month.
        dates = [d for d in dates if d.end <= ref.start or d.start >= ref.end or not d.explicit
                 or expecting != "choice" and "ordinal" not in ref.normalized]  # fmt: skip
    found.extend(t for t in times if ref is None or t.end <= ref.start or t.start >= ref.end)
    if cabin := refs.cabin(text):
        found.append(cabin)
    mentions = places.find(text, u.original, origin_of=list(u.origin))
    # A date or a count is never also a place ("may", "do").
    mentions = [p for p in mentions if not _overlaps(p, dates) and not _overlaps(p, found)]
    if booking := refs.booking_ref(text, places={p.start: p.code for p in mentions if p.code}):
        found.append(booking)
    if code := refs.otp(text, expecting_otp=expecting == "otp"):
        found.append(code)
        found = [f for f in found if f is code or f.end <= code.start or f.start >= code.end]
    if names := refs.traveller_names(text, u.said):
        found.append(names)
    # Counts inside a date or a budget are not counts ("for 5 December", "under 5000"), nor
    # is the "night" of "3 nights" a time of day; a place in "my Goa booking" is no route.
    spans = [(d.start, d.end) for d in dates] + [
        (f.start, f.end) for f in found if f.name in ("budget", "otp", "booking_ref", "nights")
    ]
    mentions = [m for m in mentions if not (booking and _overlaps(m, [booking]))]
    found = [
        f for f in found
        if f.name in ("budget", "otp", "booking_ref", "offer_ref", "nights")
        or all(f.end <= a or f.start >= b for a, b in spans)
    ]  # fmt: skip
    return Readings(places=mentions, dates=dates, found=found)


def _date_under_discussion(context: ParseContext) -> dt.date | None:
    for name in ("new_date", "date", "check_in"):
        value = context.known.get(name)
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                continue
        if isinstance(value, dt.date):
            return value
    return None


def _overlaps(p: PlaceMention, others: list[DateMention] | list[Found]) -> bool:
    return any(p.start < o.end and o.start < p.end for o in others)


def assign(
    u: Utterance, readings: Readings, *, intent: Intent, context: ParseContext
) -> tuple[Slot, ...]:
    """The slots, named for ``intent``, with spans in the text as given."""
    slots: list[Slot] = []

    def add(name: str, start: int, end: int, value: object, confidence: float,
            candidates: tuple[object, ...] = ()) -> None:  # fmt: skip
        a, b = u.span(start, end)
        slots.append(Slot(name, u.original[a:b], value, a, b, round(confidence, 3), candidates))

    stay = intent in _STAYS or (
        intent not in _ROUTES and (context.intent in _STAYS or context.expecting == "slot:city")
    )
    for name, place in _place_roles(u.text, readings.places, stay=stay, context=context):
        add(name, place.start, place.end, place.code, place.confidence, place.candidates)
    for name, date in _date_roles(u.text, readings.dates, stay=stay, context=context):
        add(name, date.start, date.end, date.date.isoformat(), date.confidence)
    for f in readings.found:
        if f.name == "time_of_day" and intent in _GREETINGS:
            continue  # "good evening"
        add(f.name, f.start, f.end, f.normalized, f.confidence)
    return tuple(sorted(slots, key=lambda s: (s.start, s.name)))


_NOT_BEFORE = re.compile(r"\b(?:not|nahi|nahin|na)\s+(?:from\s+|to\s+)?$")
_NOT_AFTER = re.compile(r"^\s*(?:nahi|nahin|not)\b")


def _place_roles(
    text: str, places: list[PlaceMention], *, stay: bool, context: ParseContext
) -> list[tuple[str, PlaceMention]]:
    if stay:
        return [("city", p) for p in places[:1]]
    origin: PlaceMention | None = None
    destination: PlaceMention | None = None
    unassigned: list[PlaceMention] = []
    for p in places:
        before, after = text[: p.start], text[p.end :]
        if _NOT_BEFORE.search(before) or _NOT_AFTER.match(after):
            continue  # "from Pune, not Mumbai", "Hyderabad nahi": the place not meant
        if ORIGIN_BEFORE.search(before) and origin is None:
            origin = p
        elif (DEST_BEFORE.search(before) or DEST_AFTER.match(after)) and destination is None:
            destination = p
        elif ORIGIN_AFTER.match(after) and origin is None:
            origin = p
        else:
            unassigned.append(p)
    wanted = (context.expecting or "").removeprefix("slot:")
    for p in unassigned:
        if wanted == "origin" and origin is None:
            origin = p
        elif wanted == "destination" and destination is None:
            destination = p
        elif origin is None and (context.known.get("origin") is None or destination is not None):
            origin = p
        elif destination is None:
            destination = p
    return [(n, p) for n, p in (("origin", origin), ("destination", destination)) if p]


def _date_roles(
    text: str, dates: list[DateMention], *, stay: bool, context: ParseContext
) -> list[tuple[str, DateMention]]:
    first_name, second_name = ("check_in", "check_out") if stay else ("date", "return_date")
    wanted = (context.expecting or "").removeprefix("slot:")
    out: list[tuple[str, DateMention]] = []
    taken: set[str] = set()
    for d in dates:
        before = text[: d.start]
        second = d.second or (stay and bool(_CHECK_OUT.search(before)))
        if stay and _CHECK_IN.search(before):
            second = False
        if not second and wanted == second_name and first_name not in taken and len(dates) == 1:
            second = True  # "when are you coming back?" "the 10th"
        elif (
            second
            and not stay
            and len(dates) == 1
            and wanted != second_name
            and context.known.get(first_name) is None
        ):
            second = False  # "Delhi wapas aana hai 28 December ko": going back is the trip
        name = second_name if second or first_name in taken else first_name
        if name in taken:
            continue
        taken.add(name)
        out.append((name, d))
    return out
