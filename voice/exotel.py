"""Exotel Voicebot (AgentStream), as a dialect of the shared JSON serializer.

Exotel streams base64 16-bit little-endian mono PCM (8 kHz unless the stream URL asked for
16 or 24 kHz) in snake_case JSON whose numbers arrive as strings. Audio sent back must come
in chunks of at least 100 ms and a multiple of 320 bytes, or playback gaps and distorts.
"""

from __future__ import annotations

from voice.audio import AudioFormat
from voice.serializer import Dialect, Fields, JsonSerializer, Outbound, any_parameters, unsupported

PCM16_8K = AudioFormat("pcm16", 8000)
# 100 ms is Exotel's minimum chunk; at 8, 16 and 24 kHz it is 1,600, 3,200 and 4,800 bytes,
# each a multiple of the 320 bytes Exotel paces playback by.
CHUNK_MS = 100
_SAMPLE_RATES = frozenset({8000, 16000, 24000})
# Exotel's documents name the same linear PCM "raw", "slin", "audio/x-raw" and "base64".
_PCM_ENCODINGS = frozenset({"raw", "slin", "audio/x-raw", "base64"})
_FORMAT = ("start", "media_format")


def _audio_format(fields: Fields) -> AudioFormat:
    fields.mapping(_FORMAT)  # an object when present
    encoding = fields.text((*_FORMAT, "encoding"), default="raw")
    rate = fields.integer((*_FORMAT, "sample_rate"), default=8000)
    # bit_rate is documented both as "16" and as "128kbps"; it adds nothing to encoding + rate.
    if encoding.lower() not in _PCM_ENCODINGS or rate not in _SAMPLE_RATES:
        raise unsupported(f"{encoding} at {rate} Hz")
    return AudioFormat("pcm16", rate)


EXOTEL = Dialect(
    name="exotel",
    roles={
        "connected": "connected",
        "start": "start",
        "media": "media",
        "mark": "mark",
        "dtmf": "dtmf",
        "stop": "stop",
    },  # fmt: skip
    stream_key="stream_sid",
    start_stream=("start", "stream_sid"),
    start_call=("start", "call_sid"),
    audio_format=_audio_format,
    custom=any_parameters(("start", "custom_parameters")),
    caller=("start", "from"),
    sequence=("sequence_number",),
    stop_reason=("stop", "reason"),
    outbound=Outbound(
        media_event="media",
        mark_event="mark",
        mark_name=("mark", "name"),
        clear_event="clear",
        frame_ms=CHUNK_MS,
        default_format=PCM16_8K,
    ),
)


class ExotelSerializer(JsonSerializer):
    """Translates one Exotel Voicebot websocket; `parse` raises FrameError on bad frames."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(EXOTEL)
