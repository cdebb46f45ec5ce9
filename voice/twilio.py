"""Twilio Media Streams, as a dialect of the shared JSON serializer (`voice.serializer`).

Twilio streams 8 kHz mono μ-law in camelCase JSON; numbers such as `sequenceNumber` arrive as
strings. Replies go back as 20 ms `media` frames, a `mark` after each sentence (Twilio echoes
it once the audio before it has played) and `clear` on barge-in.
"""

from __future__ import annotations

from voice.audio import AudioFormat
from voice.serializer import (
    Dialect,
    Fields,
    JsonSerializer,
    Outbound,
    string_parameters,
    unsupported,
)

MULAW_8K = AudioFormat("mulaw", 8000)
FRAME_MS = 20  # 160 bytes of μ-law: the size Twilio itself sends and paces playback by

_FORMAT = ("start", "mediaFormat")


def _audio_format(fields: Fields) -> AudioFormat:
    encoding = fields.text((*_FORMAT, "encoding"))
    rate = fields.integer((*_FORMAT, "sampleRate"))
    channels = fields.integer((*_FORMAT, "channels"), default=1)
    if (encoding, rate, channels) != ("audio/x-mulaw", 8000, 1):
        raise unsupported(f"{encoding} {rate} Hz x{channels}")
    return MULAW_8K


TWILIO = Dialect(
    name="twilio",
    roles={
        "connected": "connected",
        "start": "start",
        "media": "media",
        "mark": "mark",
        "dtmf": "dtmf",
        "stop": "stop",
    },  # fmt: skip
    stream_key="streamSid",
    start_stream=("start", "streamSid"),
    start_call=("start", "callSid"),
    audio_format=_audio_format,
    custom=string_parameters(("start", "customParameters")),
    # Twilio's start event has no caller number: Yatri's TwiML passes {{From}} as the
    # stream's `caller` parameter.
    caller=("start", "customParameters", "caller"),
    sequence=("sequenceNumber",),
    track=("media", "track"),
    outbound=Outbound(
        media_event="media",
        mark_event="mark",
        mark_name=("mark", "name"),
        clear_event="clear",
        frame_ms=FRAME_MS,
        default_format=MULAW_8K,
    ),
)


class TwilioSerializer(JsonSerializer):
    """Translates one Twilio Media Streams websocket; `parse` raises FrameError on bad frames."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(TWILIO)
