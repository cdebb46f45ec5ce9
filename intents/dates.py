"""Travel dates in the forms travellers say and type, resolved against today's date."""

from __future__ import annotations

import datetime as dt
import re

from fares.models import BOOKING_HORIZON_DAYS

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9,
    "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12,
    "december": 12,
}  # fmt: skip
WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}  # fmt: skip

_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s*(?P<year>20\d\d))?"
_PATTERNS = (
    re.compile(r"\b(?P<year>20\d\d)-(?P<month>\d\d)-(?P<day>\d\d)\b"),
    re.compile(rf"\b{_DAY}(?:\s+of)?\s+{_MONTH}{_YEAR}\b"),
    re.compile(rf"\b{_MONTH}\s+{_DAY}{_YEAR}\b"),
    # Indian convention: day first.
    re.compile(r"\b(?P<day>[0-3]?\d)[/.](?P<month>[01]?\d)(?:[/.](?P<year>(?:20)?\d\d))?\b"),
)
_WEEKDAY = re.compile(
    r"\b(?P<which>this|next|coming)?\s*(?P<weekday>" + "|".join(WEEKDAYS) + r")\b"
)
_RELATIVE = re.compile(
    r"\b(?:(?P<dat>day after tomorrow|parso)|(?P<tomorrow>tomorrow|tmrw|kal)|(?P<today>today|tonight|aaj)"
    r"|in (?P<n>\d+) days?)\b"
)

# A date without a year that has passed this year means next year only while next year's is
# still on sale.
HORIZON_DAYS = BOOKING_HORIZON_DAYS

_DAY_OF_MONTH = re.compile(r"\b(?:the|on)\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)\b")


def _month_number(raw: str) -> int:
    return int(raw) if raw.isdigit() else MONTHS[raw.rstrip(".").lower()]


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


def parse_date(text: str, *, today: dt.date) -> dt.date | None:
    """The travel date ``text`` names, or ``None``. Explicit dates win over relative words."""
    lowered = text.lower()
    for pattern in _PATTERNS:
        m = pattern.search(lowered)
        if not m:
            continue
        try:
            day, month = int(m["day"]), _month_number(m["month"])
        except (KeyError, ValueError):
            continue
        year = m["year"]
        if year:
            full_year = int(year) + (2000 if len(year) == 2 else 0)
            try:
                return dt.date(full_year, month, day)
            except ValueError:
                continue
        found = _next_occurrence(day=day, month=month, today=today)
        if found:
            return found
    m = _RELATIVE.search(lowered)
    if m:
        if m["dat"]:
            return today + dt.timedelta(days=2)
        if m["tomorrow"]:
            return today + dt.timedelta(days=1)
        if m["today"]:
            return today
        return today + dt.timedelta(days=int(m["n"]))
    m = _WEEKDAY.search(lowered)
    if m:
        # "Friday" and "next Friday" both mean the coming one, as Indian English uses them.
        ahead = (WEEKDAYS[m["weekday"]] - today.weekday()) % 7 or 7
        return today + dt.timedelta(days=ahead)
    m = _DAY_OF_MONTH.search(lowered)
    if m:
        day = int(m["day"])
        for offset in range(3):
            months = today.year * 12 + today.month - 1 + offset
            try:
                candidate = dt.date(months // 12, months % 12 + 1, day)
            except ValueError:
                continue
            if candidate >= today:
                return candidate
    return None
