"""What every voice websocket shares: accepting and closing with a reason, serialised sends,
receiving under the stream limits (frame size, idle timeout, the silence budget), and the
admission lease that holds the stream's slot."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import WebSocket, WebSocketDisconnect

from api.deps import Services
from core.logging import get_logger
from core.telemetry import VOICE_ACTIVE_STREAMS, VOICE_REJECTED_STREAMS
from voice.admission import AdmissionRefused, Lease, SilenceBudget
from voice.call import CallConfig, VoiceCall, VoiceEngines
from voice.vad import EndpointConfig

log = get_logger(__name__)

# Close codes (RFC 6455 section 7.4, and 4000-4999 for the application's own).
CLOSE_NORMAL = 1000
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_UNAVAILABLE = 1011
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_IDLE = 4408

# A socket that has not started a call (and so holds no slot) gets this long between frames.
START_DEADLINE_S = 10.0


class StreamClosed(Exception):
    """The stream must end with this close code and reason; `label` names it in the metrics."""

    def __init__(self, code: int, reason: str, *, label: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason[:120]  # a close frame's reason is at most 123 bytes
        self.label = label or _LABELS.get(code, str(code))


_LABELS = {CLOSE_INVALID_DATA: "malformed", CLOSE_POLICY: "protocol", CLOSE_TOO_BIG: "too_big"}


def origin_allowed(ws: WebSocket, *, widget_origins: str) -> bool:
    """A browser names the page's origin; it must be this server's own (the widget served
    here) or a partner site in `YATRI_WIDGET_ORIGINS`. Apps and telephony providers send none."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    allowed = {o.strip().rstrip("/") for o in widget_origins.split(",") if o.strip()}
    if origin.rstrip("/") in allowed:
        return True
    host = ws.headers.get("x-forwarded-host") or ws.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.split(",")[0].strip().lower()


def refused(reason: str) -> StreamClosed:
    """The stream may not be served: no valid credential for it."""
    return StreamClosed(CLOSE_POLICY, reason, label="unauthenticated")


class Socket:
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

    async def close(self, code: int, reason: str) -> None:
        if self.gone:
            return
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.ws.close(code=code, reason=reason[:120])
        self.gone = True


class VoiceStream:
    """One accepted socket: its receive loop under the limits, and its slot once admitted."""

    def __init__(self, ws: WebSocket, services: Services, *, transport: str) -> None:
        self.ws = ws
        self.services = services
        self.transport = transport
        self.socket = Socket(ws)
        self.call: VoiceCall | None = None
        self._lease: Lease | None = None
        settings = services.settings
        self._budget = SilenceBudget(
            limit_s=settings.voice_no_speech_timeout_s,
            # An utterance under way delays the close until the endpointer's forced end, and
            # its decode, have had their chance to make it a turn.
            busy_grace_s=settings.voice_max_utterance_ms / 1000 + 5,
        )
        self._last_frame = time.monotonic()

    @property
    def address(self) -> str:
        return self.ws.client.host if self.ws.client else "unknown"

    def admit(self, *, source: str, anonymous: bool) -> None:
        """Take a slot for `source`, or close the stream with 1013 and the reason."""
        try:
            self._lease = self.services.stream_admission.admit(source=source, anonymous=anonymous)
        except AdmissionRefused as e:
            raise StreamClosed(CLOSE_TRY_AGAIN_LATER, e.detail, label=e.reason) from e
        VOICE_ACTIVE_STREAMS.labels(self.transport).inc()

    def release(self) -> None:
        if self._lease is not None:
            self._lease.release()
            self._lease = None
            VOICE_ACTIVE_STREAMS.labels(self.transport).dec()

    async def receive(self) -> MutableMapping[str, Any]:
        """The next message, enforcing the frame size limit, the idle timeout and, once a call
        runs, the silence budget."""
        while True:
            try:
                message: MutableMapping[str, Any] = await asyncio.wait_for(
                    self.ws.receive(), timeout=self._wait_s()
                )
            except TimeoutError:
                self._check_deadlines()
                continue
            break
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", CLOSE_NORMAL))
        self._last_frame = time.monotonic()
        payload = message.get("bytes") or message.get("text") or ""
        limit = self.services.settings.voice_max_frame_bytes
        if len(payload) > limit:
            raise StreamClosed(CLOSE_TOO_BIG, f"frame larger than {limit} bytes", label="too_big")
        return message

    def _idle_limit_s(self) -> float:
        idle = self.services.settings.voice_idle_timeout_s
        return idle if self.call is not None else min(idle, START_DEADLINE_S)

    def _wait_s(self) -> float:
        idle_left = self._idle_limit_s() - (time.monotonic() - self._last_frame)
        if self.call is None:
            return max(0.0, idle_left)
        return max(0.0, min(idle_left, self._budget.remaining_s(self.call)))

    def _check_deadlines(self) -> None:
        if time.monotonic() - self._last_frame >= self._idle_limit_s():
            raise StreamClosed(CLOSE_IDLE, "idle timeout: no frames received", label="idle")
        if self.call is not None and self._budget.remaining_s(self.call) <= 0:
            raise StreamClosed(
                CLOSE_IDLE, f"no speech heard for {self._budget.limit_s:g} s", label="silent"
            )


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
        barge_in_min_speech_ms=settings.voice_barge_in_min_speech_ms,
        streaming=settings.voice_pipeline == "streaming",
    )


StreamBody = Callable[[VoiceStream, VoiceEngines], Awaitable[None]]


async def serve_stream(ws: WebSocket, *, transport: str, run: StreamBody) -> None:
    """Accept, run the body (which authenticates the stream and takes its slot), and close
    with the body's reason; the slot is given back however the stream ends."""
    services: Services = ws.app.state.services
    if not origin_allowed(ws, widget_origins=services.settings.widget_origins):
        # A page on another site may not open a traveller's stream with the browser's
        # credentials (cross-site websocket hijacking): refused before the handshake, a 403.
        VOICE_REJECTED_STREAMS.labels(transport, "origin").inc()
        log.info("voice stream refused", transport=transport, origin=ws.headers.get("origin"))
        await ws.close(CLOSE_POLICY)
        return
    await ws.accept()
    stream = VoiceStream(ws, services, transport=transport)
    engines = services.voice
    if engines is None:
        VOICE_REJECTED_STREAMS.labels(transport, "disabled").inc()
        await stream.socket.close(CLOSE_UNAVAILABLE, "voice is disabled on this server")
        return
    try:
        await run(stream, engines)
        await stream.socket.close(CLOSE_NORMAL, "call ended")
    except StreamClosed as e:
        if e.code != CLOSE_NORMAL:
            VOICE_REJECTED_STREAMS.labels(transport, e.label).inc()
            log.info("voice stream closed", transport=transport, code=e.code, reason=e.label)
        await stream.socket.close(e.code, e.reason)
    except WebSocketDisconnect:
        pass  # the caller hung up; the call was closed by the body
    finally:
        stream.release()
