"""What a voice call says, as each transport's messages: the app stream's JSON events and
the telephony providers' media frames. These only format and send on a socket given them."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import orjson

from core.logging import get_logger
from voice.audio import resample
from voice.call import SpokenReply, TurnMetrics
from voice.frames import AudioOut, Clear, Command, Event, Mark
from voice.stt import SAMPLE_RATE
from voice.tts import AudioChunk

log = get_logger(__name__)


class TextSink(Protocol):
    """A socket's send side: serialised sends that stop quietly once the peer is gone."""

    async def send_text(self, text: str) -> None: ...


async def send_json(sink: TextSink, message: dict[str, Any]) -> None:
    await sink.send_text(orjson.dumps(message).decode())


class AppOutput:
    """Call events as the app stream's JSON messages; reply audio resampled to 16 kHz."""

    def __init__(self, socket: TextSink) -> None:
        self._socket = socket
        self._loop = asyncio.get_running_loop()
        self._playing_until = 0.0

    async def speech_started(self) -> None:
        await send_json(self._socket, {"type": "speech_started"})

    async def partial(self, *, text: str, committed: str) -> None:
        await send_json(self._socket, {"type": "partial", "text": text, "committed": committed})

    async def final(self, *, text: str, metrics: TurnMetrics) -> None:
        await send_json(self._socket, {"type": "final", "text": text, "metrics": metrics.as_dict()})

    async def reply(self, reply: SpokenReply) -> None:
        await send_json(self._socket, {"type": "reply", "text": reply.text, **reply.data})

    async def audio(self, chunk: AudioChunk) -> None:
        pcm = np.frombuffer(chunk.pcm16, dtype="<i2").astype(np.int16)
        pcm16k = resample(pcm, src_hz=chunk.sample_rate, dst_hz=SAMPLE_RATE)
        # The app plays as it receives: playback ends one clip's length after the later of
        # now and the end of what was already queued.
        now = self._loop.time()
        self._playing_until = max(now, self._playing_until) + len(pcm16k) / SAMPLE_RATE
        await send_json(
            self._socket,
            {
                "type": "audio",
                "sentence": chunk.sentence_index,
                "text": chunk.text,
                "sample_rate": SAMPLE_RATE,
                "data": base64.b64encode(pcm16k.astype("<i2").tobytes()).decode(),
            },
        )

    async def reply_done(self, *, metrics: TurnMetrics) -> None:
        await send_json(self._socket, {"type": "reply_end", "metrics": metrics.as_dict()})

    async def clear(self) -> None:
        self._playing_until = 0.0
        await send_json(self._socket, {"type": "clear"})

    async def error(self, *, code: str, detail: str) -> None:
        await send_json(self._socket, {"type": "error", "code": code, "detail": detail})

    def playing(self) -> bool:
        return self._loop.time() < self._playing_until


class Serializer(Protocol):
    """One provider's wire format (`voice.serializer.JsonSerializer`, `voice.vonage`)."""

    # Whether the provider echoes marks once the audio before them has played.
    acknowledges_marks: bool

    @property
    def stream_sid(self) -> str | None: ...

    def parse(self, frame: str | bytes) -> Event: ...

    def serialize(self, command: Command, *, stream_sid: str) -> Sequence[str | bytes]: ...


class FrameSink(TextSink, Protocol):
    """A socket's send side for text and binary frames."""

    async def send_bytes(self, data: bytes) -> None: ...


class TelephonyOutput:
    """Reply audio as the provider's media frames with a mark after each sentence; the marks
    the provider echoes back say what the caller has heard. Where a provider has no marks
    (Vonage), playback is taken to last as long as the audio sent."""

    def __init__(self, socket: FrameSink, serializer: Serializer, *, stream_sid: str) -> None:
        self._socket = socket
        self._serializer = serializer
        self._stream_sid = stream_sid
        self._pending: dict[str, str] = {}
        self._marks = 0
        self._loop = asyncio.get_running_loop()
        self._playing_until = 0.0
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
        commands: list[Command] = [AudioOut(chunk.pcm16, chunk.sample_rate)]
        if self._serializer.acknowledges_marks:
            self._marks += 1
            name = f"reply-{self._marks}"
            self._pending[name] = chunk.text
            commands.append(Mark(name))
        else:
            seconds = len(chunk.pcm16) / 2 / chunk.sample_rate
            self._playing_until = max(self._loop.time(), self._playing_until) + seconds
        for command in commands:
            await self._send(command)

    async def reply_done(self, *, metrics: TurnMetrics) -> None:
        log.info("voice reply sent", stream_sid=self._stream_sid, **metrics.as_dict())

    async def clear(self) -> None:
        # What the caller heard before cutting in (the marks echoed so far), and what they did not.
        log.info("voice reply cut", stream_sid=self._stream_sid, heard=len(self.heard),
                 unheard=len(self._pending))  # fmt: skip
        self._pending.clear()
        self._playing_until = 0.0
        await self._send(Clear())

    async def error(self, *, code: str, detail: str) -> None:
        log.warning("voice turn failed", stream_sid=self._stream_sid, code=code, detail=detail)

    def playing(self) -> bool:
        if self._serializer.acknowledges_marks:
            return bool(self._pending)
        return self._loop.time() < self._playing_until

    def acknowledged(self, name: str) -> None:
        sentence = self._pending.pop(name, None)
        if sentence is not None:
            self.heard.append(sentence)

    async def _send(self, command: Command) -> None:
        for frame in self._serializer.serialize(command, stream_sid=self._stream_sid):
            if isinstance(frame, bytes):
                await self._socket.send_bytes(frame)
            else:
                await self._socket.send_text(frame)
