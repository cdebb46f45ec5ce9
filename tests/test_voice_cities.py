"""Misheard city names in transcripts, corrected against the real airport directory, and read
by the real NLU afterwards."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from core.airports import load_airports
from intents.models import Intent
from intents.nlu import understand
from voice.cities import CityName, SpokenCities
from voice.normalise import normalise

AIRPORTS = load_airports()
CITIES = SpokenCities.from_airports(AIRPORTS)
TODAY = dt.date(2026, 11, 25)


# Spellings tiny.en wrote for cities spoken by Piper (bench/voice_accuracy.py).
@pytest.mark.parametrize(
    ("heard", "city"),
    [
        ("Daradun", "Dehradun"),
        ("Dairdun", "Dehradun"),
        ("there dune", "Dehradun"),
        ("Riper", "Raipur"),
        ("Ripeur", "Raipur"),
        ("Bengal or", "Bengaluru"),
        ("Vijaywada", "Vijayawada"),
        ("Visakapadnam", "Visakhapatnam"),
        ("Visakha Pudam", "Visakhapatnam"),
        ("Indor", "Indore"),
        ("Maisar", "Mysuru"),
        ("Goa hadi", "Guwahati"),
        ("Goa-Hadi", "Guwahati"),
        ("Turu Padi", "Tirupati"),
        ("Sreenagar", "Srinagar"),
        ("Imfaul", "Imphal"),
        ("Amritzer", "Amritsar"),
        ("a Mritsur", "Amritsar"),
        ("Agurdalaw", "Agartala"),
        ("Port Blur", "Port Blair"),
        ("Putna", "Patna"),
        ("Bopal", "Bhopal"),
        ("Youdaper", "Udaipur"),
        ("Mangal or", "Mangaluru"),
        ("Tiruvannantapuram", "Thiruvananthapuram"),
    ],
)
@pytest.mark.parametrize(
    "template",
    ["Flights from {} to Delhi on Monday.", "Move my flight to {} on 24 February.", "I am in {}."],
)
def test_misheard_names_in_travel_positions_are_corrected(
    heard: str, city: str, template: str
) -> None:
    assert CITIES.correct(template.format(heard)) == template.format(city)


@pytest.mark.parametrize(
    "text",
    [
        "I am in luck",
        "book two adults",
        "what is the cancellation fee for my tatkal ticket",
        "to Goa tomorrow",
        "I want to go to Goa on Monday",
        "Flights from Delhi to Mumbai, Bangalore to Goa",
        "from Mysore to Mangalore via Port Blair",
        "Navi Mumbai to New Delhi",
        "Students in India or abroad are eligible.",
        "Refunds in cash are not given.",
        "You need to board the train before it leaves.",
        "The fare is INR 650 per kg.",
        "What is the tatkal charge for Sleeper class?",
        "If I cancel a booking for Diwali week, what do I lose?",
        "The flight was late due to fog.",
        "I would like to call you back later.",
        "Is there a flight to lay over in Delhi?",
        "",
    ],
)
def test_ordinary_sentences_and_correct_names_are_untouched(text: str) -> None:
    assert CITIES.correct(text) == text


def test_a_name_run_together_differently_is_rewritten_only_in_a_travel_position() -> None:
    assert CITIES.correct("I am in luck now.") == "I am in Lucknow."
    assert CITIES.correct("Press your luck now.") == "Press your luck now."


def test_a_misheard_name_away_from_a_travel_word_is_left() -> None:
    assert CITIES.correct("Daradun is cold.") == "Daradun is cold."


def test_part_of_a_longer_unknown_name_is_not_rewritten() -> None:
    # "Batur" alone is close to Latur, but it is the tail of a misheard "Coimbatore".
    assert "Latur" not in CITIES.correct("Flights from Koryam Batur to Delhi")


def test_an_unstressed_to_run_into_a_name_is_split() -> None:
    assert CITIES.correct("Book from Ranchi, Dapatna for 2 adults.") == (
        "Book from Ranchi, to Patna for 2 adults."
    )
    assert (
        CITIES.correct("a ticket from Bopalta Port Blair") == "a ticket from Bhopal to Port Blair"
    )


def test_other_places_are_never_rewritten() -> None:
    cities = SpokenCities.from_airports(AIRPORTS, other_places=["Lahore", "Abu Dhabi"])
    assert cities.correct("flights from Lahore to Delhi") == "flights from Lahore to Delhi"
    assert cities.correct("from Abu Dhabi to Goa") == "from Abu Dhabi to Goa"


def test_a_small_directory_corrects_only_to_its_own_names() -> None:
    cities = SpokenCities(
        names=[CityName("Dehradun", "Dehradun"), CityName("Raipur", "Raipur")],
        common_words=["the", "lay"],
    )
    assert cities.correct("from Daradun to Riper") == "from Dehradun to Raipur"
    assert cities.correct("from Indor to Delhi") == "from Indor to Delhi"


@pytest.mark.parametrize(
    ("heard", "origin", "destination"),
    [
        ("Flights from Daradun to Bengal or on February 24.", "DED", "BLR"),
        ("Book three adults from Riper to Surat on the twelfth of September.", "RPR", "STV"),
        ("We are two adults flying from Goa-Hadi to Jamu on 31 December.", "GAU", "IXJ"),
        ("I need a tatkal ticket from Turu Padi to Mysar for two adults.", "TIR", "MYQ"),
        ("Book 4 adults from Indor to Ranchi on June 20.", "IDR", "IXR"),
        ("Flights from Sreenagar to Visakapadnam on 26 January.", "SXR", "VTZ"),
    ],
)
def test_the_nlu_reads_the_route_after_correction(
    heard: str, origin: str, destination: str
) -> None:
    before = understand(normalise(heard), today=TODAY, airports=AIRPORTS)
    after = understand(CITIES.correct(normalise(heard)), today=TODAY, airports=AIRPORTS)
    assert (before.slots.origin, before.slots.destination) != (origin, destination)
    assert after.intent is Intent.SEARCH_FLIGHTS
    assert (after.slots.origin, after.slots.destination) == (origin, destination)
    assert after.unknown_places == ()


def test_correction_is_fast() -> None:
    text = (
        "I need a tatkal ticket from Bengal or to Goa hadi for two adults and one child on the "
        "twenty fifth of December, and then from Riper to Daradun via Indor next week please"
    )
    CITIES.correct(text)
    started = time.perf_counter()
    for _ in range(20):
        CITIES.correct(text)
    # Well under a millisecond on a quiet core; the bound leaves room for a busy CI box.
    assert (time.perf_counter() - started) / 20 < 0.005
