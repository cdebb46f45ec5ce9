"""Turn taking with real models and real audio: the Smart Turn end-of-turn model on recorded
speech, the back-channel rule, and a caller over the app stream who says "hmm", coughs and
says "achha" while the reply plays (the reply plays on, nothing is answered) and then
interrupts for real ("No wait, to Mumbai." stops it and is heard)."""

from __future__ import annotations

import asyncio
import base64
import shutil
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from tests.test_voice_scheduler import Microphone
from tests.voice_support import (
    TIMEOUT_S,
    app,
    app_start,
    app_token,
    clip,
    next_event,
    settings,
    voice_engines,
    ws_base,
)
from voice.audio import resample
from voice.espeak import EspeakTts
from voice.smart_turn import SmartTurn
from voice.stt import SAMPLE_RATE
from voice.turns import is_backchannel

__all__ = ["app", "settings", "voice_engines", "ws_base"]  # fixtures

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (apt-get install espeak-ng)",
)


@pytest.mark.parametrize(
    ("heard", "backchannel"),
    [
        ("Hmm.", True),
        ("Mm-hmm. Okay.", True),
        ("Haan, achha.", True),
        ("Theek hai.", True),
        ("(coughs)", True),
        ("", True),
        ("No wait, to Mumbai.", False),
        ("Stop.", False),
        ("Okay, make it Goa.", False),
        ("Yes.", False),  # over a question being read out, it may be the answer
    ],
)
def test_backchannel_words_do_not_interrupt(heard: str, backchannel: bool) -> None:
    assert is_backchannel(heard) is backchannel


@pytest.fixture(scope="module")
def smart_turn() -> SmartTurn:
    return SmartTurn.load()


def recorded(name: str) -> np.ndarray:
    """A recorded clip without its trailing silence."""
    pcm = np.frombuffer(clip(name), dtype="<i2").astype(np.int16)
    loud = np.nonzero(np.abs(pcm) > 600)[0]
    return pcm[: loud[-1] + SAMPLE_RATE // 20]


@pytest.mark.parametrize(
    ("name", "next_word_s"),
    [
        # Where the word after "to" starts, as Whisper's word timestamps put it.
        ("delhi_mumbai_25_december.wav", 1.12),  # "Flights from Delhi to | Mumbai ..."
        ("first_of_january_chennai.wav", 0.88),  # "I want to fly to | Chennai ..."
    ],
)
def test_smart_turn_hears_a_finished_sentence_and_one_cut_mid_phrase(
    smart_turn: SmartTurn, name: str, next_word_s: float
) -> None:
    whole = recorded(name)
    assert smart_turn.complete_probability(whole) > 0.5
    assert smart_turn.complete_probability(whole[: int(next_word_s * SAMPLE_RATE)]) < 0.5


@pytest.fixture(scope="module")
def espeak() -> Iterator[EspeakTts]:
    tts = EspeakTts.load()
    yield tts
    tts.close()


async def say_with_espeak(tts: EspeakTts, text: str) -> bytes:
    chunks = [chunk async for chunk in tts.synthesize(text)]
    pcm = np.frombuffer(b"".join(c.pcm16 for c in chunks), dtype="<i2").astype(np.int16)
    return resample(pcm, src_hz=chunks[0].sample_rate, dst_hz=SAMPLE_RATE).astype("<i2").tobytes()


def cough() -> bytes:
    """A short burst of noise, shaped like a cough (150 ms)."""
    noise = np.random.default_rng(7).normal(0, 6000, SAMPLE_RATE * 15 // 100)
    return (noise * np.hanning(len(noise))).astype("<i2").tobytes()


def gap(ms: int) -> bytes:
    return bytes(2 * SAMPLE_RATE * ms // 1000)


async def reply_seconds(ws: ClientConnection) -> float:
    """Seconds of reply audio sent, once the reply is all sent."""
    total = 0.0
    async with asyncio.timeout(TIMEOUT_S):
        while True:
            message: dict[str, Any] = orjson.loads(await ws.recv())
            if message["type"] == "audio":
                total += len(base64.b64decode(message["data"])) / 2 / message["sample_rate"]
            if message["type"] == "reply_end":
                return total


@needs_espeak
async def test_backchannel_over_the_reply_lets_it_play_and_a_real_interruption_stops_it(
    app: FastAPI, ws_base: str, espeak: EspeakTts
) -> None:
    over_reply = b"".join(
        [
            await say_with_espeak(espeak, "Hmm."),
            gap(700),
            cough(),
            gap(700),
            await say_with_espeak(espeak, "Achha."),
            gap(700),
        ]
    )
    interruption = await say_with_espeak(espeak, "No wait, to Mumbai.")
    async with connect(ws_base + "/v1/voice/stream", max_size=2**24) as ws:
        await app_start(ws, await app_token(app))
        mic = Microphone(ws)
        try:
            mic.say(clip("delhi_mumbai_25_december.wav"))
            await next_event(ws, "final")
            # The whole reply is sent ahead of playback; it plays for this long from now.
            playing_s = await reply_seconds(ws)
            assert playing_s > 6, "the reply is too short to speak over"
            mic.say(over_reply + interruption + gap(1500))
            seen: list[dict[str, Any]] = []
            async with asyncio.timeout(TIMEOUT_S):
                while not any(m["type"] == "final" for m in seen):
                    seen.append(orjson.loads(await ws.recv()))
        finally:
            await mic.close()
    types = [m["type"] for m in seen]
    assert types.count("clear") == 1, types  # the back-channel never stopped the reply
    assert types.index("clear") < types.index("final")
    final = next(m for m in seen if m["type"] == "final")
    assert "wait" in final["text"].lower() or "mumbai" in final["text"].lower(), final
