"""Voice over websockets: the app's audio stream and the telephony providers' media streams.

Every stream runs one `voice.call.VoiceCall`. A stream proves it may be served before it takes
a slot: the app's `start` carries a stream token (`POST /v1/voice/tokens`); a Twilio, Plivo or
Vonage stream the token Yatri's answer webhook gave its call (`api/routes/voice_access.py`);
an Exotel stream the Basic credentials of the Voicebot applet's URL. The token names the
session, so a socket joins only the conversation it was let into. A telephony route hands its
socket to `voice.telephony`; `api/voice_streams.py` holds the limits every stream shares.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
from voice.call import TurnHandler, VoiceCall, VoiceEngines
from voice.outputs import AppOutput, send_json
from voice.telephony import Provider, ProviderAccess, StreamRefused, serve_telephony

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
`YATRI_EXOTEL_STREAM_AUTH`); the `call_sid` maps to one session in Redis. Close codes as for
the app stream.
"""


class _Start(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    token: str = Field(default="", max_length=64)
    session_id: str | None = Field(default=None, pattern=SESSION_ID_PATTERN)
    language: str = "en"


# --- the app stream ------------------------------------------------------------------------


@router.websocket("/v1/voice/stream", name="voice_stream")
async def voice_stream(ws: WebSocket) -> None:
    async def run(stream: VoiceStream, engines: VoiceEngines) -> None:
        services = stream.services
        start = _start_control(await stream.receive())
        grant = await services.stream_tokens.redeem(start.token, kind="app")
        if grant is None:
            raise refused("a valid stream token is required: POST /v1/voice/tokens")
        if start.session_id is not None and start.session_id != grant.session_id:
            raise refused("the stream token is for another session")
        traveller = grant.traveller_id
        source = f"traveller:{traveller}" if traveller else f"address:{stream.address}"
        stream.admit(source=source, anonymous=traveller is None)
        call = VoiceCall(
            engines=engines,
            turn=turn_handler(
                services, session_id=grant.session_id, channel="voice", traveller_id=traveller
            ),
            output=AppOutput(stream.socket),
            config=call_config(services, transport="app"),
        )
        stream.call = call
        await send_json(
            stream.socket, {"type": "ready", "session_id": grant.session_id, "sample_rate": 16000}
        )
        try:
            await _app_frames(stream, call)
        finally:
            await call.close()

    await serve_stream(ws, transport="app", run=run)


def _start_control(message: MutableMapping[str, Any]) -> _Start:
    text = message.get("text")
    if not isinstance(text, str):
        raise StreamClosed(CLOSE_POLICY, "the first message must be a start control")
    try:
        start = _Start.model_validate_json(text)
    except ValidationError as e:
        fields = ", ".join(".".join(map(str, err["loc"])) for err in e.errors())
        raise StreamClosed(CLOSE_POLICY, f"invalid start control: {fields}") from e
    if start.type != "start":
        raise StreamClosed(CLOSE_POLICY, "the first message must be a start control")
    if start.language != "en":
        raise StreamClosed(CLOSE_POLICY, f"language {start.language!r} is not served")
    return start


async def _app_frames(stream: VoiceStream, call: VoiceCall) -> None:
    socket = stream.socket
    while True:
        message = await stream.receive()
        data = message.get("bytes")
        if data is not None:
            if len(data) % 2:
                await send_json(socket, {"type": "error", "code": "bad_audio",
                                         "detail": "odd byte count: not PCM16"})  # fmt: skip
                continue
            await call.feed(np.frombuffer(data, dtype="<i2").astype(np.int16))
            continue
        try:
            control = orjson.loads(message.get("text") or "")
            kind = control.get("type") if isinstance(control, dict) else None
        except orjson.JSONDecodeError:
            kind = None
        if kind == "stop":
            raise StreamClosed(CLOSE_NORMAL, "stopped")
        if kind == "interrupt":
            await call.interrupt()
            continue
        await send_json(socket, {"type": "error", "code": "bad_control",
                                 "detail": 'expected {"type": "interrupt"} or {"type": "stop"}'})  # fmt: skip


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

        try:
            await serve_telephony(_Line(stream), provider=provider, engines=engines,
                                  access=access, turn_for=turn_for,
                                  config=call_config(services, transport=provider))  # fmt: skip
        except StreamRefused as e:
            if e.kind == "malformed":
                raise StreamClosed(CLOSE_INVALID_DATA, e.reason) from e
            raise refused(e.reason) from e

    await serve_stream(ws, transport=provider, run=run)


class _Line(Socket):
    """A provider's socket as `voice.telephony` needs it: text and binary frames both ways
    (sends serialised on one lock), under the stream's limits and admission."""

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

    def admit(self, *, source: str) -> None:
        self._stream.admit(source=source, anonymous=False)

    def attach(self, call: VoiceCall) -> None:
        self._stream.call = call
