"""Exotel Voicebot (AgentStream) websocket: text <-> `voice.frames` events and commands.

Exotel streams base64 16-bit little-endian mono PCM (8 kHz unless the stream URL asked for
16 or 24 kHz) in snake_case JSON whose numbers arrive as strings. Audio sent back must come
in chunks of at least 100 ms and a multiple of 320 bytes, or playback gaps and distorts.
One `ExotelSerializer` serves one websocket.
"""

from __future__ import annotations

from typing import Any, assert_never

from pydantic import Field

from voice.audio import AudioFormat, convert
from voice.frames import (
    AudioIn,
    AudioOut,
    CallStarted,
    CallStopped,
    Clear,
    Command,
    Connected,
    DtmfIn,
    Event,
    FrameError,
    Mark,
    MarkAck,
    StreamState,
    WireModel,
    decode_payload,
    dump_message,
    encode_payload,
    load_message,
    split_frames,
    validate_message,
)

PCM16_8K = AudioFormat("pcm16", 8000)
# 100 ms is Exotel's minimum chunk; at 8, 16 and 24 kHz it is 1,600, 3,200 and 4,800 bytes,
# each a multiple of the 320 bytes Exotel paces playback by.
CHUNK_MS = 100
_SAMPLE_RATES = frozenset({8000, 16000, 24000})
# Exotel's documents name the same linear PCM "raw", "slin", "audio/x-raw" and "base64".
_PCM_ENCODINGS = frozenset({"raw", "slin", "audio/x-raw", "base64"})


class _MediaFormat(WireModel):
    encoding: str = "raw"
    sample_rate: int = 8000
    # Documented both as "16" and as "128kbps"; it adds nothing to encoding + rate.
    bit_rate: str | int | None = None


class _StartBody(WireModel):
    stream_sid: str = Field(min_length=1)
    call_sid: str = Field(min_length=1)
    media_format: _MediaFormat = Field(default_factory=_MediaFormat)
    custom_parameters: dict[str, Any] = Field(default_factory=dict)
    from_: str | None = Field(default=None, alias="from", description="The caller's number.")


class _Start(WireModel):
    start: _StartBody


class _MediaBody(WireModel):
    payload: str
    chunk: int | None = None
    timestamp: int | None = None


class _Media(WireModel):
    stream_sid: str | None = None
    sequence_number: int | None = None
    media: _MediaBody


class _Named(WireModel):
    name: str = Field(min_length=1)


class _Mark(WireModel):
    stream_sid: str | None = None
    mark: _Named


class _Digit(WireModel):
    digit: str = Field(pattern=r"^[0-9*#A-D]$")


class _Dtmf(WireModel):
    stream_sid: str | None = None
    dtmf: _Digit


class _StopBody(WireModel):
    reason: str | None = None


class _Stop(WireModel):
    stream_sid: str | None = None
    stop: _StopBody = Field(default_factory=_StopBody)


class ExotelSerializer:
    """Translates one Exotel Voicebot websocket; `parse` raises FrameError on bad frames."""

    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state = StreamState()

    @property
    def stream_sid(self) -> str | None:
        """The stream_sid from the start event, once it has arrived."""
        return self._state.stream_id

    def parse(self, text: str | bytes) -> Event:
        event, message = load_message(text)
        if event == "connected":
            self._state.connected()
            return Connected()
        if event == "start":
            start = validate_message(_Start, message, event).start
            fmt = _audio_format(start.media_format)
            self._state.start(stream_id=start.stream_sid, fmt=fmt)
            return CallStarted(
                call_id=start.call_sid,
                stream_id=start.stream_sid,
                format=fmt,
                custom={key: str(value) for key, value in start.custom_parameters.items()},
                caller=start.from_,
            )
        if event == "media":
            media = validate_message(_Media, message, event)
            fmt = self._state.require_started(event=event, stream_id=media.stream_sid)
            sequence = media.media.chunk if media.media.chunk is not None else media.sequence_number
            return AudioIn(
                audio=decode_payload(media.media.payload, fmt, event=event),
                format=fmt,
                sequence=sequence,
            )
        if event == "mark":
            mark = validate_message(_Mark, message, event)
            self._state.require_started(event=event, stream_id=mark.stream_sid)
            return MarkAck(name=mark.mark.name)
        if event == "dtmf":
            dtmf = validate_message(_Dtmf, message, event)
            self._state.require_started(event=event, stream_id=dtmf.stream_sid)
            return DtmfIn(digit=dtmf.dtmf.digit)
        if event == "stop":
            stop = validate_message(_Stop, message, event)
            self._state.stop(stream_id=stop.stream_sid)
            return CallStopped(reason=stop.stop.reason or "stop")
        raise FrameError("unknown_event", f"unknown event {event[:40]!r}", event=event)

    def serialize(self, command: Command, *, stream_sid: str) -> list[str]:
        """Exotel messages for `command`: `media` chunks of 100 ms, or one mark / clear.

        Audio is sent at the rate the start event announced (8 kHz before one arrives).
        """
        match command:
            case AudioOut():
                fmt = self._state.format or PCM16_8K
                pcm = convert(command.pcm16, src=AudioFormat("pcm16", command.sample_rate), dst=fmt)
                return [
                    dump_message(
                        {
                            "event": "media",
                            "stream_sid": stream_sid,
                            "media": {"payload": encode_payload(chunk)},
                        }
                    )
                    for chunk in split_frames(pcm, fmt, frame_ms=CHUNK_MS)
                ]
            case Mark():
                return [
                    dump_message(
                        {"event": "mark", "stream_sid": stream_sid, "mark": {"name": command.name}}
                    )
                ]
            case Clear():
                return [dump_message({"event": "clear", "stream_sid": stream_sid})]
            case _:
                assert_never(command)


def _audio_format(media_format: _MediaFormat) -> AudioFormat:
    if (
        media_format.encoding.lower() not in _PCM_ENCODINGS
        or media_format.sample_rate not in _SAMPLE_RATES
    ):
        raise FrameError(
            "unsupported_format",
            f"{media_format.encoding} at {media_format.sample_rate} Hz",
            event="start",
        )
    return AudioFormat("pcm16", media_format.sample_rate)
