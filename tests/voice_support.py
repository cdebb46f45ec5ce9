"""Shared by the voice stream tests: recorded clips, the app with real speech models served
by uvicorn on loopback, stream tokens, and the providers' frames."""

from __future__ import annotations

import asyncio
import base64
import re
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection

from api.app import create_app
from api.voice_backends import load_voice_engines
from core.airports import load_airports
from core.embedded import Endpoints, free_port
from core.settings import Settings
from sessions.engine import new_session_id
from tests.test_asr_webhook_routes import TWILIO_TOKEN, twilio_signature
from voice.audio import AudioFormat, convert
from voice.call import VoiceEngines
from voice.stream_tokens import StreamGrant

CLIPS = Path(__file__).parent / "data" / "voice"
MULAW_8K = AudioFormat("mulaw", 8000)
PCM_8K = AudioFormat("pcm16", 8000)
PCM_16K = AudioFormat("pcm16", 16_000)
TIMEOUT_S = 60


def clip(name: str) -> bytes:
    with wave.open(str(CLIPS / name), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16_000, 1, 2)
        return wav.readframes(wav.getnframes())


def silence(ms: int, *, rate: int = 16_000) -> bytes:
    return bytes(2 * rate * ms // 1000)


@pytest.fixture(scope="module")
def voice_engines() -> Iterator[VoiceEngines]:
    engines = load_voice_engines(Settings(), airports=load_airports())
    yield engines
    engines.close()


EXOTEL_AUTH = "exotel-key:exotel-token"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "voice_enabled": True,
            "voice_idle_timeout_s": 20.0,
            "exotel_stream_auth": SecretStr(EXOTEL_AUTH),
            "twilio_auth_token": SecretStr(TWILIO_TOKEN),
        }
    )


@pytest.fixture
async def app(
    settings: Settings, endpoints: Endpoints, voice_engines: VoiceEngines
) -> AsyncIterator[FastAPI]:
    application = create_app(settings, endpoints=endpoints, voice_engines=voice_engines)
    async with application.router.lifespan_context(application):
        yield application


async def serve(app: FastAPI) -> tuple[str, Callable[[], Any]]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)

    async def stop() -> None:
        server.should_exit = True
        await task

    return f"ws://127.0.0.1:{port}", stop


@pytest.fixture
async def ws_base(app: FastAPI) -> AsyncIterator[str]:
    base, stop = await serve(app)
    yield base
    await stop()


async def next_event(ws: ClientConnection, *wanted: str) -> dict[str, Any]:
    """The next message whose type/event is one of `wanted` (others are skipped)."""
    async with asyncio.timeout(TIMEOUT_S):
        while True:
            message = orjson.loads(await ws.recv())
            if message.get("type", message.get("event")) in wanted:
                return dict(message)


async def send_pcm16k(ws: ClientConnection, pcm: bytes, *, frame_ms: int = 20) -> None:
    step = 2 * 16 * frame_ms
    for i in range(0, len(pcm), step):
        await ws.send(pcm[i : i + step])


async def mint(app: FastAPI, grant: StreamGrant) -> str:
    """A stream token, as POST /v1/voice/tokens or Yatri's TwiML would issue it."""
    token: str = await app.state.services.stream_tokens.mint(grant)
    return token


async def app_token(app: FastAPI, session_id: str | None = None) -> str:
    return await mint(app, StreamGrant(kind="app", session_id=session_id or new_session_id()))


async def app_start(ws: ClientConnection, token: str) -> str:
    start: dict[str, Any] = {"type": "start", "token": token, "language": "en"}
    await ws.send(orjson.dumps(start).decode())
    ready = await next_event(ws, "ready")
    assert ready["sample_rate"] == 16_000
    return str(ready["session_id"])


async def twilio_answer(ws_base: str, call_sid: str, *, session_id: str | None = None) -> str:
    """Post Twilio's signed voice webhook for a new call; the stream token its TwiML gives."""
    url = ws_base.replace("ws://", "http://") + "/v1/telephony/twilio/voice"
    if session_id:
        url += f"?session_id={session_id}"
    params = {"CallSid": call_sid, "From": "+919000000009", "To": "+918000000000"}
    headers = {"content-type": "application/x-www-form-urlencoded",
               "x-twilio-signature": twilio_signature(url, params)}  # fmt: skip
    async with httpx.AsyncClient() as client:
        answer = await client.post(url, content=urlencode(params), headers=headers)
    assert answer.status_code == 200, answer.text
    stream = re.search(r'<Stream url="([^"]+)"><Parameter name="token" value="([^"]+)"/>',
                       answer.text)  # fmt: skip
    assert stream is not None, answer.text
    assert stream.group(1) == ws_base + "/v1/telephony/twilio", stream.group(1)
    return stream.group(2)


def twilio_start(call_sid: str, *, custom: dict[str, str] | None = None) -> str:
    return orjson.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": "MZstream1",
            "start": {
                "accountSid": "ACx",
                "streamSid": "MZstream1",
                "callSid": call_sid,
                "tracks": ["inbound"],
                "customParameters": custom or {},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    ).decode()


async def twilio_say(ws: ClientConnection, pcm16k: bytes, *, first_chunk: int = 1) -> int:
    """Send 16 kHz PCM16 as Twilio would: μ-law 8 kHz, 20 ms media frames."""
    mulaw = convert(pcm16k, src=PCM_16K, dst=MULAW_8K)
    chunk = first_chunk
    for i in range(0, len(mulaw), 160):
        await ws.send(
            orjson.dumps(
                {
                    "event": "media",
                    "streamSid": "MZstream1",
                    "media": {
                        "track": "inbound",
                        "chunk": str(chunk),
                        "timestamp": str(chunk * 20),
                        "payload": base64.b64encode(mulaw[i : i + 160]).decode(),
                    },
                }
            ).decode()
        )
        chunk += 1
    return chunk


def decode_twilio_audio(frames: list[dict[str, Any]]) -> np.ndarray:
    mulaw = b"".join(base64.b64decode(f["media"]["payload"]) for f in frames)
    return np.frombuffer(convert(mulaw, src=MULAW_8K, dst=PCM_8K), dtype="<i2")


def exotel_auth(credentials: str = EXOTEL_AUTH) -> dict[str, str]:
    """What Exotel sends for a Voicebot URL of the form wss://KEY:TOKEN@host/..."""
    return {"authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}
