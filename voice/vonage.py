"""Vonage Voice API websockets: a JSON text handshake, then binary linear PCM both ways.

Vonage's first message is text, `{"event": "websocket:connected", "content-type":
"audio/l16;rate=16000", ...}`, with the `headers` of the NCCO's websocket endpoint as more
top-level fields. Audio then flows as binary frames of 16-bit little-endian mono PCM at that
rate (640 bytes per 20 ms at 16 kHz), and replies go back the same way. Vonage has no marks:
`{"action": "clear"}` drops the audio it has buffered. There is no stop message; the call
ends when Vonage closes the socket.
"""

from __future__ import annotations

import re
from typing import assert_never

from voice.audio import AudioFormat, convert
from voice.frames import (
    AudioIn,
    AudioOut,
    CallStarted,
    Clear,
    Command,
    DtmfIn,
    Event,
    FrameError,
    Mark,
    Notice,
    StreamState,
    dump_message,
    load_message,
    split_frames,
)

PCM16_16K = AudioFormat("pcm16", 16000)
FRAME_MS = 20
_CONTENT_TYPE = re.compile(r"audio/l16;\s*rate=(8000|16000|24000)", re.IGNORECASE)
_DIGIT = re.compile(r"[0-9*#]")
_RESERVED = frozenset({"event", "content-type"})


class VonageSerializer:
    """Translates one Vonage websocket; `parse` raises FrameError on bad frames."""

    __slots__ = ("_state",)

    # Vonage echoes no marks: the output estimates playback from the audio's length.
    acknowledges_marks = False

    def __init__(self) -> None:
        self._state = StreamState()

    @property
    def stream_sid(self) -> str | None:
        return self._state.stream_id

    def parse(self, frame: str | bytes) -> Event:
        if isinstance(frame, bytes):
            return self._audio(frame)
        event, message = load_message(frame)
        if event == "websocket:connected":
            return self._connected(message)
        if event == "websocket:dtmf":
            self._state.require_started(event=event, stream_id=None)
            digit = message.get("digit")
            if not isinstance(digit, str) or not _DIGIT.fullmatch(digit):
                raise FrameError("invalid_frame", "bad or missing digit", event=event)
            return DtmfIn(digit=digit)
        if event in ("websocket:cleared", "websocket:notify"):
            self._state.require_started(event=event, stream_id=None)
            return Notice(name=event)
        raise FrameError("unknown_event", f"unknown event {event[:40]!r}", event=event)

    def _connected(self, message: dict[str, object]) -> CallStarted:
        event = "websocket:connected"
        content_type = message.get("content-type")
        if not isinstance(content_type, str):
            raise FrameError("invalid_frame", "bad or missing content-type", event=event)
        rate = _CONTENT_TYPE.fullmatch(content_type.strip())
        if rate is None:
            raise FrameError("unsupported_format", content_type[:60], event=event)
        fmt = AudioFormat("pcm16", int(rate.group(1)))
        # The NCCO's headers: Yatri's answer puts the call's uuid and the stream token there.
        headers = {k: v for k, v in message.items() if isinstance(v, str) and k not in _RESERVED}
        call_id = headers.get("call_id", "")
        self._state.start(stream_id=call_id or "vonage", fmt=fmt)
        return CallStarted(call_id=call_id, stream_id=call_id or "vonage", format=fmt,
                           custom=headers)  # fmt: skip

    def _audio(self, frame: bytes) -> AudioIn:
        fmt = self._state.require_started(event="audio", stream_id=None)
        if not frame or len(frame) % fmt.frame_width:
            raise FrameError("bad_payload", f"{len(frame)} bytes is not whole PCM16 samples",
                             event="audio")  # fmt: skip
        return AudioIn(audio=frame, format=fmt)

    def serialize(self, command: Command, *, stream_sid: str) -> list[str | bytes]:
        """Frames for `command`: binary 20 ms PCM16 at the stream's rate, or a clear."""
        match command:
            case AudioOut():
                fmt = self._state.format or PCM16_16K
                pcm = convert(command.pcm16, src=AudioFormat("pcm16", command.sample_rate), dst=fmt)
                return list(split_frames(pcm, fmt, frame_ms=FRAME_MS))
            case Mark():
                return []
            case Clear():
                return [dump_message({"action": "clear"})]
            case _:
                assert_never(command)
