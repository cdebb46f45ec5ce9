"""Turn-taking rules: when a caller's words read as a finished turn, what an end-of-turn model
looks like to a call, and which words heard over a playing reply are only back-channel
("hmm", "haan", "okay") rather than an interruption."""

from __future__ import annotations

import re
from typing import Protocol

from voice.audio import PCM16


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
