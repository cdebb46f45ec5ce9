"""Turn-taking rules: when a caller's words read as a finished turn, what an end-of-turn model
looks like to a call, when a pause ends a turn before the silence window has run, and which
words heard over a playing reply are only back-channel ("hmm", "haan", "okay") rather than an
interruption."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from voice.audio import PCM16
from voice.stt import SAMPLE_RATE, Transcript
from voice.vad import Endpointer


class TurnDetector(Protocol):
    """An end-of-turn model: the probability that a caller who has just paused is finished,
    from the audio of the utterance so far (16 kHz PCM16). CPU-bound and synchronous; run it
    on a worker thread."""

    def complete_probability(self, pcm16_16k: PCM16) -> float: ...


# Words a sentence does not end on: "flights from Delhi to." is a caller still talking.
_DANGLING = frozenset((
    "a", "an", "and", "are", "at", "between", "but", "by", "for", "from", "in", "is", "my",
    "of", "on", "or", "the", "to", "uh", "um", "via", "with",
))  # fmt: skip
_TERMINAL = re.compile(r"[^.?!…]\s*[.?!]$")


def looks_complete(text: str) -> bool:
    """Whether a transcript reads as a finished turn: ends like a sentence, not mid-phrase."""
    words = text.split()
    if len(words) < 2 or not _TERMINAL.search(text.strip()):
        return False
    return words[-1].strip(".?!,").casefold() not in _DANGLING


class EarlyEndpoint:
    """Whether a pause already ends the turn: after `early_ms` of trailing silence, with the
    speculative final decode done, the turn is complete to the end-of-turn model
    (`turn_complete`) where there is one, else to `looks_complete`. A pause the model judges
    mid-sentence (below `threshold`) may run to `hold_ms` of silence. `early_ms` None: never."""

    def __init__(
        self,
        *,
        early_ms: int | None,
        threshold: float,
        hold_ms: int,
        turn_complete: Callable[[PCM16], Coroutine[Any, Any, float]] | None,
    ) -> None:
        self._early_ms = early_ms
        self._threshold = threshold
        self._hold_ms = hold_ms
        self._turn_complete = turn_complete
        # The end-of-turn model's verdict on the current pause (None: not asked yet).
        self.check: asyncio.Task[float] | None = None

    def forget(self) -> None:
        """The pause is over (speech resumed, or the turn ended): drop the model's verdict."""
        if self.check is not None:
            self.check.cancel()
        self.check = None

    def complete(
        self,
        *,
        endpointer: Endpointer,
        speculative: asyncio.Task[Transcript] | None,
        audio: Callable[[], PCM16],
    ) -> bool:
        """Asked on each frame of trailing silence; `audio` is the utterance so far."""
        early = self._early_ms
        if early is None or speculative is None or endpointer.trailing_silence_ms < early:
            return False
        if self._turn_complete is not None:
            return self._model_says_complete(endpointer, speculative, audio)
        if not _succeeded(speculative):
            return False
        return looks_complete(speculative.result().text)

    def _model_says_complete(
        self,
        endpointer: Endpointer,
        speculative: asyncio.Task[Transcript],
        audio: Callable[[], PCM16],
    ) -> bool:
        """Ask the end-of-turn model once per pause; complete when it says so and the
        speculative decode is ready (the turn is called over only with its transcript)."""
        check = self.check
        if check is None and self._turn_complete is not None:
            # The model hears the speech up to the pause: trailing silence reads as "finished"
            # to it even after "from Delhi to" (P 0.05 without the silence, 0.91 with 300 ms).
            heard = audio()
            speech = len(heard) - endpointer.trailing_silence_ms * SAMPLE_RATE // 1000
            self.check = asyncio.create_task(self._turn_complete(heard[:speech]))
            return False
        if check is None or not _succeeded(check):
            return False
        if check.result() < self._threshold:
            # Mid-sentence: this pause may run to the longest window before the turn ends.
            endpointer.hold(self._hold_ms)
            return False
        return speculative.done() and not speculative.cancelled()

    def probability(self) -> float | None:
        """The model's verdict on the current pause, if it has given one."""
        check = self.check
        return check.result() if check is not None and _succeeded(check) else None


def _succeeded(task: asyncio.Task[Any]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None


# What a listener says to show they are still listening, in English and Hinglish as Whisper
# spells it; none of these asks the reply to stop. "Yes" is left out: over a question being
# read out it may be the answer.
BACKCHANNEL = frozenset((
    "hmm", "hm", "hmmm", "m", "mm", "mmm", "mhm", "uh", "huh", "um", "ah", "oh", "okay", "ok",
    "k", "alright", "right", "haan", "han", "haa", "ha", "achha", "acha", "accha", "theek",
    "thik", "hai", "ji",
))  # fmt: skip
# Whisper writes sounds it cannot read as words in brackets or asterisks: "(coughs)", "*cough*".
_NON_SPEECH = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|♪")
_WORD = re.compile(r"[\w']+")
# The prompt for decoding speech heard over a reply: with it Whisper tiny.en writes "Haan."
# and "Achha." where the travel prompt gives "On." and "A chat."
BACKCHANNEL_PROMPT = "Hmm. Haan. Achha. Okay. Mm-hmm. Theek hai."


def is_backchannel(text: str) -> bool:
    """Whether words heard over a playing reply are no interruption: nothing but non-speech
    sounds and back-channel words ("Hmm.", "Haan, okay.", "(coughs)", or nothing at all)."""
    words = _WORD.findall(_NON_SPEECH.sub(" ", text).casefold())
    return all(word in BACKCHANNEL for word in words)
