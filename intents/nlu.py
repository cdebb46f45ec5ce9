"""Rule-based understanding of flight searches in English (and common Hinglish), using real
airport data. Pure: text and context in, intent and slots out."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from core.airports import AirportDirectory
from intents.dates import MONTHS, parse_date
from intents.models import FlightSlots, Intent, Understanding

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ek": 1, "do": 2, "teen": 3, "char": 4, "paanch": 5,
}  # fmt: skip
_NUM = r"(?P<n>\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_ADULTS = re.compile(
    rf"\b{_NUM}\s+(?:adults?|grown[- ]?ups?|people|persons?|passengers?|pax|travell?ers?|log)\b"
)
_CHILDREN = re.compile(rf"\b{_NUM}\s+(?:children|child|kids?|bachche|bacche)\b")
_INFANTS = re.compile(rf"\b{_NUM}\s+(?:infants?|babies|baby|lap infants?)\b")
_FOR_N = re.compile(
    rf"\bfor\s+{_NUM}\b(?!\s*(?:st|nd|rd|th|/|-|\.\d|{'|'.join(MONTHS)}|adults?|child|children|kids?|infants?|bab))"
)
_SOLO = re.compile(r"\b(?:just me|only me|myself|solo|alone|akela)\b")
_CABINS = (
    (re.compile(r"\bpremium economy\b"), "premium_economy"),
    (re.compile(r"\bbusiness(?: class)?\b"), "business"),
    (re.compile(r"\bfirst class\b"), "first"),
    (re.compile(r"\beconomy\b"), "economy"),
)
_FLIGHT_WORDS = re.compile(
    r"\b(?:flights?|fly|flying|fares?|air ?tickets?|plane|airfare|airlines?|udaan|hawai jahaz)\b"
)
_GREETING = re.compile(
    r"^\s*(?:hi+|hello|hey|namaste|namaskar|good (?:morning|afternoon|evening))\b"
)
_THANKS = re.compile(r"\b(?:thanks?|thank you|thx|dhanyavaad|dhanyavad|shukriya)\b")
_HELP = re.compile(r"\b(?:help|what can you do|how does this work|options)\b")
_ORIGIN_BEFORE = re.compile(r"(?:\bfrom|\bex|\bleaving|\bdeparting|\bout of)\s+$")
_DEST_BEFORE = re.compile(r"(?:\bto|\binto|\bfor|\btill|\bvia)\s+$")
_ORIGIN_AFTER = re.compile(r"^\s+(?:se|to|->|-)\b|^\s*(?:->|-|–)")
_DEST_AFTER = re.compile(r"^\s+(?:ko|tak|jana|jaana)\b")
_PLACE_END = r"(?:to|on|for|from|tomorrow|today|next|this|in|at|with|and|by)\b"
_NAMED_PLACE = re.compile(
    rf"\b(?P<role>from|to)\s+(?P<name>[a-z][a-z]+(?:\s(?!{_PLACE_END})[a-z]+)?)"
    rf"(?=\s+{_PLACE_END}|\s*[,.?!]|\s*$)"
)
_NOT_PLACES = {"the", "a", "an", "me", "my", "us", "book", "go", "fly", "travel", "be", "it"}


@dataclass(frozen=True, slots=True)
class _Place:
    code: str
    start: int
    end: int


@lru_cache(maxsize=4)
def _place_pattern(directory: AirportDirectory) -> re.Pattern[str]:
    names = sorted(directory.by_name, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(n) for n in names) + r")\b")


def _find_places(text: str, lowered: str, directory: AirportDirectory) -> list[_Place]:
    places = [
        _Place(directory.by_name[m.group(0)], m.start(), m.end())
        for m in _place_pattern(directory).finditer(lowered)
    ]
    taken = [(p.start, p.end) for p in places]
    for m in re.finditer(r"\b[A-Za-z]{3}\b", text):
        code = m.group(0).upper()
        if directory.get(code) is None or any(s <= m.start() < e for s, e in taken):
            continue
        before, after = lowered[: m.start()], lowered[m.end() :]
        # Lower-case codes count only next to a routing word, so "pat" or "del" in prose don't.
        if (
            m.group(0).isupper()
            or _ORIGIN_BEFORE.search(before)
            or _DEST_BEFORE.search(before)
            or _ORIGIN_AFTER.match(after)
        ):
            places.append(_Place(code, m.start(), m.end()))
    return sorted(places, key=lambda p: p.start)


def _count(match: re.Match[str] | None) -> int | None:
    if match is None:
        return None
    raw = match["n"]
    return int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]


def _assign_places(
    places: list[_Place], lowered: str, context: FlightSlots
) -> tuple[str | None, str | None]:
    origin: str | None = None
    destination: str | None = None
    unassigned: list[str] = []
    for place in places:
        before, after = lowered[: place.start], lowered[place.end :]
        if _ORIGIN_BEFORE.search(before) and origin is None:
            origin = place.code
        elif (
            _DEST_BEFORE.search(before)
            and destination is None
            or _DEST_AFTER.match(after)
            and destination is None
        ):
            destination = place.code
        elif _ORIGIN_AFTER.match(after) and origin is None:
            origin = place.code
        else:
            unassigned.append(place.code)
    for code in unassigned:
        if origin is None and (context.origin is None or destination is not None):
            origin = code
        elif destination is None:
            destination = code
    return origin, destination


def understand(
    text: str, *, today: dt.date, airports: AirportDirectory, context: FlightSlots | None = None
) -> Understanding:
    """Intent and slots of one utterance. ``context`` holds the slots already known."""
    context = context or FlightSlots()
    lowered = " ".join(text.lower().split())
    normalised_text = " ".join(text.split())
    places = _find_places(normalised_text, lowered, airports)
    origin, destination = _assign_places(places, lowered, context)
    adults = _count(_ADULTS.search(lowered)) or _count(_FOR_N.search(lowered))
    if adults is None and _SOLO.search(lowered):
        adults = 1
    cabin = next((name for pattern, name in _CABINS if pattern.search(lowered)), None)
    slots = FlightSlots(
        origin=origin,
        destination=destination,
        date=parse_date(lowered, today=today),
        adults=adults,
        children=_count(_CHILDREN.search(lowered)),
        infants=_count(_INFANTS.search(lowered)),
        cabin=cabin,
    )
    known = {p.start for p in places}
    unknown = tuple(
        m["name"]
        for m in _NAMED_PLACE.finditer(lowered)
        if m.start("name") not in known
        and m["name"].split()[0] not in _NOT_PLACES
        and airports.resolve(m["name"]) is None
        and parse_date(m["name"], today=today) is None
        and not re.match(rf"{_NUM}\b", m["name"])
    )
    if _FLIGHT_WORDS.search(lowered) or not slots.is_empty() or unknown:
        return Understanding(Intent.SEARCH_FLIGHTS, slots, unknown)
    if _THANKS.search(lowered):
        return Understanding(Intent.THANKS)
    if _GREETING.search(lowered):
        return Understanding(Intent.GREET)
    if _HELP.search(lowered):
        return Understanding(Intent.HELP)
    return Understanding(Intent.UNKNOWN)
