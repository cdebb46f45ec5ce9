"""Plivo and Vonage end to end: a caller speaking in real time over each provider's protocol to
a real uvicorn server on loopback, with the real faster-whisper, Silero, Piper, Redis and turn
engine; the provider's signed answer webhook first, as on a real call. Also: malformed frames
and missing credentials end the stream with a reason, never a crash."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import orjson
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from core.settings import Settings
from sessions.redis_store import RedisSessionStore
from tests.test_asr_webhook_routes import TWILIO_TOKEN
from tests.voice_support import (
    EXOTEL_AUTH,
    MULAW_8K,
    PCM_8K,
    PCM_16K,
    TIMEOUT_S,
    app,
    clip,
    silence,
    voice_engines,
    ws_base,
)
from voice.audio import convert

__all__ = ["app", "voice_engines", "ws_base"]

PLIVO_TOKEN = "plivo-auth-token"
VONAGE_SECRET = "vonage-signature-secret"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "voice_enabled": True,
            "voice_idle_timeout_s": 20.0,
            "exotel_stream_auth": SecretStr(EXOTEL_AUTH),
            "twilio_auth_token": SecretStr(TWILIO_TOKEN),
            "plivo_auth_token": SecretStr(PLIVO_TOKEN),
            "vonage_signature_secret": SecretStr(VONAGE_SECRET),
        }
    )


def http(ws_base: str) -> str:
    return ws_base.replace("ws://", "http://")


async def closed(ws: ClientConnection) -> tuple[int | None, str]:
    """Read until the server closes the stream; its close code and reason."""
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                await ws.recv()
    return ws.close_code, ws.close_reason or ""


async def paced(frames: list[str | bytes], ws: ClientConnection, *, frame_ms: int = 20) -> None:
    """Send one frame every `frame_ms`, as a phone network delivers a live caller's audio."""
    started = time.monotonic()
    for i, frame in enumerate(frames):
        await ws.send(frame)
        await asyncio.sleep(max(0.0, started + (i + 1) * frame_ms / 1000 - time.monotonic()))


async def conversation_slots(app: FastAPI, session_id: str) -> dict[str, Any]:
    """The slots of a conversation whose voice turn has been answered (its reply was heard)."""
    conversation = await RedisSessionStore(redis=app.state.services.redis, ttl_s=60).load(
        session_id
    )
    assert conversation is not None
    assert conversation.turns == 2  # the chat turn, then the spoken one
    return dict(conversation.slots)


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))


# --- Plivo ---------------------------------------------------------------------------------------


NONCE = "12345678901234567890"


def plivo_signed(url: str, params: dict[str, str], nonce: str = NONCE) -> str:
    """X-Plivo-Signature-V3, built as Plivo documents it: HMAC-SHA256 under the auth token of
    the URL without its query, "?", the query (then "." when there is one), the POST fields
    sorted by name and run together, ".", the nonce."""
    base, _, query = url.partition("?")
    fields = "".join(name + params[name] for name in sorted(params))
    signed = f"{base}?{query + '.' if query else ''}{fields}.{nonce}".encode()
    return base64.b64encode(
        hmac.new(PLIVO_TOKEN.encode(), signed, hashlib.sha256).digest()
    ).decode()


async def plivo_answer(
    ws_base: str, call_uuid: str, *, session_id: str | None = None
) -> httpx.Response:
    url = http(ws_base) + "/v1/telephony/plivo/answer"
    if session_id:
        url += f"?session_id={session_id}"
    params = {"CallUUID": call_uuid, "From": "919000000007", "To": "918000000000"}
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-plivo-signature-v3": plivo_signed(url, params),
        "x-plivo-signature-v3-nonce": NONCE,
    }
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=urlencode(params), headers=headers)


def plivo_stream(answer: httpx.Response) -> tuple[str, str]:
    """The stream URL and extraHeaders of Yatri's Plivo XML."""
    assert answer.status_code == 200, answer.text
    stream = re.search(r"<Stream ([^>]*)>([^<]+)</Stream>", answer.text)
    assert stream is not None, answer.text
    attributes = dict(re.findall(r'(\w+)="([^"]*)"', stream.group(1)))
    assert attributes["bidirectional"] == "true"
    assert attributes["contentType"] == "audio/x-mulaw;rate=8000"
    assert re.fullmatch(r"[A-Za-z0-9=,]+", attributes["extraHeaders"])  # what Plivo allows
    return stream.group(2), attributes["extraHeaders"]


def plivo_start(call_uuid: str, extra_headers: str) -> str:
    return orjson.dumps(
        {
            "event": "start",
            "sequenceNumber": 1,
            "start": {
                "callId": call_uuid,
                "streamId": "pl-stream-1",
                "accountId": "MAXXXXXXXXXXXXXXXXXX",
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000},
            },
            "extra_headers": extra_headers,
        }
    ).decode()


def plivo_media(pcm16k: bytes) -> list[str | bytes]:
    mulaw = convert(pcm16k, src=PCM_16K, dst=MULAW_8K)
    return [
        orjson.dumps(
            {
                "event": "media",
                "sequenceNumber": n + 2,
                "streamId": "pl-stream-1",
                "media": {
                    "track": "inbound",
                    "timestamp": str(1705312200000 + 20 * n),
                    "chunk": n + 1,
                    "payload": base64.b64encode(mulaw[at : at + 160]).decode(),
                },
            }
        ).decode()  # fmt: skip
        for n, at in enumerate(range(0, len(mulaw), 160))
    ]


async def test_plivo_caller_in_real_time_gets_mulaw_reply_and_checkpoints(
    app: FastAPI, ws_base: str
) -> None:
    chat = await app.state.services.engine.handle(
        text="I need 2 adults", session_id=None, channel="chat"
    )
    url, extra = plivo_stream(await plivo_answer(ws_base, "pl-call-1", session_id=chat.session_id))
    assert url == ws_base + "/v1/telephony/plivo"
    async with connect(url) as ws:
        await ws.send(plivo_start("pl-call-1", extra))
        await paced(plivo_media(clip("delhi_mumbai_25_december.wav") + silence(1500)), ws)
        frames: list[bytes] = []
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                message = orjson.loads(await ws.recv())
                if message["event"] == "checkpoint":
                    assert message["streamId"] == "pl-stream-1"
                    checkpoint = message["name"]
                    break
                assert message["event"] == "playAudio", message
                media = message["media"]
                assert (media["contentType"], media["sampleRate"]) == ("audio/x-mulaw", 8000)
                frames.append(base64.b64decode(media["payload"]))
        assert {len(frame) for frame in frames} == {160}
        audio = np.frombuffer(convert(b"".join(frames), src=MULAW_8K, dst=PCM_8K), dtype="<i2")
        assert len(audio) > 8000 * 0.3 and rms(audio) > 300  # audible speech
        # Plivo says the audio before the checkpoint played, then the caller hangs up.
        played = {"event": "playedStream", "streamId": "pl-stream-1", "name": checkpoint}
        await ws.send(orjson.dumps(played).decode())
        await ws.send('{"event": "stop", "streamId": "pl-stream-1"}')
        code, _ = await closed(ws)
    assert code == 1000
    slots = await conversation_slots(app, chat.session_id)
    assert (slots["origin"], slots["destination"]) == ("DEL", "BOM"), slots
    assert slots["adults"] == 2  # from the chat turn before the call


async def test_plivo_barge_in_sends_clear_audio(app: FastAPI, ws_base: str) -> None:
    _, extra = plivo_stream(await plivo_answer(ws_base, "pl-barge"))
    async with connect(ws_base + "/v1/telephony/plivo") as ws:
        await ws.send(plivo_start("pl-barge", extra))
        await paced(plivo_media(clip("tatkal_cancellation_fee.wav") + silence(1000)), ws)
        async with asyncio.timeout(TIMEOUT_S):
            while orjson.loads(await ws.recv())["event"] != "playAudio":
                pass
        # The caller talks over the reply: no checkpoint was played, so it is still playing.
        speaking = asyncio.create_task(
            paced(plivo_media(clip("first_of_january_chennai.wav") + silence(1000)), ws)
        )
        async with asyncio.timeout(TIMEOUT_S):
            while (message := orjson.loads(await ws.recv()))["event"] != "clearAudio":
                pass
        assert message == {"event": "clearAudio", "streamId": "pl-stream-1"}
        await speaking


# --- Vonage --------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def vonage_jwt(body: bytes = b"", *, secret: str = VONAGE_SECRET, iat: float | None = None) -> str:
    """A Vonage signed-webhook JWT: HS256 over the header and claims, keyed by the secret."""
    claims: dict[str, Any] = {"iat": int(iat if iat is not None else time.time()),
                              "jti": "b1e7", "iss": "Vonage", "api_key": "key"}  # fmt: skip
    if body:
        claims["payload_hash"] = hashlib.sha256(body).hexdigest()
    signing = _b64url(b'{"alg":"HS256","typ":"JWT"}') + "." + _b64url(orjson.dumps(claims))
    signature = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return "Bearer " + signing + "." + _b64url(signature)


async def vonage_answer(
    ws_base: str, uuid: str, *, session_id: str | None = None
) -> dict[str, Any]:
    query = {"uuid": uuid, "conversation_uuid": "CON-1", "from": "919000000008", "to": "91800"}
    if session_id:
        query["session_id"] = session_id
    async with httpx.AsyncClient() as client:
        answer = await client.get(
            http(ws_base) + "/v1/telephony/vonage/answer?" + urlencode(query),
            headers={"authorization": vonage_jwt()},
        )
    assert answer.status_code == 200, answer.text
    (connect_action,) = answer.json()
    assert connect_action["action"] == "connect"
    (endpoint,) = connect_action["endpoint"]
    assert endpoint["type"] == "websocket"
    assert endpoint["content-type"] == "audio/l16;rate=16000"
    return dict(endpoint)


def vonage_connected(endpoint: dict[str, Any]) -> str:
    """Vonage's first message: the content type and the endpoint's headers."""
    return orjson.dumps(
        {"event": "websocket:connected", "content-type": endpoint["content-type"]}
        | endpoint["headers"]
    ).decode()


def vonage_audio(pcm16k: bytes) -> list[str | bytes]:
    return [pcm16k[at : at + 640] for at in range(0, len(pcm16k), 640)]


async def test_vonage_caller_in_real_time_gets_l16_reply_frames(app: FastAPI, ws_base: str) -> None:
    chat = await app.state.services.engine.handle(
        text="I need 2 adults", session_id=None, channel="chat"
    )
    endpoint = await vonage_answer(ws_base, "vn-call-1", session_id=chat.session_id)
    assert endpoint["uri"] == ws_base + "/v1/telephony/vonage"
    async with connect(endpoint["uri"]) as ws:
        await ws.send(vonage_connected(endpoint))
        await paced(vonage_audio(clip("delhi_mumbai_25_december.wav") + silence(1500)), ws)
        frames: list[bytes] = []
        async with asyncio.timeout(TIMEOUT_S):
            while len(frames) < 25:  # half a second of reply
                frame = await ws.recv()
                assert isinstance(frame, bytes), frame  # audio is binary, never JSON
                frames.append(frame)
        assert {len(frame) for frame in frames} == {640}  # 20 ms of 16 kHz L16
        audio = np.frombuffer(b"".join(frames), dtype="<i2")
        assert rms(audio) > 300
    # Vonage ends a call by closing the socket; the turn heard is in the conversation.
    slots = await conversation_slots(app, chat.session_id)
    assert (slots["origin"], slots["destination"]) == ("DEL", "BOM"), slots
    assert slots["adults"] == 2


async def test_vonage_barge_in_sends_the_clear_action(ws_base: str) -> None:
    endpoint = await vonage_answer(ws_base, "vn-barge")
    async with connect(endpoint["uri"]) as ws:
        await ws.send(vonage_connected(endpoint))
        await paced(vonage_audio(clip("tatkal_cancellation_fee.wav") + silence(1000)), ws)
        async with asyncio.timeout(TIMEOUT_S):
            while not isinstance(await ws.recv(), bytes):
                pass
        # The reply lasts seconds; the caller speaks over it.
        speaking = asyncio.create_task(
            paced(vonage_audio(clip("first_of_january_chennai.wav") + silence(1000)), ws)
        )
        async with asyncio.timeout(TIMEOUT_S):
            while isinstance(message := await ws.recv(), bytes):
                pass
        assert orjson.loads(message) == {"action": "clear"}
        await speaking
