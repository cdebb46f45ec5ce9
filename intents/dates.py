"""Travel dates in the forms travellers say and type (English, Hinglish, romanised Devanagari),
resolved against today's date, the future by default. `find_dates` returns every date with its
span; `parse_date` the outbound one."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from fares.models import BOOKING_HORIZON_DAYS
from intents.numbers import CARDINALS, ORDINALS, spoken_number
from intents.text import romanise

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9,
    "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12,
    "december": 12, "janvari": 1, "janwari": 1, "farvari": 2, "farwari": 2, "aprail": 4,
    "julai": 7, "agast": 8, "sitambar": 9, "aktubar": 10, "oktubar": 10, "navambar": 11,
    "disambar": 12,
}  # fmt: skip
for _hindi, _month in (("जनवरी", 1), ("फ़रवरी", 2), ("फरवरी", 2), ("मार्च", 3), ("अप्रैल", 4),
                       ("जून", 6), ("जुलाई", 7), ("अगस्त", 8), ("सितंबर", 9), ("सितम्बर", 9),
                       ("अक्टूबर", 10), ("अक्तूबर", 10), ("नवंबर", 11), ("नवम्बर", 11),
                       ("दिसंबर", 12), ("दिसम्बर", 12)):  # fmt: skip
    MONTHS.setdefault(romanise(_hindi), _month)
# "mai" (May in Hindi) is also "I"/"in": a month only after a day number.
_MONTH_AFTER_DAY_ONLY = {"mai": 5}
WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6, "somvar": 0, "mangalvar": 1, "mangalwar": 1, "budhvar": 2,
    "budhwar": 2, "guruvar": 3, "guruwar": 3, "brihaspativar": 3, "shukravar": 4,
    "shukrawar": 4, "shanivar": 5, "shaniwar": 5, "ravivar": 6, "raviwar": 6, "itvar": 6,
    "somwar": 0,
}  # fmt: skip
for _hindi, _day in (
    ("सोमवार", 0),
    ("मंगलवार", 1),
    ("बुधवार", 2),
    ("गुरुवार", 3),
    ("बृहस्पतिवार", 3),
    ("शुक्रवार", 4),
    ("शनिवार", 5),
    ("रविवार", 6),
):
    WEEKDAYS.setdefault(romanise(_hindi), _day)

# A date without a year that has passed this year means next year only while next year's is
# still on sale.
HORIZON_DAYS = BOOKING_HORIZON_DAYS


def _alternation(words: Iterable[str]) -> str:
    return "(?:" + "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True)) + ")"


_MONTH = rf"(?P<month>{_alternation(MONTHS)})\.?"
_MONTH_LATE = rf"(?P<month>{_alternation({**MONTHS, **_MONTH_AFTER_DAY_ONLY})})\.?"
_SPOKEN_DAY = (
    rf"(?:(?:twenty|thirty)[ -](?:{_alternation(ORDINALS)}|{_alternation(CARDINALS)})"
    rf"|{_alternation(ORDINALS)}|{_alternation(CARDINALS)})"
)
_SPOKEN_ORDINAL = rf"(?:(?:twenty|thirty)[ -]{_alternation(ORDINALS)}|{_alternation(ORDINALS)})"
_DAY = rf"(?P<day>[0-3]?\d(?:st|nd|rd|th)?|{_SPOKEN_DAY})"
_DAY_FIRST = rf"(?P<day>[0-3]?\d(?:st|nd|rd|th)?|{_SPOKEN_ORDINAL})"
_YEAR = r"(?:,?\s*(?P<year>20\d\d))?"
_WEEKDAY_WORDS = _alternation(WEEKDAYS)
# A weekday said with a date belongs to it ("wednesday april sixth"): the date wins.
_LEAD = rf"(?:(?:{_WEEKDAY_WORDS}),?\s+)?(?:(?:the|on)\s+)?"
_EXPLICIT = (
    re.compile(r"\b(?P<year>20\d\d)-(?P<month>\d\d)-(?P<day>\d\d)\b"),
    # Indian convention: day first. A dot needs the year ("3.7 rating" is no date).
    re.compile(r"\b(?P<day>[0-3]?\d)[/-](?P<month>[01]?\d)[/-](?P<year>(?:20)?\d\d)\b"),
    re.compile(r"\b(?P<day>[0-3]?\d)\.(?P<month>[01]?\d)\.(?P<year>20\d\d)\b"),
    re.compile(r"(?<![\d.])\b(?P<day>[0-3]?\d)/(?P<month>[01]?\d)\b(?![/.]\d)"),
    re.compile(rf"\b{_LEAD}{_DAY_FIRST}(?:\s+(?:of|ko))?\s+{_MONTH_LATE}{_YEAR}\b"),
    re.compile(rf"\b{_LEAD}{_MONTH}\s+(?:the\s+)?{_DAY}{_YEAR}\b(?!\s*(?:am|pm|baje|:))"),
)
# Two days, one month: "5 to 8 december", "december 5 to 8", "5-8 dec".
_RANGES = (
    re.compile(
        rf"\b(?P<d1>[0-3]?\d)(?:st|nd|rd|th)?\s*(?:to|till|until|-|–|se)\s*{_DAY}\s+{_MONTH}{_YEAR}\b"
    ),
    re.compile(
        rf"\b{_MONTH}\s+(?P<d1>[0-3]?\d)(?:st|nd|rd|th)?\s*(?:to|till|until|-|–)\s*{_DAY}{_YEAR}\b"
    ),
)
_RELATIVE = re.compile(
    r"\b(?:(?P<dat>day after tomorrow|parson|parso|parsun|parsoon)"
    r"|(?P<tomorrow>tomorrow|tmrw|tomorow|tommorow|kal|kall)"
    r"|(?P<today>today|tonight|aaj|aj|aaj raat)"
    r"|(?:in|after)\s+(?P<n>\d{1,2})\s+days?|(?P<n2>\d{1,2})\s+(?:din|days?)\s+(?:baad|bad|later|mein)"
    r"|(?P<week>next week|agle hafte|agle haftey|agla hafta|agle week)"
    r"|(?P<weekend>(?:this|is|coming|the)\s+weekend)|(?P<nextweekend>next weekend|agle weekend))\b"
)
_WEEKDAY = re.compile(
    rf"\b(?P<which>this|next|coming|agle|agla|is|iss|aane wale)?\s*(?P<weekday>{_WEEKDAY_WORDS})"
    r"(?:\s+ko)?\b"
)
_DAY_OF_MONTH = re.compile(
    rf"\b(?:the|on)\s+(?P<day>[0-3]?\d(?:st|nd|rd|th)|{_SPOKEN_ORDINAL})\b"
    r"(?!\s*(?:one|option|flight|bus|train|hotel|room|fare|offer|ticket|seat|of the|\d|cheap))"
)
# Words that make the next date the second of a pair: return, check-out, the end of a stay.
SECOND_CUE = re.compile(
    r"\b(?:return(?:ing)?|back|coming back|come back|fly back|wapas|wapis|vapas|vapis|wapsi"
    r"|vapsi|check(?:ing)?[- ]?out|checkout|leave the hotel|leaving the hotel|till|until)\b[\w\s,]{0,14}$"
)


@dataclass(frozen=True, slots=True)
class DateMention:
    start: int  # span in the text searched
    end: int
    date: dt.date
    confidence: float
    explicit: bool  # a day and month were said (not "tomorrow", "friday")
    second: bool = False  # the end of a range, a return or a check-out


def _month_number(raw: str) -> int:
    raw = raw.rstrip(".").lower()
    if raw.isdigit():
        return int(raw)
    return MONTHS.get(raw) or _MONTH_AFTER_DAY_ONLY[raw]


def _day_number(raw: str) -> int:
    raw = raw.lower()
    digits = re.match(r"\d+", raw)
    if digits:
        return int(digits.group(0))
    value = spoken_number(raw)
    if value is None:
        raise ValueError(raw)
    return value


def _next_occurrence(*, day: int, month: int, today: dt.date) -> dt.date | None:
    """The first such date on or after today (travel means the future), unless that is beyond
    the booking horizon: "3 December" said on 5 December is a date that has passed, and is
    returned as this year's so the traveller hears so."""
    passed: dt.date | None = None
    for year in (today.year, today.year + 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            if passed is not None and (candidate - today).days > HORIZON_DAYS:
                return passed
            return candidate
        passed = candidate
    return passed


def _resolve(day: int, month: int, year: str | None, today: dt.date) -> dt.date | None:
    if year:
        try:
            return dt.date(int(year) + (2000 if len(year) == 2 else 0), month, day)
        except ValueError:
            return None
    return _next_occurrence(day=day, month=month, today=today)


def _day_of_month(day: int, today: dt.date) -> dt.date | None:
    for offset in range(3):
        months = today.year * 12 + today.month - 1 + offset
        try:
            candidate = dt.date(months // 12, months % 12 + 1, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def find_dates(text: str, *, today: dt.date) -> list[DateMention]:
    """Every date ``text`` names, in order, without overlaps (the longest reading wins)."""
    lowered = text.lower()
    found: list[DateMention] = []

    def free(start: int, end: int) -> bool:
        return all(end <= m.start or start >= m.end for m in found)

    for pattern in _RANGES:
        for m in pattern.finditer(lowered):
            if not free(m.start(), m.end()):
                continue
            try:
                month = _month_number(m["month"])
                first = _resolve(int(m["d1"]), month, m["year"], today)
                last = _resolve(_day_number(m["day"]), month, m["year"], today)
            except (KeyError, ValueError):
                continue
            if first and last and last >= first:
                found.append(
                    DateMention(m.start(), m.start("d1") + len(m["d1"]), first, 0.95, True)
                )
                found.append(DateMention(m.start("day"), m.end(), last, 0.95, True, second=True))
    for pattern in _EXPLICIT:
        for m in pattern.finditer(lowered):
            if not free(m.start(), m.end()):
                continue
            try:
                date = _resolve(
                    _day_number(m["day"]),
                    _month_number(m["month"]),
                    m.groupdict().get("year"),
                    today,
                )
            except (KeyError, ValueError):
                continue
            if date is not None:
                found.append(DateMention(m.start(), m.end(), date, 0.95, True))
    for m in _RELATIVE.finditer(lowered):
        if not free(m.start(), m.end()):
            continue
        date, confidence = _relative(m, today)
        found.append(DateMention(m.start(), m.end(), date, confidence, False))
    for m in _WEEKDAY.finditer(lowered):
        if not free(m.start("weekday"), m.end()):
            continue
        ahead = (WEEKDAYS[m["weekday"]] - today.weekday()) % 7 or 7
        # "Friday" and "next Friday" both mean the coming one, as Indian English uses them.
        found.append(DateMention(m.start(), m.end(), today + dt.timedelta(days=ahead), 0.85, False))
    for m in _DAY_OF_MONTH.finditer(lowered):
        if not free(m.start(), m.end()):
            continue
        try:
            date = _day_of_month(_day_number(m["day"]), today)
        except ValueError:
            continue
        if date is not None:
            found.append(DateMention(m.start(), m.end(), date, 0.8, True))
    found.sort(key=lambda d: d.start)
    return [
        DateMention(d.start, d.end, d.date, d.confidence, d.explicit, second=True)
        if not d.second and SECOND_CUE.search(lowered[: d.start])
        else d
        for d in found
    ]


_ANCHORED = re.compile(
    r"\b(?:(?:the|a|one|ek)\s+)?(?:(?P<n>\d|two|three|four|five|do|teen|char)\s+)?"
    r"(?:day|days|din)\s+(?P<way>after(?!\s+(?:tomorrow|kal))|later|baad|bad|before|earlier"
    r"|pehle|pahle)\b"
    r"|\b(?:the\s+)?(?P<next>next day|following day|day before|previous day)\b"
    r"|\b(?:uske\s+|us ke\s+)?(?P<agle>agle|agla|pichhle|pichle|pichla)\s+din\b"
)
_COUNT_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "do": 2, "teen": 3, "char": 4}


def dates_from(text: str, *, anchor: dt.date) -> list[DateMention]:
    """Dates said relative to the date under discussion: "what about the day after", "the
    next day", "one day earlier", "do din baad", "uske agle din"."""
    out: list[DateMention] = []
    for m in _ANCHORED.finditer(text.lower()):
        if m["next"]:
            days = 1 if m["next"] in ("next day", "following day") else -1
        elif m["agle"]:
            days = 1 if m["agle"] in ("agle", "agla") else -1
        else:
            raw = m["n"] or "1"
            days = int(raw) if raw.isdigit() else _COUNT_WORDS[raw]
            if m["way"] in ("before", "earlier", "pehle", "pahle"):
                days = -days
        out.append(DateMention(m.start(), m.end(), anchor + dt.timedelta(days=days), 0.8, False))
    return out


def _relative(m: re.Match[str], today: dt.date) -> tuple[dt.date, float]:
    if m["dat"]:
        return today + dt.timedelta(days=2), 0.9
    if m["tomorrow"]:
        # "kal" is yesterday too; a traveller booking means tomorrow.
        return today + dt.timedelta(days=1), 0.9
    if m["today"]:
        return today, 0.9
    if m["week"]:
        return today + dt.timedelta(days=7 - today.weekday()), 0.6  # Monday of next week
    if m["weekend"]:
        return today + dt.timedelta(days=(5 - today.weekday()) % 7), 0.75
    if m["nextweekend"]:
        return today + dt.timedelta(days=(5 - today.weekday()) % 7 + 7), 0.6
    return today + dt.timedelta(days=int(m["n"] or m["n2"])), 0.9


def parse_date(text: str, *, today: dt.date) -> dt.date | None:
    """The outbound travel date ``text`` names, or ``None``: a date with a day and month wins
    over relative words; a return or check-out date never is the outbound one."""
    mentions = [m for m in find_dates(text, today=today) if not m.second]
    if not mentions:
        return None
    return max(mentions, key=lambda m: (m.explicit, -m.start)).date
