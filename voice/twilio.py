"""Twilio Media Streams: websocket text <-> `voice.frames` events and commands.

Twilio streams 8 kHz mono μ-law in camelCase JSON; numbers such as `sequenceNumber` arrive as
strings. One `TwilioSerializer` serves one websocket: it remembers the start event so it can
refuse media that arrives before it or after stop.
"""

from __future__ import annotations

from typing import assert_never

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

MULAW_8K = AudioFormat("mulaw", 8000)
FRAME_MS = 20  # 160 bytes of μ-law: the size Twilio itself sends and paces playback by
_CALLER_TRACK = "inbound"


class _MediaFormat(WireModel):
    encoding: str
    sample_rate: int = Field(alias="sampleRate")
    channels: int = 1


class _StartBody(WireModel):
    stream_sid: str = Field(alias="streamSid", min_length=1)
    call_sid: str = Field(alias="callSid", min_length=1)
    media_format: _MediaFormat = Field(alias="mediaFormat")
    custom_parameters: dict[str, str] = Field(alias="customParameters", default_factory=dict)


class _Start(WireModel):
    start: _StartBody


class _MediaBody(WireModel):
    payload: str
    track: str = _CALLER_TRACK
    chunk: int | None = None


class _Media(WireModel):
    stream_sid: str | None = Field(alias="streamSid", default=None)
    sequence_number: int | None = Field(alias="sequenceNumber", default=None)
    media: _MediaBody


class _Named(WireModel):
    name: str = Field(min_length=1)


class _Mark(WireModel):
    stream_sid: str | None = Field(alias="streamSid", default=None)
    mark: _Named


class _Digit(WireModel):
    digit: str = Field(pattern=r"^[0-9*#A-D]$")


class _Dtmf(WireModel):
    stream_sid: str | None = Field(alias="streamSid", default=None)
    dtmf: _Digit


class _Stop(WireModel):
    stream_sid: str | None = Field(alias="streamSid", default=None)


class TwilioSerializer:
    """Translates one Twilio Media Streams websocket; `parse` raises FrameError on bad frames."""

    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state = StreamState()

    @property
    def stream_sid(self) -> str | None:
        """The streamSid from the start event, once it has arrived."""
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
                custom=dict(start.custom_parameters),
                # Twilio's start event has no caller number: Yatri's TwiML passes {{From}} as
                # the stream's `caller` parameter.
                caller=start.custom_parameters.get("caller"),
            )
        if event == "media":
            media = validate_message(_Media, message, event)
            fmt = self._state.require_started(event=event, stream_id=media.stream_sid)
            if media.media.track != _CALLER_TRACK:
                raise FrameError(
                    "unsupported_track", f"media on track {media.media.track!r}", event=event
                )
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
            # Twilio gives no reason: stop means the call hung up or the stream was ended.
            return CallStopped(reason="stop")
        raise FrameError("unknown_event", f"unknown event {event[:40]!r}", event=event)

    def serialize(self, command: Command, *, stream_sid: str) -> list[str]:
        """Twilio messages for `command`: one `media` message per 20 ms, or one mark / clear."""
        match command:
            case AudioOut():
                pcm = AudioFormat("pcm16", command.sample_rate)
                mulaw = convert(command.pcm16, src=pcm, dst=MULAW_8K)
                return [
                    dump_message(
                        {
                            "event": "media",
                            "streamSid": stream_sid,
                            "media": {"payload": encode_payload(frame)},
                        }
                    )
                    for frame in split_frames(mulaw, MULAW_8K, frame_ms=FRAME_MS)
                ]
            case Mark():
                return [
                    dump_message(
                        {"event": "mark", "streamSid": stream_sid, "mark": {"name": command.name}}
                    )
                ]
            case Clear():
                return [dump_message({"event": "clear", "streamSid": stream_sid})]
            case _:
                assert_never(command)


def _audio_format(media_format: _MediaFormat) -> AudioFormat:
    if (media_format.encoding, media_format.sample_rate, media_format.channels) != (
        "audio/x-mulaw",
        8000,
        1,
    ):
        raise FrameError(
            "unsupported_format",
            f"{media_format.encoding} {media_format.sample_rate} Hz x{media_format.channels}",
            event="start",
        )
    return MULAW_8K
