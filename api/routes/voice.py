"""Voice over websockets: the app's audio stream and the telephony providers' media streams.

Every stream runs one `voice.call.VoiceCall`. A stream proves it may be served before it takes
a slot: the app's `start` carries a stream token (`POST /v1/voice/tokens`), a Twilio stream
the token Yatri's TwiML gave its call (`POST /v1/telephony/twilio/voice`), an Exotel stream
the Basic credentials of the Voicebot applet's URL. The token names the session, so a socket
joins only the conversation it was let into. This module moves frames between the socket and
the call; `api/voice_streams.py` holds the limits every stream shares.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.deps import Services
from api.turns import turn_handler
from api.voice_streams import (
    CLOSE_INVALID_DATA,
    CLOSE_NORMAL,
    CLOSE_POLICY,
    StreamClosed,
    VoiceStream,
    call_config,
    refused,
    serve_stream,
)
from sessions.engine import SESSION_ID_PATTERN, new_session_id
from voice.audio import StreamResampler, to_pcm16
from voice.call import VoiceCall, VoiceEngines
from voice.exotel import ExotelSerializer
from voice.frames import AudioIn, CallStarted, CallStopped, FrameError, MarkAck
from voice.outputs import AppOutput, Serializer, TelephonyOutput, send_json
from voice.stt import SAMPLE_RATE
from voice.twilio import TwilioSerializer
from voice.webhooks import basic_credentials_match

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
    await _telephony(ws, provider="twilio", serializer=TwilioSerializer())


@router.websocket("/v1/telephony/exotel", name="telephony_exotel")
async def telephony_exotel(ws: WebSocket) -> None:
    await _telephony(ws, provider="exotel", serializer=ExotelSerializer())


async def _telephony(ws: WebSocket, *, provider: str, serializer: Serializer) -> None:
    async def run(stream: VoiceStream, engines: VoiceEngines) -> None:
        services = stream.services
        if provider == "exotel":
            _check_exotel_credentials(stream)
        call: VoiceCall | None = None
        output: TelephonyOutput | None = None
        resampler: StreamResampler | None = None
        try:
            while True:
                message = await stream.receive()
                raw = message.get("text") or message.get("bytes") or b""
                try:
                    event = serializer.parse(raw)
                except FrameError as e:
                    raise StreamClosed(CLOSE_INVALID_DATA, f"{e.reason}: {e.detail}") from e
                match event:
                    case CallStarted() if call is None:
                        session_id, caller = await _bind_call(services, provider, event)
                        source = f"caller:{caller}" if caller else f"call:{event.call_id}"
                        stream.admit(source=source, anonymous=False)
                        output = TelephonyOutput(
                            stream.socket, serializer, stream_sid=event.stream_id
                        )
                        call = VoiceCall(
                            engines=engines,
                            turn=turn_handler(
                                services, session_id=session_id, channel="phone", caller=caller
                            ),
                            output=output,
                            config=call_config(services, transport=provider),
                        )
                        stream.call = call
                        if event.format.sample_rate != SAMPLE_RATE:
                            resampler = StreamResampler(
                                src_hz=event.format.sample_rate, dst_hz=SAMPLE_RATE
                            )
                    case AudioIn() if call is not None:
                        pcm = to_pcm16(event.audio, event.format)
                        await call.feed(resampler.process(pcm) if resampler else pcm)
                    case MarkAck() if output is not None:
                        output.acknowledged(event.name)
                    case CallStopped():
                        return
                    case _:
                        pass  # connected, dtmf
        finally:
            if call is not None:
                await call.close()

    await serve_stream(ws, transport=provider, run=run)


async def _bind_call(
    services: Services, provider: str, event: CallStarted
) -> tuple[str, str | None]:
    """The session and caller number of an authenticated call's stream."""
    if provider == "twilio":
        # Twilio passes no credential of its own we could bind to the call: the token Yatri's
        # TwiML issued for this call SID is the proof, and it carries the session and the
        # caller from Twilio's signed voice webhook (the stream's own parameters are not).
        token = event.custom.get("token", "")
        grant = await services.stream_tokens.redeem(token, kind="twilio")
        if grant is None:
            raise refused("a valid stream token parameter is required: "
                          "POST /v1/telephony/twilio/voice issues one")  # fmt: skip
        if grant.call_id != event.call_id:
            raise refused("the stream token is for another call")
        return grant.session_id, grant.caller
    # Exotel's Basic credentials were checked on the upgrade: the start event is Exotel's.
    session_id = event.custom.get("session_id") or ""
    if not re.fullmatch(SESSION_ID_PATTERN, session_id):
        session_id = await services.calls.session_for(
            provider=provider, call_id=event.call_id, proposed=new_session_id()
        )
    return session_id, event.caller


def _check_exotel_credentials(stream: VoiceStream) -> None:
    expected = stream.services.settings.exotel_stream_auth
    if expected is None:
        raise refused("Exotel streams are not configured on this server")
    presented = stream.ws.headers.get("authorization", "")
    if not basic_credentials_match(presented, expected=expected.get_secret_value()):
        raise refused("Exotel stream credentials are missing or wrong")
