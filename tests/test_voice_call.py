"""The voice pipeline's pure parts: when a transcript reads as a finished turn, how a reply is
made speakable, and how a looping decoder's output is cut."""

from __future__ import annotations

import pytest

from voice.faster_whisper import trim_repeats
from voice.tts import lead_and_rest, speakable
from voice.turns import looks_complete


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("Flights from Delhi to Mumbai on 25 December.", True),
        ("What is the cancellation fee for my tatkal ticket?", True),
        ("Book two adults from Bangalore to Goa tomorrow!", True),
        ("Flights from Delhi to.", False),  # a caller still talking
        ("I want to fly on the.", False),
        ("Flights from…", False),
        ("Flights from Delhi to Mumbai...", False),
        ("Flights from Delhi to Mumbai", False),  # no sentence end yet
        ("Yes.", False),  # one word: wait the full window
        ("", False),
    ],
)
def test_looks_complete(text: str, complete: bool) -> None:
    assert looks_complete(text) is complete


def test_speakable_reads_rupees_and_drops_airport_codes() -> None:
    text = "I found 3 flights from Delhi (DEL) to Mumbai (BOM). Cheapest: ₹4,512 on IndiGo."
    assert speakable(text) == (
        "I found 3 flights from Delhi to Mumbai. Cheapest: 4512 rupees on IndiGo."
    )
    assert speakable("₹ 1,23,456") == "123456 rupees"


@pytest.mark.parametrize(
    ("decoded", "kept"),
    [
        ("Book 4 adults. Book 4 adults. Book 4 adults.", "Book 4 adults."),
        (
            "Move my flight to Goa. Move my flight to Goa on 8th. Move my flight",
            "Move my flight to Goa. Move my flight to Goa on 8th.",
        ),
        ("I am in Pune. What is the fare to Goa?", "I am in Pune. What is the fare to Goa?"),
        ("", ""),
    ],
)
def testtrim_repeats_cuts_a_decoder_loop(decoded: str, kept: str) -> None:
    assert trim_repeats(decoded) == kept


def test_lead_and_rest_gives_a_long_first_sentence_a_short_lead() -> None:
    reply = "I found 9 flights from Delhi to Mumbai on Thursday 25 December. Cheapest: IndiGo."
    assert lead_and_rest(reply) == [
        "I found 9 flights",
        "from Delhi to Mumbai on Thursday 25 December. Cheapest: IndiGo.",
    ]
    assert lead_and_rest("Where will you be flying from?") == ["Where will you be flying from?"]
    assert lead_and_rest("") == []
