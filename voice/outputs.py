"""What a voice call says, as each transport's messages: the app stream's JSON events and
the telephony providers' media frames. The route owns the socket; these only format and send."""

from __future__ import annotations

import asyncio
import base64
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
    @property
    def stream_sid(self) -> str | None: ...

    def parse(self, text: str | bytes) -> Event: ...

    def serialize(self, command: Command, *, stream_sid: str) -> list[str]: ...


class TelephonyOutput:
    """Reply audio as the provider's media frames with a mark after each sentence; the marks
    the provider echoes back say what the caller has heard."""

    def __init__(self, socket: TextSink, serializer: Serializer, *, stream_sid: str) -> None:
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
