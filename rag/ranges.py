"""Which row of a banded table a question falls in: "cancelled 2 days before departure" is
answered by the "24 hours to 3 days" row, not by "3 to 7 days"; "a 4-year-old" by "Below 5
years". Policy tables band charges by time before departure and fares by age, so a question's
quantity is compared with each row's band in a common unit (hours, or years of age).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HOURS = {
    "minute": 1 / 60, "min": 1 / 60, "hour": 1.0, "hr": 1.0, "day": 24.0, "night": 24.0,
    "week": 168.0, "month": 720.0,
    # Hinglish, as travellers type it when the question is not normalised as a whole
    "din": 24.0, "ghanta": 1.0, "ghante": 1.0, "ghanton": 1.0, "hafte": 168.0, "mahine": 720.0,
}  # fmt: skip
_AGE = {"year": 1.0, "yr": 1.0, "saal": 1.0, "sal": 1.0}
_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty-eight": 48, "seventy-two": 72,
}  # fmt: skip
_NUMBER = r"\b(\d+(?:\.\d+)?|" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")"
_UNIT = (
    r"((?:minutes?|mins?|hours?|hrs?|days?|nights?|weeks?|months?|years?|yrs?|din|ghant(?:a|e|on)|"
    r"hafte|mahine|saal|sal)\b)"
)
_BAND = re.compile(
    rf"(?P<plus>{_NUMBER}\s*(?:\+\s*{_UNIT}|{_UNIT}\s*(?:\+|or more|and above|or older|and over)))|"
    rf"(?:(?P<low_word>more than|over|above|beyond|at least|minimum of|less than|under|below|"
    rf"within|up to|upto|maximum of)\s+)?{_NUMBER}\s*{_UNIT}?"
    rf"(?:\s*(?:to|-|–|and)\s*{_NUMBER}\s*{_UNIT})?",
    re.IGNORECASE,
)
_LOWER_BOUND = {"more than", "over", "above", "beyond", "at least", "minimum of"}


@dataclass(frozen=True, slots=True)
class Band:
    scale: str  # "hours" or "age"
    low: float
    high: float

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


def _number(word: str) -> float:
    return float(_WORDS.get(word.lower(), word)) if word.lower() in _WORDS else float(word)


def _unit(word: str | None) -> tuple[str, float] | None:
    if not word:
        return None
    stem = word.lower()
    stem = stem if stem in _HOURS or stem in _AGE else stem.rstrip("s")
    if stem in _HOURS:
        return "hours", _HOURS[stem]
    if stem in _AGE:
        return "age", _AGE[stem]
    return None


def bands(text: str) -> list[Band]:
    """The quantities and bands ``text`` states, each in its scale's unit: "24 to 48 hours",
    "More than 7 days", "Below 5 years", "24 hours to 3 days"; a bare quantity ("2 days") is a
    band of one value."""
    found = []
    for m in _BAND.finditer(text):
        groups = m.groups()
        if m.group("plus"):
            value, unit = groups[1], groups[2] or groups[3]
            scaled = _unit(unit)
            if scaled:
                found.append(Band(scaled[0], _number(value) * scaled[1], float("inf")))
            continue
        word, first, first_unit, second, second_unit = groups[4:9]
        if first is None or (first.lower() in ("a", "an") and not first_unit):
            continue
        high_unit = _unit(second_unit) if second else None
        low_unit = _unit(first_unit) or high_unit
        if low_unit is None:
            continue
        low = _number(first) * low_unit[1]
        if second and high_unit and high_unit[0] == low_unit[0]:
            found.append(Band(low_unit[0], low, _number(second) * high_unit[1]))
        elif word and word.lower() in _LOWER_BOUND:
            found.append(Band(low_unit[0], low, float("inf")))
        elif word:
            found.append(Band(low_unit[0], 0.0, low))
        else:
            found.append(Band(low_unit[0], low, low))
    return found


_BEFORE = re.compile(
    r"^\W*(?:\w+\W+){0,2}?(?:before|prior|ahead|in advance|earlier than|pehle|pahle)\b", re.I
)


def _asked(question: str) -> list[Band]:
    """The quantities ``question`` places on a band's scale: an age, or a time before the
    journey ("2 days before", "cancel 48 hours prior"); not a delay ("moved by 3 hours")."""
    found = []
    for m in _BAND.finditer(question):
        for band in bands(m.group(0)):
            if band.low != band.high:
                continue
            if band.scale == "age" or _BEFORE.match(question[m.end() :]):
                found.append(band)
    return found


def fit(question: str, text: str) -> float:
    """1 when a quantity in ``question`` falls in a band that ``text`` states on the same scale,
    -1 when ``text`` states bands on that scale and the quantity is in none, else 0. Times are
    compared only with bands of time before something ("Time before departure: 3 to 7 days")."""
    asked = _asked(question)
    if not asked:
        return 0.0
    stated = [b for b in bands(text) if b.low != b.high]
    score = 0.0
    for quantity in asked:
        same_scale = [b for b in stated if b.scale == quantity.scale]
        if not same_scale or (quantity.scale == "hours" and "before" not in text.lower()):
            continue
        if any(b.holds(quantity.low) for b in same_scale):
            return 1.0
        score = -1.0
    return score
