"""Who is travelling, said the way travellers say it: "me and my wife", "just me", "the whole
family", "main aur meri patni", "Riya and me" — resolved against the traveller's saved
passengers — and the dates of birth a child or an infant is booked with ("Riya, 14 March
2018")."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from bookings.profiles import SavedPassenger
from core.party import age_on, type_for_age

# Words for the traveller themself, and for the people they book for (English, Hinglish and
# Devanagari Hindi). Each maps to the relations on a saved passenger it may name.
_SELF = {"me", "myself", "main", "mai", "mujhe", "khud", "मैं", "मुझे", "खुद"}
_I_TRAVEL = re.compile(r"\bi(?:'m| am| will be)? (?:travell?ing|going|flying)\b")
_WORDS: dict[str, tuple[str, ...]] = {}
for _relations, _words in (
    (("wife", "spouse"), "wife spouse patni biwi bibi पत्नी बीवी"),
    (("husband", "spouse"), "husband spouse pati hubby पति"),
    (("son", "child"), "son beta बेटा बेटे"),
    (("daughter", "child"), "daughter beti बेटी"),
    (("son", "daughter", "child"), "kid kids child children bachche bacche baccha बच्चे बच्चा बच्चों"),
    (("mother",), "mother mom mum mummy mommy maa amma mataji माँ मां मम्मी माता"),
    (("father",), "father dad daddy papa pitaji abba पापा पिताजी पिता"),
    (("mother", "father"), "parents"),
    (("brother",), "brother bhai bhaiya भाई"),
    (("sister",), "sister sis behen didi बहन दीदी"),
    (("friend",), "friend dost दोस्त"),
    (("colleague",), "colleague"),
):
    for _word in _words.split():
        _WORDS[_word] = _WORDS.get(_word, ()) + _relations
_EVERYONE = re.compile(
    r"\b(?:everyone|everybody|all of us|whole family|entire family|the family|all four|"
    r"all three|all five|sab(?:hi)?|poora parivaar|pura parivar)\b|सब|पूरा परिवार"
)
_ONLY = re.compile(r"\b(?:just|only|sirf|akela|alone)\b|सिर्फ|अकेले")
# Words split on spaces and punctuation: \w would split Devanagari at its vowel signs.
_TOKEN = re.compile(r"[^\s,.;:!?&/()\[\]\"'’-]+")


def saved_in(text: str, saved: tuple[SavedPassenger, ...]) -> list[SavedPassenger]:
    """The saved passengers `text` names, in the profile's order ([] when it names none)."""
    if not saved:
        return []
    lowered = text.lower()
    if _EVERYONE.search(lowered):
        return list(saved)
    words = set(_TOKEN.findall(lowered))
    picked: set[int] = set()
    for i, person in enumerate(saved):
        first = person.first_name.lower()
        said_self = person.relation == "self" and (words & _SELF or _I_TRAVEL.search(lowered))
        named = first in words and first not in _SELF
        if said_self or named or any(person.relation in _WORDS.get(w, ()) for w in words):
            picked.add(i)
    if _ONLY.search(lowered) and not picked:
        return []
    return [p for i, p in enumerate(saved) if i in picked]


def as_travellers(people: list[SavedPassenger]) -> list[dict[str, Any]]:
    """Saved passengers as the booking flow's `travellers` slot holds them."""
    return [
        {"first_name": p.first_name, "last_name": p.last_name}
        | ({"date_of_birth": p.date_of_birth.isoformat()} if p.date_of_birth else {})
        for p in people
    ]


def party_of(travellers: list[dict[str, Any]], *, travel_date: dt.date) -> dict[str, int] | None:
    """Adults, children and infants among `travellers`, when each one's type is known (a
    passenger without a date of birth counts as an adult); None when nobody is dated."""
    counts = {"adults": 0, "children": 0, "infants": 0}
    dated = False
    for person in travellers:
        kind = passenger_type(person, travel_date=travel_date)
        dated = dated or "date_of_birth" in person
        counts[{"adult": "adults", "child": "children", "infant": "infants"}[kind]] += 1
    return counts if dated else None


def passenger_type(person: dict[str, Any], *, travel_date: dt.date) -> str:
    born = person.get("date_of_birth")
    if not born:
        return "adult"
    return type_for_age(age_on(travel_date, born=dt.date.fromisoformat(str(born))))


# --- dates of birth -----------------------------------------------------------------------

_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december")  # fmt: skip
_MONTHS = (
    {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}
    | {m[:3]: i + 1 for i, m in enumerate(_MONTH_NAMES)}
    | {"sept": 9}
)
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE = re.compile(
    rf"\b(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+(?P<m1>{_MONTH})\.?,?\s+(?P<y1>\d{{4}})"
    rf"|(?P<m2>{_MONTH})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y2>\d{{4}})"
    r"|(?P<d3>\d{1,2})[/.-](?P<m3>\d{1,2})[/.-](?P<y3>\d{4})"
    r"|(?P<y4>\d{4})-(?P<m4>\d{1,2})-(?P<d4>\d{1,2}))\b",
    re.IGNORECASE,
)


def birth_dates_in(text: str, names: list[str], *, today: dt.date) -> dict[str, str]:
    """Dates of birth in `text`, each given to the name said nearest before it (or, with one
    name asked for and one date said, to that name): {full name: ISO date}. Indian order
    for numeric dates (14/03/2018 is 14 March); dates in the future are ignored."""
    found: dict[str, str] = {}
    dates = [(m.start(), born) for m in _DATE.finditer(text) if (born := _born(m, today))]
    if not dates:
        return found
    lowered = text.lower()
    for at, born in dates:
        best: tuple[int, str] | None = None
        for name in names:
            for word in {name.lower(), name.split()[0].lower()}:
                spot = lowered.rfind(word, 0, at)
                if spot >= 0 and (best is None or spot > best[0]):
                    best = (spot, name)
        if best is not None:
            found[best[1]] = born.isoformat()
    if not found and len(dates) == 1 and len(names) == 1:
        found[names[0]] = dates[0][1].isoformat()
    return found


def _born(m: re.Match[str], today: dt.date) -> dt.date | None:
    if m["y1"]:
        day, month, year = int(m["d1"]), _MONTHS[m["m1"].lower()], int(m["y1"])
    elif m["y2"]:
        day, month, year = int(m["d2"]), _MONTHS[m["m2"].lower()], int(m["y2"])
    elif m["y3"]:
        day, month, year = int(m["d3"]), int(m["m3"]), int(m["y3"])
    else:
        day, month, year = int(m["d4"]), int(m["m4"]), int(m["y4"])
    try:
        born = dt.date(year, month, day)
    except ValueError:
        return None
    return born if dt.date(1900, 1, 1) <= born <= today else None
