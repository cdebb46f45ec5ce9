"""Voice over websockets: the app's audio stream and the telephony providers' media streams.

Every stream runs one `voice.call.VoiceCall`; this module only moves frames between the socket
and the call, binds the call to a conversation, and enforces the stream limits.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

import numpy as np
import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.deps import Services
from api.turns import turn_handler
from core.logging import get_logger
from core.telemetry import VOICE_ACTIVE_STREAMS, VOICE_REJECTED_STREAMS
from sessions.engine import SESSION_ID_PATTERN, new_session_id
from voice.audio import StreamResampler, resample, to_pcm16
from voice.call import (
    CallConfig,
    SpokenReply,
    TurnMetrics,
    VoiceCall,
    VoiceEngines,
)
from voice.exotel import ExotelSerializer
from voice.frames import (
    AudioIn,
    AudioOut,
    CallStarted,
    CallStopped,
    Clear,
    Command,
    Event,
    FrameError,
    Mark,
    MarkAck,
)
from voice.stt import SAMPLE_RATE
from voice.tts import AudioChunk
from voice.twilio import TwilioSerializer
from voice.vad import EndpointConfig

log = get_logger(__name__)

router = APIRouter(tags=["voice"])

# Close codes (RFC 6455 section 7.4, and 4000-4999 for the application's own).
CLOSE_NORMAL = 1000
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_UNAVAILABLE = 1011
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_IDLE = 4408

APP_STREAM_DOC = """\
**WS /v1/voice/stream**: the app's voice channel.

Client -> server:
* text `{"type": "start", "session_id": "<optional>", "language": "en"}` first; the server
  answers `{"type": "ready", "session_id": ..., "sample_rate": 16000}`;
* binary frames of 16 kHz mono little-endian PCM16 (any length up to the frame limit, whole
  samples);
* text `{"type": "interrupt"}` stops the reply being spoken; `{"type": "stop"}` ends the call.

Server -> client (text JSON): `speech_started`; `partial` (`text`, `committed`: the words that
will not change); `final` (`text`, `metrics`); `reply` (`text`, `intent`, `slots`, `data`);
`audio` (`sentence`, `text`, `sample_rate`, `data`: base64 PCM16, one message per sentence);
`reply_end` (`metrics`); `clear` (drop queued reply audio: the caller barged in); `error`
(`code`, `detail`).

Close codes: 1000 stopped, 1007 malformed frame, 1008 protocol violation, 1009 frame too big,
1011 voice disabled, 1013 too many concurrent streams (try again later), 4408 idle timeout.
"""

TELEPHONY_DOC = """\
**WS /v1/telephony/twilio**: Twilio Media Streams (`connected`, `start`, `media` with base64
μ-law 8 kHz in 20 ms frames, `mark`, `dtmf`, `stop`). Replies go back as `media` frames, one
`mark` after each sentence (its acknowledgement says the caller heard it), and `clear` on
barge-in. A `session_id` custom parameter continues that conversation; otherwise the call SID
maps to one session in Redis.

**WS /v1/telephony/exotel**: Exotel's voicebot stream (snake_case events, base64 PCM16 at
8 kHz by default; replies in 100 ms chunks, multiples of 320 bytes; `clear`). Same mapping by
`call_sid`. Close codes as for the app stream.
"""


class _Start(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    session_id: str | None = Field(default=None, pattern=SESSION_ID_PATTERN)
    language: str = "en"


class _StreamClosed(Exception):
    """The stream must end with this close code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason[:120]  # a close frame's reason is at most 123 bytes


def call_config(services: Services, *, transport: str) -> CallConfig:
    settings = services.settings
    silence = settings.voice_silence_ms
    return CallConfig(
        endpoint=EndpointConfig(
            silence_ms=silence,
            min_silence_ms=min(300, silence),
            max_silence_ms=max(800, silence),
            max_utterance_ms=settings.voice_max_utterance_ms,
        ),
        transport=transport,
        early_endpoint_ms=settings.voice_early_endpoint_ms or None,
        streaming=settings.voice_pipeline == "streaming",
    )


class _Socket:
    """Serialised sends on one websocket; after a failed send the peer is gone and sends stop."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self._lock = asyncio.Lock()
        self.gone = False

    async def send_text(self, text: str) -> None:
        if self.gone:
            return
        async with self._lock:
            try:
                await self.ws.send_text(text)
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.gone = True

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send_text(orjson.dumps(message).decode())


# --- the app stream ------------------------------------------------------------------------


class AppOutput:
    """Call events as the app stream's JSON messages; reply audio resampled to 16 kHz."""

    def __init__(self, socket: _Socket) -> None:
        self._socket = socket
        self._loop = asyncio.get_running_loop()
        self._playing_until = 0.0

    async def speech_started(self) -> None:
        await self._socket.send_json({"type": "speech_started"})

    async def partial(self, *, text: str, committed: str) -> None:
        await self._socket.send_json({"type": "partial", "text": text, "committed": committed})

    async def final(self, *, text: str, metrics: TurnMetrics) -> None:
        await self._socket.send_json({"type": "final", "text": text, "metrics": metrics.as_dict()})

    async def reply(self, reply: SpokenReply) -> None:
        await self._socket.send_json({"type": "reply", "text": reply.text, **reply.data})

    async def audio(self, chunk: AudioChunk) -> None:
        pcm = np.frombuffer(chunk.pcm16, dtype="<i2").astype(np.int16)
        pcm16k = resample(pcm, src_hz=chunk.sample_rate, dst_hz=SAMPLE_RATE)
        # The app plays as it receives: playback ends one clip's length after the later of
        # now and the end of what was already queued.
        now = self._loop.time()
        self._playing_until = max(now, self._playing_until) + len(pcm16k) / SAMPLE_RATE
        await self._socket.send_json(
            {
                "type": "audio",
                "sentence": chunk.sentence_index,
                "text": chunk.text,
                "sample_rate": SAMPLE_RATE,
                "data": base64.b64encode(pcm16k.astype("<i2").tobytes()).decode(),
            }
        )

    async def reply_done(self, *, metrics: TurnMetrics) -> None:
        await self._socket.send_json({"type": "reply_end", "metrics": metrics.as_dict()})

    async def clear(self) -> None:
        self._playing_until = 0.0
        await self._socket.send_json({"type": "clear"})

    async def error(self, *, code: str, detail: str) -> None:
        await self._socket.send_json({"type": "error", "code": code, "detail": detail})

    def playing(self) -> bool:
        return self._loop.time() < self._playing_until


@router.websocket("/v1/voice/stream", name="voice_stream")
async def voice_stream(ws: WebSocket) -> None:
    async def run(services: Services, engines: VoiceEngines, socket: _Socket) -> None:
        message = await _receive(ws, services)
        if message.get("text") is None:
            raise _StreamClosed(CLOSE_POLICY, "the first message must be a start control")
        try:
            start = _Start.model_validate_json(message["text"])
        except ValidationError as e:
            fields = ", ".join(".".join(map(str, err["loc"])) for err in e.errors())
            raise _StreamClosed(CLOSE_POLICY, f"invalid start control: {fields}") from e
        if start.type != "start":
            raise _StreamClosed(CLOSE_POLICY, "the first message must be a start control")
        if start.language != "en":
            raise _StreamClosed(CLOSE_POLICY, f"language {start.language!r} is not served")
        session_id = start.session_id or new_session_id()
        call = VoiceCall(
            engines=engines,
            turn=turn_handler(services, session_id=session_id, channel="voice"),
            output=AppOutput(socket),
            config=call_config(services, transport="app"),
        )
        await socket.send_json({"type": "ready", "session_id": session_id, "sample_rate": 16000})
        try:
            await _app_frames(ws, services, call, socket)
        finally:
            await call.close()

    await _serve_stream(ws, transport="app", run=run)


async def _app_frames(ws: WebSocket, services: Services, call: VoiceCall, socket: _Socket) -> None:
    while True:
        message = await _receive(ws, services)
        data = message.get("bytes")
        if data is not None:
            if len(data) % 2:
                await socket.send_json(
                    {"type": "error", "code": "bad_audio", "detail": "odd byte count: not PCM16"}
                )
                continue
            await call.feed(np.frombuffer(data, dtype="<i2").astype(np.int16))
            continue
        try:
            control = orjson.loads(message.get("text") or "")
            kind = control.get("type") if isinstance(control, dict) else None
        except orjson.JSONDecodeError:
            kind = None
        if kind == "stop":
            raise _StreamClosed(CLOSE_NORMAL, "stopped")
        if kind == "interrupt":
            await call.interrupt()
            continue
        await socket.send_json(
            {
                "type": "error",
                "code": "bad_control",
                "detail": 'expected {"type": "interrupt"} or {"type": "stop"}',
            }
        )


# --- telephony ------------------------------------------------------------------------------


class Serializer(Protocol):
    @property
    def stream_sid(self) -> str | None: ...

    def parse(self, text: str | bytes) -> Event: ...

    def serialize(self, command: Command, *, stream_sid: str) -> list[str]: ...


class TelephonyOutput:
    """Reply audio as the provider's media frames with a mark after each sentence; the marks
    the provider echoes back say what the caller has heard."""

    def __init__(self, socket: _Socket, serializer: Serializer, *, stream_sid: str) -> None:
        self._socket = socket
        self._serializer = serializer
        self._stream_sid = stream_sid
        self._pending: dict[str, str] = {}
        self._marks = 0
        self.heard: list[str] = []

    async def speech_started(self) -> None:
        pass  # a phone line has no text channel

    async def partial(self, *, text: str, committed: str) -> None:
        pass

    async def final(self, *, text: str, metrics: TurnMetrics) -> None:
        log.info("voice turn heard", stream_sid=self._stream_sid, **metrics.as_dict())

    async def reply(self, reply: SpokenReply) -> None:
        pass

    async def audio(self, chunk: AudioChunk) -> None:
        self._marks += 1
        name = f"reply-{self._marks}"
        self._pending[name] = chunk.text
        commands: list[Command] = [AudioOut(chunk.pcm16, chunk.sample_rate), Mark(name)]
        for command in commands:
            for text in self._serializer.serialize(command, stream_sid=self._stream_sid):
                await self._socket.send_text(text)

    async def reply_done(self, *, metrics: TurnMetrics) -> None:
        log.info("voice reply sent", stream_sid=self._stream_sid, **metrics.as_dict())

    async def clear(self) -> None:
        # What the caller heard before cutting in (the marks echoed so far), and what they did not.
        log.info("voice reply cut", stream_sid=self._stream_sid, heard=len(self.heard),
                 unheard=len(self._pending))  # fmt: skip
        self._pending.clear()
        for text in self._serializer.serialize(Clear(), stream_sid=self._stream_sid):
            await self._socket.send_text(text)

    async def error(self, *, code: str, detail: str) -> None:
        log.warning("voice turn failed", stream_sid=self._stream_sid, code=code, detail=detail)

    def playing(self) -> bool:
        return bool(self._pending)

    def acknowledged(self, name: str) -> None:
        sentence = self._pending.pop(name, None)
        if sentence is not None:
            self.heard.append(sentence)


@router.websocket("/v1/telephony/twilio", name="telephony_twilio")
async def telephony_twilio(ws: WebSocket) -> None:
    await _telephony(ws, provider="twilio", serializer=TwilioSerializer())


@router.websocket("/v1/telephony/exotel", name="telephony_exotel")
async def telephony_exotel(ws: WebSocket) -> None:
    await _telephony(ws, provider="exotel", serializer=ExotelSerializer())


async def _telephony(ws: WebSocket, *, provider: str, serializer: Serializer) -> None:
    async def run(services: Services, engines: VoiceEngines, socket: _Socket) -> None:
        call: VoiceCall | None = None
        output: TelephonyOutput | None = None
        resampler: StreamResampler | None = None
        try:
            while True:
                message = await _receive(ws, services)
                raw = message.get("text") or message.get("bytes") or b""
                try:
                    event = serializer.parse(raw)
                except FrameError as e:
                    raise _StreamClosed(CLOSE_INVALID_DATA, f"{e.reason}: {e.detail}") from e
                match event:
                    case CallStarted():
                        session_id = event.custom.get("session_id") or ""
                        if not _valid_session_id(session_id):
                            session_id = await services.calls.session_for(
                                provider=provider, call_id=event.call_id, proposed=new_session_id()
                            )
                        output = TelephonyOutput(socket, serializer, stream_sid=event.stream_id)
                        call = VoiceCall(
                            engines=engines,
                            turn=turn_handler(
                                services,
                                session_id=session_id,
                                channel="phone",
                                caller=event.caller,
                            ),  # fmt: skip
                            output=output,
                            config=call_config(services, transport=provider),
                        )
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

    await _serve_stream(ws, transport=provider, run=run)


def _valid_session_id(value: str) -> bool:
    return re.fullmatch(SESSION_ID_PATTERN, value) is not None


# --- what every stream shares ---------------------------------------------------------------

StreamBody = Callable[[Services, VoiceEngines, _Socket], Awaitable[None]]


async def _serve_stream(ws: WebSocket, *, transport: str, run: StreamBody) -> None:
    """Accept, check the stream limit, run the body, and close with the body's reason."""
    services: Services = ws.app.state.services
    await ws.accept()
    socket = _Socket(ws)
    engines = services.voice
    if engines is None:
        VOICE_REJECTED_STREAMS.labels(transport, "disabled").inc()
        await _close(socket, CLOSE_UNAVAILABLE, "voice is disabled on this server")
        return
    if not services.stream_slots.try_acquire():
        VOICE_REJECTED_STREAMS.labels(transport, "over_limit").inc()
        await _close(
            socket,
            CLOSE_TRY_AGAIN_LATER,
            f"too many concurrent voice streams (limit {services.stream_slots.limit})",
        )
        return
    VOICE_ACTIVE_STREAMS.labels(transport).inc()
    try:
        await run(services, engines, socket)
        await _close(socket, CLOSE_NORMAL, "call ended")
    except _StreamClosed as e:
        if e.code not in (CLOSE_NORMAL,):
            VOICE_REJECTED_STREAMS.labels(transport, _close_label(e.code)).inc()
        await _close(socket, e.code, e.reason)
    except WebSocketDisconnect:
        pass  # the caller hung up; the call was closed by the body
    finally:
        services.stream_slots.release()
        VOICE_ACTIVE_STREAMS.labels(transport).dec()


def _close_label(code: int) -> str:
    return {
        CLOSE_INVALID_DATA: "malformed",
        CLOSE_POLICY: "protocol",
        CLOSE_TOO_BIG: "too_big",
        CLOSE_IDLE: "idle",
    }.get(code, str(code))


async def _receive(ws: WebSocket, services: Services) -> MutableMapping[str, Any]:
    """The next message, enforcing the idle timeout and the frame size limit."""
    try:
        message: MutableMapping[str, Any] = await asyncio.wait_for(
            ws.receive(), timeout=services.settings.voice_idle_timeout_s
        )
    except TimeoutError as e:
        raise _StreamClosed(CLOSE_IDLE, "idle timeout: no frames received") from e
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", CLOSE_NORMAL))
    payload = message.get("bytes") or message.get("text") or ""
    limit = services.settings.voice_max_frame_bytes
    if len(payload) > limit:
        raise _StreamClosed(CLOSE_TOO_BIG, f"frame larger than {limit} bytes")
    return message


async def _close(socket: _Socket, code: int, reason: str) -> None:
    if socket.gone:
        return
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await socket.ws.close(code=code, reason=reason[:120])
    socket.gone = True
