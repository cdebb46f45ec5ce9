"""Voice over websockets: the app's audio stream and the telephony providers' media streams.

Every stream runs one `voice.call.VoiceCall`. A stream proves it may be served before it takes
a slot: the app's `start` carries a stream token (`POST /v1/voice/tokens`); a Twilio, Plivo or
Vonage stream the token Yatri's answer webhook gave its call (`api/routes/voice_access.py`);
an Exotel stream the Basic credentials of the Voicebot applet's URL. The token names the
session, so a socket joins only the conversation it was let into. A route only accepts the
socket and hands it to `voice.app_stream` or `voice.telephony`, which run the call on it;
`api/voice_streams.py` holds the limits every stream shares.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.turns import turn_handler
from api.voice_streams import (
    CLOSE_INVALID_DATA,
    CLOSE_NORMAL,
    CLOSE_POLICY,
    Socket,
    StreamClosed,
    VoiceStream,
    call_config,
    refused,
    serve_stream,
)
from sessions.engine import SESSION_ID_PATTERN, new_session_id
from voice.app_stream import serve_app_stream
from voice.call import TurnHandler, VoiceCall, VoiceEngines
from voice.streams import StreamEnded
from voice.telephony import Provider, ProviderAccess, serve_telephony

router = APIRouter(tags=["voice"])

APP_STREAM_DOC = """\
**WS /v1/voice/stream**: the app's voice channel.

Client -> server:
* text `{"type": "start", "token": "<stream token>", "language": "en"}` first, within 10 s:
  the token comes from `POST /v1/voice/tokens` (single use, short-lived) and names the
  session; the server answers `{"type": "ready", "session_id": ..., "sample_rate": 16000}`;
* binary frames of 16 kHz mono little-endian PCM16 (any length up to the frame limit, whole
  samples);
* text `{"type": "interrupt"}` stops the reply being spoken; `{"type": "stop"}` ends the call.

Server -> client (text JSON): `speech_started`; `partial` (`text`, `committed`: the words that
will not change); `final` (`text`, `metrics`); `reply` (`text`, `intent`, `slots`, `data`);
`audio` (`sentence`, `text`, `sample_rate`, `data`: base64 PCM16, one message per sentence);
`reply_end` (`metrics`); `clear` (drop queued reply audio: the caller barged in); `error`
(`code`, `detail`).

Close codes: 1000 stopped, 1007 malformed frame, 1008 protocol violation or no valid stream
token, 1009 frame too big, 1011 voice disabled, 1013 no stream free for this caller (the
reason says which limit; try again later), 4408 idle timeout or no speech heard for
`YATRI_VOICE_NO_SPEECH_TIMEOUT_S`.
"""

TELEPHONY_DOC = """\
**WS /v1/telephony/twilio**: Twilio Media Streams (`connected`, `start`, `media` with base64
μ-law 8 kHz in 20 ms frames, `mark`, `dtmf`, `stop`). Point the number's voice webhook at
`POST /v1/telephony/twilio/voice`: its TwiML connects the call here with a single-use `token`
parameter bound to that call SID, its caller and its session; a stream without one is closed
(1008). Replies go back as `media` frames, one `mark` after each sentence (its acknowledgement
says the caller heard it), and `clear` on barge-in.

**WS /v1/telephony/exotel**: Exotel's voicebot stream (snake_case events, base64 PCM16 at
8 kHz by default; replies in 100 ms chunks, multiples of 320 bytes; `clear`). The applet's URL
carries Basic credentials (`wss://KEY:TOKEN@host/v1/telephony/exotel`, checked against
`YATRI_EXOTEL_STREAM_AUTH`); the `call_sid` maps to one session in Redis.

**WS /v1/telephony/plivo**: Plivo Audio Streams (`start`, `media` with base64 μ-law 8 kHz,
`dtmf`, `playedStream`, `clearedAudio`, `stop`). Point the application's answer URL at
`POST /v1/telephony/plivo/answer` (X-Plivo-Signature-V3 checked with `YATRI_PLIVO_AUTH_TOKEN`):
its XML opens a two-way stream here whose `extraHeaders` carry a single-use token bound to the
CallUUID. Replies go back as `playAudio` (`audio/x-mulaw`, 8000 Hz, 20 ms), a `checkpoint`
after each sentence, and `clearAudio` on barge-in.

**WS /v1/telephony/vonage**: the Vonage Voice API websocket: a first text message
`websocket:connected` (`content-type: audio/l16;rate=16000` and the NCCO's headers), then
binary 16-bit PCM frames (640 bytes per 20 ms at 16 kHz) both ways; `{"action": "clear"}` on
barge-in. Point the application's answer URL at `/v1/telephony/vonage/answer` with signed
webhooks on (the JWT is checked with `YATRI_VONAGE_SIGNATURE_SECRET`): its NCCO connects the
call here with a single-use token bound to the call's uuid in the headers.

Close codes as for the app stream: a malformed frame closes with 1007 and the reason (e.g.
`bad_payload: ...`), a missing or wrong credential with 1008.
"""


# --- the app stream ------------------------------------------------------------------------


@router.websocket("/v1/voice/stream", name="voice_stream")
async def voice_stream(ws: WebSocket) -> None:
    async def run(stream: VoiceStream, engines: VoiceEngines) -> None:
        services = stream.services

        def turn_for(session_id: str, traveller: str | None) -> TurnHandler:
            return turn_handler(services, session_id=session_id, channel="voice",
                                traveller_id=traveller)  # fmt: skip

        with _closing():
            await serve_app_stream(_Line(stream), engines=engines,
                                   tokens=services.stream_tokens, turn_for=turn_for,
                                   config=call_config(services, transport="app"),
                                   session_id_pattern=SESSION_ID_PATTERN)  # fmt: skip

    await serve_stream(ws, transport="app", run=run)


# --- telephony ------------------------------------------------------------------------------


@router.websocket("/v1/telephony/twilio", name="telephony_twilio")
async def telephony_twilio(ws: WebSocket) -> None:
    await _telephony(ws, provider="twilio")


@router.websocket("/v1/telephony/exotel", name="telephony_exotel")
async def telephony_exotel(ws: WebSocket) -> None:
    await _telephony(ws, provider="exotel")


@router.websocket("/v1/telephony/plivo", name="telephony_plivo")
async def telephony_plivo(ws: WebSocket) -> None:
    await _telephony(ws, provider="plivo")


@router.websocket("/v1/telephony/vonage", name="telephony_vonage")
async def telephony_vonage(ws: WebSocket) -> None:
    await _telephony(ws, provider="vonage")


async def _telephony(ws: WebSocket, *, provider: Provider) -> None:
    async def run(stream: VoiceStream, engines: VoiceEngines) -> None:
        services = stream.services
        exotel = services.settings.exotel_stream_auth
        access = ProviderAccess(
            tokens=services.stream_tokens,
            calls=services.calls,
            new_session_id=new_session_id,
            session_id_pattern=SESSION_ID_PATTERN,
            exotel_stream_auth=exotel.get_secret_value() if exotel else None,
            authorization=stream.ws.headers.get("authorization", ""),
        )

        def turn_for(session_id: str, caller: str | None) -> TurnHandler:
            return turn_handler(services, session_id=session_id, channel="phone", caller=caller)

        with _closing():
            await serve_telephony(_Line(stream), provider=provider, engines=engines,
                                  access=access, turn_for=turn_for,
                                  config=call_config(services, transport=provider))  # fmt: skip

    await serve_stream(ws, transport=provider, run=run)


@contextlib.contextmanager
def _closing() -> Iterator[None]:
    """A transport's `StreamEnded` as the close code and reason the stream ends with."""
    try:
        yield
    except StreamEnded as e:
        match e.kind:
            case "stopped":
                raise StreamClosed(CLOSE_NORMAL, e.reason) from e
            case "malformed":
                raise StreamClosed(CLOSE_INVALID_DATA, e.reason) from e
            case "protocol":
                raise StreamClosed(CLOSE_POLICY, e.reason) from e
            case "unauthenticated":
                raise refused(e.reason) from e


class _Line(Socket):
    """The socket as `voice.streams.Line`: text and binary frames both ways (sends serialised
    on one lock), under the stream's limits and admission."""

    def __init__(self, stream: VoiceStream) -> None:
        super().__init__(stream.ws)
        self._stream = stream

    async def receive(self) -> str | bytes:
        message = await self._stream.receive()
        text = message.get("text")
        return text if text is not None else message.get("bytes") or b""

    async def send_bytes(self, data: bytes) -> None:
        if self.gone:
            return
        async with self._lock:
            try:
                await self.ws.send_bytes(data)
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.gone = True

    @property
    def address(self) -> str:
        return self._stream.address

    def admit(self, *, source: str, anonymous: bool) -> None:
        self._stream.admit(source=source, anonymous=anonymous)

    def attach(self, call: VoiceCall) -> None:
        self._stream.call = call
