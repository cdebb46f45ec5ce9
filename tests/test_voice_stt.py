"""Speech-to-text: faster-whisper tiny.en on real spoken clips (Piper TTS, committed WAVs),
the transcript normaliser, and the LocalAgreement streaming commit policy."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from api.voice_backends import transcript_normaliser
from core.airports import load_airports
from intents.dates import parse_date
from intents.models import Intent, Understanding
from intents.nlu import understand
from voice.audio import PCM16
from voice.faster_whisper import WhisperStt
from voice.normalise import normalise, words_to_number
from voice.stt import LocalAgreement, SpeechToText, Transcript, Word

CLIPS = Path(__file__).parent / "data" / "voice"


def read_wav(name: str) -> PCM16:
    with wave.open(str(CLIPS / name), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16_000, 1, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)


@pytest.fixture(scope="module")
def stt() -> Iterator[WhisperStt]:
    engine = WhisperStt.load()
    yield engine
    engine.close()


# --- the real model on real speech ------------------------------------------------------------


@pytest.fixture(scope="module")
def understood() -> Callable[[str], Understanding]:
    """What the product makes of a transcript: spoken forms and misheard city names corrected
    (the transports' normaliser), then the NLU."""
    airports = load_airports()
    correct = transcript_normaliser(airports)
    return lambda text: understand(correct(text), today=dt.date.today(), airports=airports)


# What the turn engine understood, not the exact words: decoding differs a little between CPUs
# ("from Bengal or to Goa" on one, "from Bangalore to Goa" on another); both must book BLR-GOI.
@pytest.mark.parametrize(
    ("clip", "route", "when", "adults"),
    [
        ("delhi_mumbai_25_december.wav", ("DEL", "BOM"), "25 december", None),
        ("two_adults_bangalore_goa.wav", ("BLR", "GOI"), "tomorrow", 2),
        ("first_of_january_chennai.wav", (None, "MAA"), "1 january", None),
    ],
)
async def test_travel_utterances_are_understood(
    stt: WhisperStt,
    understood: Callable[[str], Understanding],
    clip: str,
    route: tuple[str | None, str | None],
    when: str,
    adults: int | None,
) -> None:
    pcm = read_wav(clip)
    transcript = await stt.transcribe(pcm)
    result = understood(transcript.text)
    assert result.intent is Intent.SEARCH_FLIGHTS, transcript.text
    assert (result.slots.origin, result.slots.destination) == route, transcript.text
    assert result.slots.date == parse_date(when, today=dt.date.today()), transcript.text
    assert result.slots.adults == adults, transcript.text
    _assert_timing_and_words(transcript, pcm)


async def test_policy_question_keeps_its_keywords(stt: WhisperStt) -> None:
    pcm = read_wav("tatkal_cancellation_fee.wav")
    transcript = await stt.transcribe(pcm)
    # "tatkal" is in the STT prompt; the policy search needs it and "cancel".
    assert re.search(r"\btatkal\b", transcript.text.lower()), transcript.text
    assert re.search(r"\bcancel", transcript.text.lower()), transcript.text
    _assert_timing_and_words(transcript, pcm)


def _assert_timing_and_words(transcript: Transcript, pcm: PCM16) -> None:
    assert transcript.language == "en"
    assert transcript.audio_s == pytest.approx(len(pcm) / 16_000)
    assert transcript.decode_s > 0
    assert transcript.real_time_factor == pytest.approx(transcript.decode_s / transcript.audio_s)
    # tiny.en int8 on two threads runs well under real time; 1.5 leaves room for a busy CI box.
    assert transcript.real_time_factor < 1.5
    words = transcript.words
    assert words and all(0 <= w.start_s <= w.end_s <= transcript.audio_s + 0.5 for w in words)
    assert all(0 <= w.probability <= 1 for w in words)


async def test_decoding_leaves_the_event_loop_free(stt: WhisperStt) -> None:
    pcm = read_wav("delhi_mumbai_25_december.wav")
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    try:
        transcript = await stt.transcribe(pcm)
    finally:
        task.cancel()
    # A blocked loop ticks once before the decode and once after it: one gap of decode_s.
    assert len(ticks) >= 2
    assert max(np.diff(ticks)) < max(0.1, transcript.decode_s / 2)


async def test_prompt_is_per_call_and_engine_is_a_speech_to_text(stt: WhisperStt) -> None:
    engine: SpeechToText = stt
    silence = np.zeros(16_000, dtype=np.int16)
    transcript = await engine.transcribe(silence, prompt="")
    assert transcript.audio_s == pytest.approx(1.0)


@pytest.mark.parametrize(
    "bad", [np.zeros(160, dtype=np.float32), np.zeros((160, 2), dtype=np.int16)]
)
async def test_refuses_audio_that_is_not_mono_pcm16(stt: WhisperStt, bad: PCM16) -> None:
    with pytest.raises(ValueError, match="1-D int16"):
        await stt.transcribe(bad)


# --- normaliser --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("twenty fifth of december", "25 december"),
        ("the first of january", "1 january"),
        ("flights on the twenty-fifth of December.", "flights on 25 december."),
        ("on 25th of December", "on 25 december"),
        ("December the thirty first", "31 december"),
        ("march 3rd", "3 march"),
        ("the tenth may", "10 may"),
        ("two adults and one child", "2 adults and 1 child"),
        ("Three adults, twenty two kg", "3 adults, 22 kg"),
        ("seventeen passengers", "17 passengers"),
        ("b l r to g o i", "BLR to GOI"),
        ("from B. L. R to D-E-L", "from BLR to DEL"),
        ("tomorrow", "tomorrow"),
        ("one way to Goa, which one is cheaper", "one way to Goa, which one is cheaper"),
        ("first class", "first class"),
        ("the 45th of may", "the 45th of may"),
        ("a b c d e", "a b c d e"),
        ("I a", "I a"),
        ("twenty one", "21"),
        ("February 24th", "24 february"),
        # Month first with a bare number is already what the NLU reads; it stays as written.
        ("February 24", "February 24"),
        ("24 Feb", "24 Feb"),
        ("", ""),
    ],
)
def test_normalise(spoken: str, written: str) -> None:
    assert normalise(spoken) == written


@pytest.mark.parametrize(
    "heard",
    [
        "February 24",
        "February 24th",
        "february the twenty fourth",
        "February twenty four",
        "the twenty fourth of February",
        "24 Feb",
        "24th Feb",
        "on Feb 24.",
        "Please move my flight to Leh on February 24.",
    ],
)
def test_dates_as_whisper_writes_them_are_read_by_the_nlu(heard: str) -> None:
    assert parse_date(normalise(heard), today=dt.date(2026, 11, 25)) == dt.date(2027, 2, 24)


@pytest.mark.parametrize(
    ("words", "value"),
    [
        ("twenty five", 25),
        ("thirty-first", 31),
        ("12th", 12),
        ("seven", 7),
        ("five twenty", None),
        ("twenty thirty", None),
        ("banana", None),
        ("nineteenth", 19),
    ],
)
def test_words_to_number(words: str, value: int | None) -> None:
    assert words_to_number(words) == value


# --- LocalAgreement ----------------------------------------------------------------------------


def hyp(text: str) -> list[Word]:
    return [Word(t, i * 0.5, i * 0.5 + 0.4, 0.9) for i, t in enumerate(text.split())]


def texts(words: tuple[Word, ...]) -> str:
    return " ".join(w.text for w in words)


def test_commits_the_prefix_two_hypotheses_agree_on() -> None:
    policy = LocalAgreement()
    assert policy.update(hyp("flights from")) == ()
    assert texts(policy.tentative) == "flights from"
    assert texts(policy.update(hyp("flights from deli"))) == "flights from"
    assert texts(policy.tentative) == "deli"
    assert texts(policy.update(hyp("flights from Delhi to"))) == ""
    assert texts(policy.update(hyp("flights from Delhi, to Mumbai"))) == "Delhi, to"
    assert texts(policy.committed) == "flights from Delhi, to"
    assert texts(policy.tentative) == "Mumbai"


def test_committed_words_are_never_retracted() -> None:
    policy = LocalAgreement()
    policy.update(hyp("book two adults"))
    policy.update(hyp("book two adults"))
    assert texts(policy.committed) == "book two adults"
    # A later hypothesis rewrites a committed word: the commitment stands, new words still flow.
    assert texts(policy.update(hyp("book to adults from"))) == ""
    assert texts(policy.update(hyp("look to adults from Goa"))) == "from"
    assert texts(policy.committed) == "book two adults from"
    assert texts(policy.tentative) == "Goa"


def test_agreement_ignores_case_and_punctuation_and_keeps_the_newer_timing() -> None:
    policy = LocalAgreement()
    policy.update([Word("Goa", 1.0, 1.3, 0.5)])
    newly = policy.update([Word("goa.", 1.1, 1.4, 0.8)])
    assert newly == (Word("goa.", 1.1, 1.4, 0.8),)


def test_flush_commits_the_tentative_tail() -> None:
    policy = LocalAgreement()
    policy.update(hyp("tatkal ticket"))
    assert texts(policy.flush()) == "tatkal ticket"
    assert policy.tentative == ()
    assert texts(policy.committed) == "tatkal ticket"
    assert policy.flush() == ()
