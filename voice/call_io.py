"""What a call exchanges with the rest of the system: the turn handler it asks (text in, reply
out), the output port its transport implements, and each turn's timings."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from voice.tts import AudioChunk


@dataclass(frozen=True, slots=True)
class SpokenReply:
    """What the turn engine answered: the text to speak and data for screens that show it."""

    text: str
    data: Mapping[str, Any] = field(default_factory=dict)


class TurnHandler(Protocol):
    """Final transcript in, reply out: the api layer binds it to the turn engine and a session.
    `unsure` (given only when there are some) maps each city written with doubt, lower case,
    to the words heard for it, for the dialogue to read back before searching."""

    def __call__(self, text: str, *, unsure: Mapping[str, str] = ...) -> Awaitable[SpokenReply]: ...


@dataclass(slots=True)
class TurnMetrics:
    """One turn's timings in seconds (wall clock, except the endpoint decision: stream time)."""

    transcript: str
    reason: str
    endpoint_decision_s: float
    endpoint_to_final_s: float
    audio_s: float
    decode_s: float
    final_to_reply_s: float | None = None
    reply_to_first_audio_s: float | None = None

    @property
    def speech_end_to_final_s(self) -> float:
        return self.endpoint_decision_s + self.endpoint_to_final_s

    @property
    def speech_end_to_first_audio_s(self) -> float | None:
        if self.final_to_reply_s is None or self.reply_to_first_audio_s is None:
            return None
        return self.speech_end_to_final_s + self.final_to_reply_s + self.reply_to_first_audio_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint_decision_ms": _ms(self.endpoint_decision_s),
            "endpoint_to_final_ms": _ms(self.endpoint_to_final_s),
            "speech_end_to_final_ms": _ms(self.speech_end_to_final_s),
            "final_to_reply_ms": _ms(self.final_to_reply_s),
            "reply_to_first_audio_ms": _ms(self.reply_to_first_audio_s),
            "audio_ms": _ms(self.audio_s),
            "decode_ms": _ms(self.decode_s),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


class CallOutput(Protocol):
    """What a transport does with the call's events; each call returns once the event is sent."""

    async def speech_started(self) -> None: ...

    async def partial(self, *, text: str, committed: str) -> None: ...

    async def final(self, *, text: str, metrics: TurnMetrics) -> None: ...

    async def reply(self, reply: SpokenReply) -> None: ...

    async def audio(self, chunk: AudioChunk) -> None: ...

    async def reply_done(self, *, metrics: TurnMetrics) -> None: ...

    async def clear(self) -> None:
        """Make the far end drop audio it has queued but not played."""
        ...

    async def error(self, *, code: str, detail: str) -> None: ...

    def playing(self) -> bool:
        """Whether audio sent is still playing at the far end (as far as the transport knows)."""
        ...
