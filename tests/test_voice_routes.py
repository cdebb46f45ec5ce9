"""Voice end to end: recorded utterances through the app stream and the Twilio and Exotel media
streams of a real uvicorn server on loopback, with the real faster-whisper, Silero, Piper,
Redis and turn engine; barge-in, limits and malformed frames."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from api.app import create_app
from core.embedded import Endpoints
from core.settings import Settings
from sessions.engine import new_session_id
from sessions.redis_store import RedisSessionStore
from tests.voice_support import (
    PCM_8K,
    PCM_16K,
    TIMEOUT_S,
    app,
    app_start,
    app_token,
    clip,
    decode_twilio_audio,
    exotel_auth,
    mint,
    next_event,
    send_pcm16k,
    serve,
    settings,
    silence,
    twilio_answer,
    twilio_say,
    twilio_start,
    voice_engines,
    ws_base,
)
from voice.audio import convert
from voice.stream_tokens import StreamGrant

# The fixtures this module uses, imported by name.
__all__ = ["app", "settings", "voice_engines", "ws_base"]

# --- the app stream ----------------------------------------------------------------------------


async def test_app_stream_recorded_utterance_gets_transcript_reply_and_audio(
    app: FastAPI, ws_base: str
) -> None:
    async with connect(ws_base + "/v1/voice/stream") as ws:
        session_id = await app_start(ws, await app_token(app))
        await send_pcm16k(ws, clip("delhi_mumbai_25_december.wav") + silence(1500))
        final = await next_event(ws, "final")
        assert final["text"], final
        assert final["metrics"]["endpoint_decision_ms"] >= 300  # a real silence window
        # What was understood, not the exact words (decoding differs a little between CPUs).
        reply = await next_event(ws, "reply")
        assert reply["intent"] == "search_flights", final["text"]
        assert reply["slots"]["origin"] == "DEL" and reply["slots"]["destination"] == "BOM"
        assert reply["slots"]["date"].endswith("-12-25"), final["text"]
        audio = await next_event(ws, "audio")
        pcm = np.frombuffer(base64.b64decode(audio["data"]), dtype="<i2")
        assert audio["sample_rate"] == 16_000 and len(pcm) > 16_000 * 0.3
        assert float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) > 300  # audible speech
        done = await next_event(ws, "reply_end")
        assert done["metrics"]["reply_to_first_audio_ms"] > 0
    assert len(session_id) >= 8


async def test_app_stream_barge_in_clears_playback_and_hears_the_new_utterance(
    app: FastAPI, ws_base: str
) -> None:
    async with connect(ws_base + "/v1/voice/stream") as ws:
        await app_start(ws, await app_token(app))
        await send_pcm16k(ws, clip("delhi_mumbai_25_december.wav") + silence(1000))
        await next_event(ws, "audio")  # the reply is playing
        # The caller talks over it.
        await send_pcm16k(ws, clip("two_adults_bangalore_goa.wav") + silence(1000))
        seen: list[str] = []
        async with asyncio.timeout(TIMEOUT_S):
            while "clear" not in seen or "final" not in seen:
                message = orjson.loads(await ws.recv())
                seen.append(message["type"])
                if message["type"] == "final":
                    final = message
        assert seen.index("clear") < seen.index("final")
        reply = await next_event(ws, "reply")
        assert (reply["slots"]["origin"], reply["slots"]["destination"]) == ("BLR", "GOI"), final
        await next_event(ws, "audio")


async def test_app_stream_interrupt_control_stops_the_reply(app: FastAPI, ws_base: str) -> None:
    async with connect(ws_base + "/v1/voice/stream") as ws:
        await app_start(ws, await app_token(app))
        await send_pcm16k(ws, clip("tatkal_cancellation_fee.wav") + silence(1000))
        await next_event(ws, "audio")
        await ws.send('{"type": "interrupt"}')
        await next_event(ws, "clear")


async def test_app_stream_protocol_errors(app: FastAPI, ws_base: str) -> None:
    async with connect(ws_base + "/v1/voice/stream") as ws:
        await ws.send(b"\x00\x01")  # audio before start
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 1008 and "start" in (ws.close_reason or "")

    async with connect(ws_base + "/v1/voice/stream") as ws:
        await ws.send('{"type": "start", "language": "xx"}')
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 1008 and "language" in (ws.close_reason or "")

    async with connect(ws_base + "/v1/voice/stream") as ws:
        await app_start(ws, await app_token(app))
        await ws.send(b"\x00\x01\x02")  # not whole PCM16 samples
        assert (await next_event(ws, "error"))["code"] == "bad_audio"
        await ws.send("{not json")
        assert (await next_event(ws, "error"))["code"] == "bad_control"
        await ws.send(bytes(70_000))  # over voice_max_frame_bytes
        with pytest.raises(ConnectionClosed):
            while True:
                await ws.recv()
    assert ws.close_code == 1009


async def test_streams_over_the_limit_are_refused_with_a_reason(app: FastAPI, ws_base: str) -> None:
    admission = app.state.services.stream_admission
    admission.capacity = None  # the count limit alone (decode load: tests/test_voice_scheduler.py)
    async with connect(ws_base + "/v1/voice/stream") as first:
        await app_start(first, await app_token(app))
        # The other streams of a busy server, each a caller of its own.
        others = [
            admission.admit(source=f"caller:other-{n}", anonymous=False)
            for n in range(admission.limit - 1)
        ]
        try:
            token = await mint(app, StreamGrant(kind="twilio", session_id="s-over-limit",
                                                call_id="CA-over"))  # fmt: skip
            async with connect(ws_base + "/v1/telephony/twilio") as over:
                await over.send(twilio_start("CA-over", custom={"token": token}))
                with pytest.raises(ConnectionClosed):
                    await over.recv()
            assert over.close_code == 1013
            assert "too many concurrent voice streams" in (over.close_reason or "")
        finally:
            for lease in others:
                lease.release()
    await asyncio.sleep(0.1)
    assert admission.active == 0


async def test_idle_stream_is_closed(app: FastAPI, ws_base: str) -> None:
    app.state.services.settings = app.state.services.settings.model_copy(
        update={"voice_idle_timeout_s": 0.3}
    )
    async with connect(ws_base + "/v1/voice/stream") as ws:
        await app_start(ws, await app_token(app))
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 4408 and "idle" in (ws.close_reason or "")


async def test_disconnect_mid_utterance_leaves_the_session_consistent(
    app: FastAPI, ws_base: str
) -> None:
    engine = app.state.services.engine
    first = await engine.handle(
        text="flights from Delhi to Mumbai", session_id=None, channel="chat"
    )
    async with connect(ws_base + "/v1/voice/stream") as ws:
        await app_start(ws, await app_token(app, first.session_id))
        half = clip("first_of_january_chennai.wav")
        await send_pcm16k(ws, half[: len(half) // 2])
    await asyncio.sleep(0.5)
    assert app.state.services.stream_admission.active == 0
    later = await engine.handle(text="on 25 December", session_id=first.session_id, channel="chat")
    assert later.slots["origin"] == "DEL" and later.slots["destination"] == "BOM"
    assert later.slots["date"].endswith("-12-25")


async def test_voice_disabled_closes_with_a_reason(
    settings: Settings, endpoints: Endpoints
) -> None:
    application = create_app(
        settings.model_copy(update={"voice_enabled": False}), endpoints=endpoints
    )
    async with application.router.lifespan_context(application):
        base, stop = await serve(application)
        try:
            async with connect(base + "/v1/voice/stream") as ws:
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
            assert ws.close_code == 1011
        finally:
            await stop()


# --- Twilio Media Streams ------------------------------------------------------------------


# --- Twilio Media Streams ------------------------------------------------------------------


async def test_twilio_recorded_utterance_gets_reply_audio_marks_and_continues_the_chat(
    app: FastAPI, ws_base: str
) -> None:
    engine = app.state.services.engine
    chat = await engine.handle(text="I need 2 adults", session_id=None, channel="chat")
    # The number's voice webhook connects the call to its stream, continuing the chat.
    token = await twilio_answer(ws_base, "CA123", session_id=chat.session_id)
    async with connect(ws_base + "/v1/telephony/twilio") as ws:
        await ws.send('{"event": "connected", "protocol": "Call", "version": "1.0.0"}')
        await ws.send(twilio_start("CA123", custom={"token": token}))
        await twilio_say(ws, clip("delhi_mumbai_25_december.wav") + silence(1500))
        frames: list[dict[str, Any]] = []
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                message = orjson.loads(await ws.recv())
                assert message["streamSid"] == "MZstream1"
                if message["event"] == "mark":
                    mark = message["mark"]["name"]
                    break
                assert message["event"] == "media"
                frames.append(message)
        assert all(len(base64.b64decode(f["media"]["payload"])) == 160 for f in frames)
        audio = decode_twilio_audio(frames)
        assert len(audio) > 8000 * 0.3
        assert float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) > 300
        # Tell Yatri the caller heard that sentence.
        await ws.send(
            orjson.dumps(
                {"event": "mark", "streamSid": "MZstream1", "mark": {"name": mark}}
            ).decode()
        )
        await ws.send('{"event": "stop", "streamSid": "MZstream1", "stop": {"callSid": "CA123"}}')
        with pytest.raises(ConnectionClosed):
            while True:
                await ws.recv()
    store = RedisSessionStore(redis=app.state.services.redis, ttl_s=60)
    conversation = await store.load(chat.session_id)
    assert conversation is not None
    assert conversation.slots["origin"] == "DEL" and conversation.slots["destination"] == "BOM"
    assert conversation.slots["adults"] == 2  # from the chat turn before the call
    assert conversation.turns == 2


async def test_twilio_barge_in_sends_clear_and_handles_the_new_utterance(
    app: FastAPI, ws_base: str
) -> None:
    token = await mint(app, StreamGrant(kind="twilio", session_id=new_session_id(),
                                        call_id="CA-barge"))  # fmt: skip
    async with connect(ws_base + "/v1/telephony/twilio") as ws:
        await ws.send(twilio_start("CA-barge", custom={"token": token}))
        chunk = await twilio_say(ws, clip("tatkal_cancellation_fee.wav") + silence(1000))
        await next_event(ws, "media")  # the reply is playing
        await twilio_say(
            ws, clip("first_of_january_chennai.wav") + silence(1000), first_chunk=chunk
        )
        await next_event(ws, "clear")
        # The new utterance is answered: fresh reply audio follows the clear.
        await next_event(ws, "media")
        await next_event(ws, "mark")


async def test_twilio_malformed_and_out_of_order_frames_close_with_a_reason(ws_base: str) -> None:
    cases = [
        ("not json at all", "malformed_json"),
        ('{"event": "media", "streamSid": "MZ", "media": {"payload": "AA=="}}', "out_of_order"),
        ('{"event": "dance"}', "unknown_event"),
    ]
    for frame, reason in cases:
        async with connect(ws_base + "/v1/telephony/twilio") as ws:
            await ws.send(frame)
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        assert ws.close_code == 1007
        assert reason in (ws.close_reason or ""), ws.close_reason


# --- Exotel -----------------------------------------------------------------------------------


# --- Exotel -----------------------------------------------------------------------------------


async def test_exotel_utterance_gets_reply_in_100ms_chunks(ws_base: str) -> None:
    async with connect(ws_base + "/v1/telephony/exotel", additional_headers=exotel_auth()) as ws:
        await ws.send(
            orjson.dumps(
                {
                    "event": "start",
                    "sequence_number": 1,
                    "stream_sid": "ex-stream",
                    "start": {
                        "stream_sid": "ex-stream",
                        "call_sid": "ex-call",
                        "account_sid": "acc",
                        "from": "+910000000000",
                        "to": "+911111111111",
                        "custom_parameters": {},
                        "media_format": {
                            "encoding": "base64",
                            "sample_rate": "8000",
                            "bit_rate": "128kbps",
                        },
                    },
                }
            ).decode()
        )
        pcm8k = convert(
            clip("two_adults_bangalore_goa.wav") + silence(1500), src=PCM_16K, dst=PCM_8K
        )
        for i, at in enumerate(range(0, len(pcm8k), 1600)):
            await ws.send(
                orjson.dumps(
                    {
                        "event": "media",
                        "sequence_number": i + 2,
                        "stream_sid": "ex-stream",
                        "media": {
                            "chunk": i + 1,
                            "timestamp": str(i * 100),
                            "payload": base64.b64encode(pcm8k[at : at + 1600]).decode(),
                        },
                    }
                ).decode()
            )
        media = await next_event(ws, "media")
        payload = base64.b64decode(media["media"]["payload"])
        assert len(payload) % 320 == 0 and len(payload) >= 1600
