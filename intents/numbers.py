"""Counts (passengers, rooms, nights), budgets and times of day, in every common phrasing:
"3 tickets", "two seats", "a group of 4", "hum teen log", "5000 se kam", "subah 6 baje".
"for a" is no count. Readers take the reading form of `intents.text` and return spans in it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CARDINALS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30,
}  # fmt: skip
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
# Hindi numbers as typed and as `romanise` writes the Devanagari ones.
HINDI = {
    "ek": 1, "do": 2, "teen": 3, "tin": 3, "char": 4, "chaar": 4, "paanch": 5, "panch": 5,
    "chhe": 6, "chhah": 6, "che": 6, "saat": 7, "sat": 7, "aath": 8, "ath": 8, "nau": 9,
    "das": 10,
}  # fmt: skip
_WORDS = {**CARDINALS, **HINDI, "a": 1, "an": 1, "single": 1, "couple of": 2, "pair of": 2}


def spoken_number(words: str) -> int | None:
    """ "twenty second" -> 22, "third" -> 3, "twenty-one" -> 21, "five" -> 5."""
    parts = re.split(r"[ -]+", words.strip().lower())
    total = 0
    for part in parts:
        value = CARDINALS.get(part, ORDINALS.get(part))
        if value is None:
            return None
        total += value
    return total or None


def number(raw: str) -> int | None:
    raw = raw.strip().lower()
    if raw.isdigit():
        return int(raw)
    return _WORDS.get(raw) or spoken_number(raw)


_NUM = r"(?P<n>\d{1,2}|" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")"
_NUM_NO_ARTICLE = (
    r"(?P<n>\d{1,2}|"
    + "|".join(sorted(set(_WORDS) - {"a", "an", "do", "single"}, key=len, reverse=True))
    + r")"
)
# Before a word for people, "do" is two ("do log"); "a"/"an" count only for one adult.
_NUM_COUNTED = (
    r"(?P<n>\d{1,2}|"
    + "|".join(sorted(set(_WORDS) - {"a", "an", "single"}, key=len, reverse=True))
    + r")"
)
_PEOPLE = (
    r"(?:adults?|grown[- ]?ups?|people|persons?|passengers?|pax|travell?ers?|tickets?|seats?"
    r"|log|logon|logo|yatri|members?|friends?|guests?|of us|jan|sawari|sawariyan|bade)"
)
_ADULT_PATTERNS = (
    (re.compile(rf"\b{_NUM_COUNTED}\s+(?:more\s+|other\s+)?{_PEOPLE}\b"), 0.95),
    (re.compile(r"\b(?P<n>an?)\s+(?:adult|passenger|traveller|traveler)\b"), 0.9),
    (re.compile(rf"\b(?:group|party|family|team)\s+of\s+{_NUM_NO_ARTICLE}\b"), 0.9),
    (
        re.compile(
            rf"\b(?:we are|we're|there are|hum|ham)\s+{_NUM_NO_ARTICLE}\b(?!\s*(?:days?|nights?))"
        ),
        0.85,
    ),
    (re.compile(rf"\b{_NUM_NO_ARTICLE}\s+(?:adult|bade)\b"), 0.95),
    (
        re.compile(
            rf"\bfor\s+{_NUM_NO_ARTICLE}\b(?!\s*(?:st|nd|rd|th|/|-|\.\d|:|am|pm|nights?|days?|"
            r"weeks?|hours?|hrs?|rooms?|kids?|child|children|infants?|bab|months?|years?|k\b|"
            r"thousand|lakh|rupees|rs|inr|o'?clock|baje|raat|din|"
            r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))"
        ),
        0.8,
    ),
)
_SOLO = re.compile(r"\b(?:just me|only me|myself|solo|alone|akela|akeli|sirf main|sirf mai)\b")
_PAIR = re.compile(
    r"\b(?:me and my (?:wife|husband|friend|partner|mom|mother|dad|father|brother|sister|colleague)"
    r"|my (?:wife|husband|partner) and (?:i|me)|(?:a |for a )?couple\b(?! of)|hum dono|ham dono|dono)\b"
)
_CHILDREN = re.compile(
    rf"\b{_NUM}\s+(?:more\s+)?(?:children|child|kids?|bachche|bacche|bachhe|bachcha|baccha"
    r"|bachchon|bachon|bachche|sons?|daughters?)\b"
)
_INFANTS = re.compile(rf"\b{_NUM}\s+(?:infants?|babies|baby|lap infants?|toddlers?|shishu)\b")
_ROOMS = re.compile(
    rf"\b{_NUM}\s+(?:(?:double|single|twin|deluxe|hotel)\s+)?(?:rooms?|kamre|kamra|kamron)\b"
)
_NIGHTS = re.compile(rf"\b{_NUM}\s+(?:nights?|raat|raatein|raaton|ratein|rat)\b")
_WEEK_STAY = re.compile(r"\bfor a week\b|\bek hafte\b")
_AMOUNT = r"(?:₹|rs\.?|inr|rupees?)?\s*(?P<amount>\d{1,3}(?:,\d{2,3})+|\d+(?:\.\d+)?)\s*(?P<unit>k\b|thousand|hazaar|hazar|lakh|lac|l\b)?\s*(?:₹|rs\.?|inr|rupees?|rupaye|rupay)?"
_BUDGET = (
    re.compile(
        r"\b(?:under|below|less than|within|max(?:imum)?|up ?to|upto|not more than|no more than|"
        r"at most|budget(?: is| of)?|cheaper than|around|about|under rs)\s*" + _AMOUNT
    ),
    re.compile(_AMOUNT + r"\s*(?:se kam|se neeche|se niche|tak|ke andar|ke under|budget|max)\b"),
)
_TIME = re.compile(
    r"\b(?P<h>[01]?\d|2[0-3])(?::(?P<m>[0-5]\d))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?|baje|o'?clock)"
    r"|\b(?P<h24>[01]\d|2[0-3]):(?P<m24>[0-5]\d)\b"
)
_PART_OF_DAY = (
    (re.compile(r"\b(?:early morning|morning|subah|subha|savere|savera|mrng|morng)\b"), "morning"),
    (re.compile(r"\b(?:afternoon|noon|dopahar|dopehar|dophar)\b"), "afternoon"),
    (re.compile(r"\b(?:evening|shaam|sham|eve)\b"), "evening"),
    (re.compile(r"\b(?:night|tonight|late night|raat|rat(?= k[io]\b| wal)|red[- ]eye)\b"), "night"),
)


@dataclass(frozen=True, slots=True)
class Found:
    """One slot value a reader found, with its span in the reading form."""

    name: str
    start: int
    end: int
    normalized: Any
    confidence: float


def counts(text: str) -> list[Found]:
    """Adults, children, infants, rooms and nights, each at most once (the first said)."""
    out: list[Found] = []
    for pattern, confidence in _ADULT_PATTERNS:
        m = pattern.search(text)
        if m is not None and (value := number(m["n"])) and value <= 60:
            out.append(Found("adults", m.start(), m.end(), value, confidence))
            break
    else:
        if m := _PAIR.search(text):
            out.append(Found("adults", m.start(), m.end(), 2, 0.75))
        elif m := _SOLO.search(text):
            out.append(Found("adults", m.start(), m.end(), 1, 0.9))
    for name, pattern in (
        ("children", _CHILDREN), ("infants", _INFANTS), ("rooms", _ROOMS), ("nights", _NIGHTS)
    ):  # fmt: skip
        m = pattern.search(text)
        if m is not None and (value := number(m["n"])):
            out.append(Found(name, m.start(), m.end(), value, 0.95))
    if not any(f.name == "nights" for f in out) and (m := _WEEK_STAY.search(text)):
        out.append(Found("nights", m.start(), m.end(), 7, 0.6))
    return _not_overlapping(out)


def _not_overlapping(found: list[Found]) -> list[Found]:
    kept: list[Found] = []
    for f in sorted(found, key=lambda f: -f.confidence):
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


def budget(text: str) -> Found | None:
    """The most the traveller wants to pay, in paise."""
    for pattern in _BUDGET:
        m = pattern.search(text)
        if m is None:
            continue
        amount = float(m["amount"].replace(",", ""))
        unit = (m["unit"] or "").strip()
        amount *= {"k": 1e3, "thousand": 1e3, "hazaar": 1e3, "hazar": 1e3}.get(unit, 1)
        if unit in ("lakh", "lac", "l"):
            amount *= 1e5
        if 100 <= amount <= 10_000_000:
            return Found("budget", m.start(), m.end(), int(round(amount * 100)), 0.9)
    return None


def times(text: str) -> list[Found]:
    """Clock times ("6 am", "18:30", "6 baje") and parts of the day ("morning", "shaam")."""
    out: list[Found] = []
    for m in _TIME.finditer(text):
        if m["h24"]:
            hour, minute = int(m["h24"]), int(m["m24"])
        else:
            hour, minute = int(m["h"]), int(m["m"] or 0)
            ampm = m["ampm"].replace(".", "")
            if ampm == "pm" and hour < 12:
                hour += 12
            elif ampm == "am" and hour == 12:
                hour = 0
            elif ampm == "baje" and hour < 12:
                before = text[max(0, m.start() - 12) : m.start()]
                if re.search(r"\b(?:shaam|sham|raat|dopahar)\b", before):
                    hour += 12
        out.append(Found("time_of_day", m.start(), m.end(), f"{hour:02d}:{minute:02d}", 0.9))
    for pattern, part in _PART_OF_DAY:
        for m in pattern.finditer(text):
            if all(m.end() <= f.start or m.start() >= f.end for f in out):
                out.append(Found("time_of_day", m.start(), m.end(), part, 0.85))
    return sorted(out, key=lambda f: f.start)
