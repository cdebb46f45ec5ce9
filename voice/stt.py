"""Speech-to-text: the interface every engine implements, its data types, and the streaming
commit policy that turns successive partial hypotheses into words that never change.

Engines live one per module (`voice/faster_whisper.py`); nothing here imports one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.errors import YatriError
from voice.audio import PCM16

SAMPLE_RATE = 16_000
"""The only rate `SpeechToText.transcribe` accepts; resample telephony audio first."""


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word, with times in seconds from the start of the audio passed in."""

    text: str
    start_s: float
    end_s: float
    probability: float


@dataclass(frozen=True, slots=True)
class Scored:
    """A reading of the clip and the decoder's log-probability of it given the audio."""

    text: str
    logprob: float


Rewrites = Callable[[str], Sequence[str]]
"""The hypothesis in, other readings of it to score against the same audio (the places a
directory says the heard words may be)."""


@dataclass(frozen=True, slots=True)
class Transcript:
    """What an engine heard in one clip, and how long it took to decode. `scored` holds the
    hypothesis and the rewrites asked for, each scored on the audio (empty when none were).
    `language_probability` is the engine's belief in `language` (1.0 when it was told);
    `avg_logprob` the hypothesis' mean token log-probability (0.0 when not measured)."""

    text: str
    words: tuple[Word, ...]
    language: str
    audio_s: float
    decode_s: float
    scored: tuple[Scored, ...] = ()
    language_probability: float = 1.0
    avg_logprob: float = 0.0

    @property
    def real_time_factor(self) -> float:
        """Decode time over audio time: below 1 is faster than real time."""
        return self.decode_s / self.audio_s if self.audio_s > 0 else 0.0


class TranscriptionError(YatriError):
    """The engine failed to decode a clip; the clip, not the caller's request, is at fault."""

    problem_type = "transcription-failed"
    title = "Speech could not be transcribed"
    status = 502


class SpeechToText(Protocol):
    """Transcribes a whole clip of 16 kHz mono PCM16 without blocking the event loop."""

    async def transcribe(
        self, pcm16_16k: PCM16, *, prompt: str | None = None, rewrites: Rewrites | None = None
    ) -> Transcript:
        """`prompt` biases decoding towards expected vocabulary; None uses the engine default.
        `rewrites` names other readings of the hypothesis to score (`Transcript.scored`)."""
        ...


_NOT_WORD = re.compile(r"[^\w']+")


def _key(word: Word) -> str:
    # Re-decoding a longer buffer moves commas and capitals around; only the word itself counts.
    return _NOT_WORD.sub("", word.text).casefold()


class LocalAgreement:
    """Streaming commit policy (LocalAgreement-2, Macháček et al. 2023).

    Feed `update` the full hypothesis for a buffer that only grows at its end. Words past the
    committed ones on which this hypothesis and the previous one agree are committed and never
    retracted; the rest of the latest hypothesis is `tentative`. Committed words are matched by
    position, so when the caller trims the buffer it must start a new `LocalAgreement`.
    """

    __slots__ = ("_committed", "_previous")

    def __init__(self) -> None:
        self._committed: list[Word] = []
        self._previous: tuple[Word, ...] = ()

    @property
    def committed(self) -> tuple[Word, ...]:
        return tuple(self._committed)

    @property
    def tentative(self) -> tuple[Word, ...]:
        """The latest hypothesis' words after the committed ones, still open to revision."""
        return self._previous[len(self._committed) :]

    def update(self, words: Sequence[Word]) -> tuple[Word, ...]:
        """Take the next hypothesis and return the words it newly commits (often none)."""
        done = len(self._committed)
        current = tuple(words)
        agreed = 0
        for old, new in zip(self._previous[done:], current[done:], strict=False):
            if _key(old) != _key(new):
                break
            agreed += 1
        # The newer hypothesis' copy has the better timing: it saw more audio after the word.
        newly = current[done : done + agreed]
        self._committed.extend(newly)
        self._previous = current
        return newly

    def flush(self) -> tuple[Word, ...]:
        """Commit whatever is tentative, for when the utterance has ended and no more audio comes."""
        newly = self.tentative
        self._committed.extend(newly)
        return newly
