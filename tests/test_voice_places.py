"""Places first: the real tiny.en scores the airport directory's readings of each place it heard
(committed Piper clips), the choice keeps the rest of the sentence as heard, and a city guessed
with doubt is read back by the real dialogue engine before anything is searched."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI

from api.deps import Services
from api.turns import turn_handler
from core.airports import load_airports
from intents.nlu import understand
from voice.audio import PCM16
from voice.faster_whisper import WhisperStt
from voice.places import SpokenPlaces
from voice.stt import Scored, Transcript

CLIPS = Path(__file__).parent / "data" / "voice"
AIRPORTS = load_airports()
PLACES = SpokenPlaces.from_airports(AIRPORTS)
TODAY = dt.date(2026, 11, 25)


def read_wav(name: str) -> PCM16:
    with wave.open(str(CLIPS / name), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)


@pytest.fixture(scope="module")
def stt() -> Iterator[WhisperStt]:
    engine = WhisperStt.load()
    yield engine
    engine.close()


def route(text: str) -> tuple[str | None, str | None]:
    slots = understand(text, today=TODAY, airports=AIRPORTS).slots
    return slots.origin, slots.destination


# --- the decoder scores the directory's readings ----------------------------------------------


async def test_the_decoder_scores_each_reading_of_the_places_it_heard(stt: WhisperStt) -> None:
    transcript = await stt.transcribe(
        read_wav("delhi_mumbai_25_december.wav"), rewrites=PLACES.rewrites
    )
    readings = [s.text for s in transcript.scored]
    assert len(readings) > 2 and transcript.scored == tuple(
        sorted(transcript.scored, key=lambda s: -s.logprob)
    )
    # Every reading is the hypothesis with one place read as a city, up to the word after it.
    assert any(r.startswith(transcript.text[:10]) for r in readings)
    heard = PLACES.read(transcript)
    assert route(heard.text) == ("DEL", "BOM") and heard.doubts == ()


async def test_a_town_abroad_heard_for_an_indian_city_is_read_as_the_indian_city(
    stt: WhisperStt,
) -> None:
    # "Delhi to Mobile" (Mobile, Alabama) as tiny.en has written it, scored on the real audio.
    misheard = "Flights from Delhi to Mobile on the 25th of December."
    transcript = await stt.transcribe(
        read_wav("delhi_mumbai_25_december.wav"),
        rewrites=lambda _: [misheard, *PLACES.rewrites(misheard)],
    )
    as_misheard = dataclasses.replace(transcript, text=misheard)
    heard = PLACES.read(as_misheard)
    assert route(heard.text) == ("DEL", "BOM"), heard
    assert "25 december" in heard.text


async def test_a_misheard_name_is_read_as_the_city_the_audio_says(stt: WhisperStt) -> None:
    transcript = await stt.transcribe(
        read_wav("guwahati_lucknow_5_march.wav"), rewrites=PLACES.rewrites
    )
    heard = PLACES.read(transcript)
    assert route(heard.text) == ("GAU", "LKO"), (transcript.text, heard)
    assert "5 march" in heard.text and "2 adults" in heard.text


# --- the rest of the sentence is never a place ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Book a table at seven.",
        "You need to board the train.",
        "Refunds in cash are not given.",
        "What is the cancellation fee for my tatkal ticket?",
    ],
)
def test_sentences_without_a_place_offer_no_reading(text: str) -> None:
    assert PLACES.rewrites(text) == []


def test_readings_change_only_the_place() -> None:
    text = "Book two adults from Goa hati to Lucknow at seven on the fifth of March."
    readings = PLACES.rewrites(text)
    assert readings
    for reading in readings:
        # Up to the word after the place: the count before it and the time after stay as heard.
        assert reading.startswith("Book two adults from ")
        assert reading.rsplit(" ", 1)[1] in ("to", "at"), reading


# --- a doubtful city is read back -------------------------------------------------------------


def test_a_close_call_between_cities_is_a_doubt() -> None:
    heard = "Flights from Delhi to Goa hati on Monday."
    readings = PLACES.rewrites(heard)
    guwahati = next(r for r in readings if "Guwahati" in r)
    agatti = next(r for r in readings if "Agatti" in r)
    # The audio says Guwahati a little more than Agatti, and "Goa" (as heard) least.
    scores = dict.fromkeys(readings, -30.0) | {guwahati: -5.0, agatti: -5.1}
    scores |= {"Flights from Delhi to Goa hati on": -7.0}
    transcript = Transcript(
        text=heard, words=(), language="en", audio_s=2.0, decode_s=0.1,
        scored=tuple(Scored(t, s) for t, s in scores.items()),
    )  # fmt: skip
    result = PLACES.read(transcript)
    assert "Guwahati" in result.text
    assert [(d.heard, d.city) for d in result.doubts] == [("Goa hati", "Guwahati")]
    assert result.unsure() == {"guwahati": "Goa hati"}


def services(app: FastAPI) -> Services:
    found: Services = app.state.services
    return found


async def test_the_dialogue_reads_a_doubtful_city_back_before_searching(app: FastAPI) -> None:
    turn = turn_handler(services(app), session_id=f"call-{uuid.uuid4().hex}", channel="phone")
    asked = await turn("Flights from Delhi to Guwahati tomorrow.", unsure={"guwahati": "Goa hati"})
    assert "Did you mean Guwahati" in asked.text and "Goa hati" in asked.text, asked.text
    assert asked.data["data"]["expecting"] == "confirmation"
    assert "offers" not in asked.data["data"]
    searched = await turn("yes")
    assert searched.data["slots"]["destination"] == "GAU", searched.text
    assert searched.data["data"].get("offers"), searched.text


async def test_a_city_heard_with_confidence_is_searched_at_once(app: FastAPI) -> None:
    turn = turn_handler(services(app), session_id=f"call-{uuid.uuid4().hex}", channel="phone")
    found = await turn("Flights from Delhi to Guwahati tomorrow.")
    assert "Did you mean" not in found.text
    assert found.data["slots"]["destination"] == "GAU" and found.data["data"].get("offers")


def test_a_date_after_a_place_is_never_read_as_part_of_it() -> None:
    text = "Book two adults from Embry Kapur to Magdagran, 27th of September."
    assert all(r.endswith(("to", "27th")) for r in PLACES.rewrites(text))
    assert PLACES(text) == "Book 2 adults from Ambikapur to Bagdogra, 27 september."
