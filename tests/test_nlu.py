"""Understanding flight searches from real airport data; the dialogue policy."""

from __future__ import annotations

import datetime as dt

import pytest

from core.airports import load_airports
from intents.dates import parse_date
from intents.models import Intent
from intents.nlu import understand

TODAY = dt.date(2026, 11, 25)  # a Wednesday
AIRPORTS = load_airports()


@pytest.mark.parametrize(
    ("text", "origin", "destination", "date", "adults"),
    [
        ("flights from Delhi to Mumbai on 5 December", "DEL", "BOM", dt.date(2026, 12, 5), None),
        ("BLR to GOI tomorrow for 2 adults", "BLR", "GOI", dt.date(2026, 11, 26), 2),
        ("Bangalore to Cochin on 3rd Jan", "BLR", "COK", dt.date(2027, 1, 3), None),
        ("from bombay to calcutta next friday", "BOM", "CCU", dt.date(2026, 11, 27), None),
        ("Mumbai se Delhi kal ki flight", "BOM", "DEL", dt.date(2026, 11, 26), None),
        ("fly from pune to blr on 24/12 for two people", "PNQ", "BLR", dt.date(2026, 12, 24), 2),
        ("to Goa from Hyderabad day after tomorrow", "HYD", "GOI", dt.date(2026, 11, 27), None),
        ("trivandrum to vizag on 2027-02-01", "TRV", "VTZ", dt.date(2027, 2, 1), None),
    ],
)
def test_flight_searches(
    text: str, origin: str, destination: str, date: dt.date, adults: int | None
) -> None:
    u = understand(text, today=TODAY, airports=AIRPORTS)
    assert u.intent is Intent.SEARCH_FLIGHTS
    assert (u.slots.origin, u.slots.destination, u.slots.date, u.slots.adults) == (
        origin, destination, date, adults,
    )  # fmt: skip


def test_passenger_mix_and_cabin() -> None:
    u = understand(
        "2 adults, 1 child and an infant in business class", today=TODAY, airports=AIRPORTS
    )
    assert (u.slots.adults, u.slots.children, u.slots.infants, u.slots.cabin) == (
        2, 1, 1, "business",
    )  # fmt: skip


def test_a_date_is_not_a_passenger_count() -> None:
    u = understand("flights for 5 December to Goa", today=TODAY, airports=AIRPORTS)
    assert u.slots.adults is None and u.slots.date == dt.date(2026, 12, 5)


def test_lower_case_codes_need_a_routing_word() -> None:
    prose = understand("pat me on the back", today=TODAY, airports=AIRPORTS)
    assert prose.intent is not Intent.SEARCH_FLIGHTS
    route = understand("del to bom", today=TODAY, airports=AIRPORTS)
    assert (route.slots.origin, route.slots.destination) == ("DEL", "BOM")


def test_unknown_place_is_reported() -> None:
    u = understand("from Atlantis to Mumbai tomorrow", today=TODAY, airports=AIRPORTS)
    assert u.unknown_places == ("atlantis",)
    assert u.slots.destination == "BOM" and u.slots.origin is None


@pytest.mark.parametrize(
    ("text", "intent"),
    [("hi", Intent.GREET), ("thank you!", Intent.THANKS), ("what can you do", Intent.HELP),
     ("tell me a joke", Intent.UNKNOWN)],
)  # fmt: skip
def test_small_talk(text: str, intent: Intent) -> None:
    assert understand(text, today=TODAY, airports=AIRPORTS).intent is intent


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on 5 December", dt.date(2026, 12, 5)),
        ("december 5th", dt.date(2026, 12, 5)),
        ("on 20 Nov", dt.date(2027, 11, 20)),  # already past this year
        ("5/12", dt.date(2026, 12, 5)),  # day first
        ("today", TODAY),
        ("in 3 days", dt.date(2026, 11, 28)),
        ("on wednesday", dt.date(2026, 12, 2)),
        ("what about the 7th", dt.date(2026, 12, 7)),
        ("on 30 February", None),
        ("no date here", None),
    ],
)
def test_dates(text: str, expected: dt.date | None) -> None:
    assert parse_date(text, today=TODAY) == expected
