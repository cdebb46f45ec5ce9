"""Provider-neutral telephony stream events and commands, and the checks every wire format shares.

A serializer (`voice.serializer` with a provider's dialect: `voice.twilio`, `voice.exotel`,
`voice.plivo`; or `voice.vonage`) turns one provider's websocket frames into an `Event` and a
`Command` into that provider's frames; nothing else in Yatri sees the wire format.
Inbound audio stays in the provider's encoding, described by `AudioIn.format`; decode it with
`voice.audio.to_pcm16`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import orjson

from voice.audio import AudioFormat, Framer

FrameErrorReason: TypeAlias = Literal[
    "malformed_json",  # not JSON, or not a JSON object with a string "event"
    "unknown_event",  # an "event" this wire format does not define
    "invalid_frame",  # a known event missing a field or carrying a wrong type
    "out_of_order",  # e.g. media before start, anything after stop, a second start
    "stream_mismatch",  # a stream id other than the one the start event announced
    "bad_payload",  # audio that is not valid base64, or not whole samples
    "unsupported_format",  # a media format the serializer cannot describe
    "unsupported_track",  # audio from a track other than the caller's
]


class FrameError(ValueError):
    """A frame from the provider that cannot be translated; `reason` says why."""

    def __init__(self, reason: FrameErrorReason, detail: str, *, event: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: FrameErrorReason = reason
        self.detail = detail
        self.event = event


# --- inbound events ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    """The websocket is open; a start event follows."""


@dataclass(frozen=True, slots=True)
class CallStarted:
    call_id: str
    stream_id: str
    format: AudioFormat
    custom: dict[str, str] = field(default_factory=dict)
    caller: str | None = None  # the number the provider says the call is from (unproven)


@dataclass(frozen=True, slots=True)
class AudioIn:
    """Caller audio exactly as the provider sent it (base64 removed), laid out as `format`."""

    audio: bytes
    format: AudioFormat
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class MarkAck:
    """Audio queued before the `Mark` of this name has finished playing (or was cleared)."""

    name: str


@dataclass(frozen=True, slots=True)
class DtmfIn:
    digit: str


@dataclass(frozen=True, slots=True)
class CallStopped:
    reason: str


@dataclass(frozen=True, slots=True)
class Notice:
    """A provider message the call does not act on (Plivo's `clearedAudio`, Vonage's
    `websocket:cleared`): valid, so not an error, and named for the logs."""

    name: str


Event: TypeAlias = Connected | CallStarted | AudioIn | MarkAck | DtmfIn | CallStopped | Notice


# --- outbound commands ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AudioOut:
    """A self-contained clip of mono PCM16 to play to the caller.

    Each clip is resampled whole and its last frame padded with silence, so send sentences,
    not a TTS engine's 10 ms chunks.
    """

    pcm16: bytes
    sample_rate: int

    def __post_init__(self) -> None:
        if len(self.pcm16) % 2:
            raise ValueError(f"{len(self.pcm16)} bytes is not whole PCM16 samples")
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")


@dataclass(frozen=True, slots=True)
class Mark:
    """Ask the provider to answer with a `MarkAck` once everything sent before it has played."""

    name: str

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("mark name must not be empty")


@dataclass(frozen=True, slots=True)
class Clear:
    """Drop audio the provider has queued but not yet played (the caller barged in)."""


Command: TypeAlias = AudioOut | Mark | Clear


# --- helpers shared by the serializers -----------------------------------------------------


class StreamState:
    """Where one stream is in its connected -> start -> media ... -> stop lifecycle."""

    __slots__ = ("_format", "_stopped", "_stream_id")

    def __init__(self) -> None:
        self._stream_id: str | None = None
        self._format: AudioFormat | None = None
        self._stopped = False

    @property
    def stream_id(self) -> str | None:
        return self._stream_id

    @property
    def format(self) -> AudioFormat | None:
        return self._format

    def connected(self) -> None:
        if self._stream_id is not None or self._stopped:
            raise FrameError("out_of_order", "connected after start", event="connected")

    def start(self, *, stream_id: str, fmt: AudioFormat) -> None:
        if self._stopped:
            raise FrameError("out_of_order", "start after stop", event="start")
        if self._stream_id is not None:
            raise FrameError("out_of_order", "a second start on one stream", event="start")
        self._stream_id = stream_id
        self._format = fmt

    def require_started(self, *, event: str, stream_id: str | None) -> AudioFormat:
        """The stream's format; FrameError unless started, not stopped and the same stream."""
        if self._stopped:
            raise FrameError("out_of_order", f"{event} after stop", event=event)
        if self._stream_id is None or self._format is None:
            raise FrameError("out_of_order", f"{event} before start", event=event)
        if stream_id is not None and stream_id != self._stream_id:
            raise FrameError("stream_mismatch", f"{event} for another stream", event=event)
        return self._format

    def stop(self, *, stream_id: str | None) -> None:
        self.require_started(event="stop", stream_id=stream_id)
        self._stopped = True


def decode_payload(payload: str, fmt: AudioFormat, *, event: str) -> bytes:
    """Base64 audio to bytes, refusing anything that is not whole samples of `fmt`."""
    try:
        audio = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise FrameError("bad_payload", "payload is not valid base64", event=event) from e
    if not audio or len(audio) % fmt.frame_width:
        raise FrameError(
            "bad_payload",
            f"{len(audio)} bytes is not a whole number of {fmt.encoding} samples",
            event=event,
        )
    return audio


def encode_payload(audio: bytes) -> str:
    return base64.b64encode(audio).decode("ascii")


def split_frames(audio: bytes, fmt: AudioFormat, *, frame_ms: int) -> list[bytes]:
    """`audio` cut into `frame_ms` frames of `fmt`, the last padded with that format's silence."""
    if not audio:
        return []
    frame_bytes = fmt.bytes_for(frame_ms)
    framer = Framer(
        frame_bytes=frame_bytes,
        max_buffered_bytes=max(len(audio), frame_bytes),
        pad_byte=fmt.silence_byte,
    )
    framer.write(audio)
    return framer.flush(pad=True)


def load_message(text: str | bytes) -> tuple[str, dict[str, Any]]:
    """The `event` name and the whole message; FrameError unless a JSON object with one."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise FrameError("malformed_json", "frame is not JSON") from e
    if not isinstance(message, dict):
        raise FrameError("malformed_json", "frame is not a JSON object")
    event = message.get("event")
    if not isinstance(event, str):
        raise FrameError("malformed_json", 'frame has no string "event"')
    return event, message


def dump_message(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()
