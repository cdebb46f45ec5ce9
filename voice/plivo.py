"""Plivo Audio Streams, as a dialect of the shared JSON serializer.

Plivo streams 8 kHz μ-law (what Yatri's `<Stream contentType="audio/x-mulaw;rate=8000">`
asks for) in camelCase JSON: `start` (with the `extraHeaders` of the Stream element as one
`extra_headers` string), `media`, `dtmf`, `playedStream` (a `checkpoint` has played),
`clearedAudio` and `stop`. Replies go back as `playAudio` with the codec named in each
message, a `checkpoint` after each sentence, and `clearAudio` on barge-in.
"""

from __future__ import annotations

import re

from voice.audio import AudioFormat
from voice.serializer import Dialect, Fields, JsonSerializer, Outbound, unsupported

MULAW_8K = AudioFormat("mulaw", 8000)
FRAME_MS = 20
_FORMAT = ("start", "mediaFormat")
# extraHeaders allows only letters and digits in names and values; Plivo documents the list
# joined both by "," (the XML attribute) and by ";" (the start event).
_HEADER = re.compile(r"([A-Za-z0-9]+)=([A-Za-z0-9]*)")


def _audio_format(fields: Fields) -> AudioFormat:
    encoding = fields.text((*_FORMAT, "encoding"))
    rate = fields.integer((*_FORMAT, "sampleRate"))
    # Plivo's L16 byte order is not documented; Yatri asks for μ-law and takes only that.
    if (encoding, rate) != ("audio/x-mulaw", 8000):
        raise unsupported(f"{encoding} {rate} Hz")
    return MULAW_8K


def _extra_headers(fields: Fields) -> dict[str, str]:
    raw = fields.optional_text(("extra_headers",)) or ""
    return dict(_HEADER.findall(raw))


def _content_type(fmt: AudioFormat) -> dict[str, object]:
    return {"contentType": "audio/x-mulaw", "sampleRate": fmt.sample_rate}


PLIVO = Dialect(
    name="plivo",
    roles={
        "start": "start",
        "media": "media",
        "dtmf": "dtmf",
        "playedStream": "mark",
        "clearedAudio": "notice",
        "stop": "stop",
    },  # fmt: skip
    stream_key="streamId",
    start_stream=("start", "streamId"),
    start_call=("start", "callId"),
    audio_format=_audio_format,
    custom=_extra_headers,
    sequence=("sequenceNumber",),
    track=("media", "track"),
    mark_name=("name",),
    outbound=Outbound(
        media_event="playAudio",
        mark_event="checkpoint",
        mark_name=("name",),
        clear_event="clearAudio",
        frame_ms=FRAME_MS,
        default_format=MULAW_8K,
        media_has_stream=False,
        media_fields=_content_type,
    ),
)


class PlivoSerializer(JsonSerializer):
    """Translates one Plivo Audio Streams websocket; `parse` raises FrameError on bad frames."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(PLIVO)


def header_token(token: str) -> str:
    """A stream token as an extraHeaders value (letters and digits only): its hex form."""
    return token.encode().hex()


def token_from_header(value: str) -> str:
    """The stream token an extraHeaders value carries ("" when it is not one)."""
    try:
        return bytes.fromhex(value).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return ""
