"""Text-to-speech: the interface every engine implements and its data types.

Engines live one per module (`voice/piper.py`); nothing here imports one. Replies are spoken
sentence by sentence so the first sentence can go down the line while the rest is synthesised.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from core.errors import YatriError
from rag.text import sentences


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """One synthesised sentence: mono little-endian PCM16 at `sample_rate` Hz.

    `sentence_index` is the sentence's position in `split_sentences(text)` of the reply.
    """

    pcm16: bytes
    sample_rate: int
    sentence_index: int
    text: str

    @property
    def duration_s(self) -> float:
        return len(self.pcm16) / (2 * self.sample_rate)


class SynthesisError(YatriError):
    """The engine failed to synthesise a sentence of a reply."""

    problem_type = "synthesis-failed"
    title = "Speech could not be synthesised"
    status = 502


class TextToSpeech(Protocol):
    """Speaks a reply one sentence at a time without blocking the event loop."""

    # Declared with plain `def`: an engine's `async def ... yield` is an async generator
    # function, whose call returns the iterator directly rather than a coroutine.
    def synthesize(self, text: str) -> AsyncGenerator[AudioChunk, None]:
        """Yield one chunk per sentence, in order. A sentence is synthesised only when the
        consumer asks for it, so closing the iterator (barge-in) stops further synthesis."""
        ...


def split_sentences(text: str) -> list[str]:
    """The sentences an engine speaks, one chunk each (`rag.text.sentences`)."""
    return sentences(text)


_RUPEES = re.compile(r"₹\s?(\d[\d,]*)")
_AIRPORT_CODE = re.compile(r"\s\([A-Z]{3}\)")
_DAYS_LATER = re.compile(r"\s\(\+(\d)\)")


def speakable(text: str) -> str:
    """Reply text as it should sound: "₹4,512" -> "4512 rupees"; "Delhi (DEL)" -> "Delhi";
    "00:45 (+1)" -> "00:45 the next day"."""
    text = _RUPEES.sub(lambda m: m.group(1).replace(",", "") + " rupees", text)
    text = _DAYS_LATER.sub(
        lambda m: " the next day" if m.group(1) == "1" else f" {m.group(1)} days later", text
    )
    return _AIRPORT_CODE.sub("", text)


# Where a long first sentence can pause naturally: before a preposition or a conjunction.
_PHRASE_BREAK = re.compile(r"\s(?=(?:from|to|on|for|with|at|and|but)\s)", re.IGNORECASE)
_LEAD_MIN_WORDS = 3
_LEAD_MAX_WORDS = 8


def lead_and_rest(text: str) -> list[str]:
    """`text` as one or two parts to synthesise in turn: a long first sentence gives up a
    short lead phrase ("I found 9 flights" | "from Delhi to Mumbai ...") so the caller hears
    something sooner; the rest follows while the lead plays."""
    parts = split_sentences(text)
    if not parts or len(parts[0].split()) <= _LEAD_MAX_WORDS:
        return [text] if parts else []
    first = parts[0]
    for match in _PHRASE_BREAK.finditer(first):
        if len(first[: match.start()].split()) >= _LEAD_MIN_WORDS:
            return [first[: match.start()], " ".join([first[match.end() :], *parts[1:]])]
    return [text]
