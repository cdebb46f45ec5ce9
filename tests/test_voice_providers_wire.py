"""Plivo's and Vonage's wire formats: realistic messages in, neutral events out, and back; and
`VoiceEngines.close()` closing every engine it holds."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from api.voice_backends import load_voice_engines
from core.airports import load_airports
from core.settings import Settings
from voice.audio import AudioFormat, from_pcm16, to_pcm16
from voice.frames import (
    AudioIn,
    AudioOut,
    CallStarted,
    CallStopped,
    Clear,
    DtmfIn,
    FrameError,
    Mark,
    MarkAck,
    Notice,
)
from voice.plivo import PlivoSerializer, header_token, token_from_header
from voice.vonage import VonageSerializer

STREAM = "87654321-4321-4321-4321-cba987654321"
CALL = "12345678-1234-1234-1234-123456789abc"
MULAW_8K = AudioFormat("mulaw", 8000)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def tone_pcm16(*, rate: int, ms: int) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    samples = np.round(8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    return from_pcm16(samples, AudioFormat("pcm16", rate))


# --- Plivo ---------------------------------------------------------------------------------------


def pl_start(*, encoding: str = "audio/x-mulaw", rate: int = 8000, extra: str = "") -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": 1,
            "start": {
                "callId": CALL,
                "streamId": STREAM,
                "accountId": "MAXXXXXXXXXXXXXXXXXX",
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": encoding, "sampleRate": rate},
            },
            "extra_headers": extra,
        }
    )


def pl_media(payload: str, *, chunk: int = 1, track: str = "inbound", sid: str = STREAM) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": chunk + 1,
            "streamId": sid,
            "media": {
                "track": track,
                "timestamp": "1705312200000",
                "chunk": chunk,
                "payload": payload,
            },  # fmt: skip
            "extra_headers": "",
        }
    )


def started_plivo() -> PlivoSerializer:
    serializer = PlivoSerializer()
    serializer.parse(pl_start())
    return serializer


def test_plivo_call_lifecycle() -> None:
    serializer = PlivoSerializer()
    mulaw = from_pcm16(to_pcm16(tone_pcm16(rate=8000, ms=20), AudioFormat("pcm16", 8000)),
                       MULAW_8K)  # fmt: skip
    token = "Xy_-9" * 8

    started = serializer.parse(pl_start(extra=f"token={header_token(token)};lang=hi"))
    assert started == CallStarted(
        call_id=CALL, stream_id=STREAM, format=MULAW_8K,
        custom={"token": header_token(token), "lang": "hi"},
    )  # fmt: skip
    assert isinstance(started, CallStarted)
    assert token_from_header(started.custom["token"]) == token
    assert serializer.parse(pl_media(b64(mulaw), chunk=7)) == AudioIn(
        audio=mulaw, format=MULAW_8K, sequence=7
    )
    played = {"event": "playedStream", "streamId": STREAM, "name": "reply-1"}
    assert serializer.parse(json.dumps(played)) == MarkAck(name="reply-1")
    cleared = {"event": "clearedAudio", "streamId": STREAM, "sequenceNumber": 9}
    assert serializer.parse(json.dumps(cleared)) == Notice(name="clearedAudio")
    dtmf = {"event": "dtmf", "streamId": STREAM, "dtmf": {"digit": "5", "track": "inbound"}}
    assert serializer.parse(json.dumps(dtmf)) == DtmfIn(digit="5")
    assert serializer.parse(json.dumps({"event": "stop", "streamId": STREAM})) == CallStopped(
        reason="stop"
    )


def test_plivo_replies_are_play_audio_mulaw_frames_checkpoints_and_clear_audio() -> None:
    serializer = started_plivo()
    messages = serializer.serialize(
        AudioOut(pcm16=tone_pcm16(rate=22050, ms=250), sample_rate=22050), stream_sid=STREAM
    )
    frames = []
    for text in messages:
        message = json.loads(text)
        assert message["event"] == "playAudio" and "streamId" not in message
        media = message["media"]
        assert (media["contentType"], media["sampleRate"]) == ("audio/x-mulaw", 8000)
        frames.append(base64.b64decode(media["payload"]))
    assert len(frames) == 13 and {len(f) for f in frames} == {160}
    assert frames[-1][-40:] == b"\xff" * 40  # padded with μ-law silence
    assert [json.loads(m) for m in serializer.serialize(Mark("reply-1"), stream_sid=STREAM)] == [
        {"event": "checkpoint", "streamId": STREAM, "name": "reply-1"}
    ]
    assert [json.loads(m) for m in serializer.serialize(Clear(), stream_sid=STREAM)] == [
        {"event": "clearAudio", "streamId": STREAM}
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "malformed_json"),
        ('{"event": "connected"}', "unknown_event"),  # Twilio's, not Plivo's
        ('{"event": "start", "start": {"streamId": "s"}}', "invalid_frame"),
        (pl_start(encoding="audio/x-l16", rate=16000), "unsupported_format"),
        (pl_media(b64(b"\xff" * 160)), "out_of_order"),
        (json.dumps({"event": "playedStream", "streamId": STREAM}), "invalid_frame"),
    ],
)
def test_plivo_rejects_bad_frames(text: str, reason: str) -> None:
    with pytest.raises(FrameError) as caught:
        PlivoSerializer().parse(text)
    assert caught.value.reason == reason


def test_plivo_rejects_bad_audio_other_streams_and_tracks() -> None:
    serializer = started_plivo()
    for payload in ("!!not*base64!!", "", "AAA"):
        with pytest.raises(FrameError, match="bad_payload"):
            serializer.parse(pl_media(payload))
    with pytest.raises(FrameError, match="stream_mismatch"):
        serializer.parse(pl_media(b64(b"\xff" * 160), sid="another"))
    with pytest.raises(FrameError, match="unsupported_track"):
        serializer.parse(pl_media(b64(b"\xff" * 160), track="outbound"))
    assert token_from_header("not hex") == "" and token_from_header("ff") == ""


# --- Vonage --------------------------------------------------------------------------------------


def vn_connected(content_type: str = "audio/l16;rate=16000") -> str:
    return json.dumps({"event": "websocket:connected", "content-type": content_type,
                       "token": "t0k", "call_id": "vn-1", "lang": "en"})  # fmt: skip


def test_vonage_call_lifecycle() -> None:
    serializer = VonageSerializer()
    assert serializer.acknowledges_marks is False
    assert serializer.parse(vn_connected()) == CallStarted(
        call_id="vn-1", stream_id="vn-1", format=AudioFormat("pcm16", 16000),
        custom={"token": "t0k", "call_id": "vn-1", "lang": "en"},
    )  # fmt: skip
    frame = tone_pcm16(rate=16000, ms=20)
    assert len(frame) == 640
    assert serializer.parse(frame) == AudioIn(audio=frame, format=AudioFormat("pcm16", 16000))
    dtmf = json.dumps({"event": "websocket:dtmf", "digit": "#", "duration": 260})
    assert serializer.parse(dtmf) == DtmfIn(digit="#")


def test_vonage_replies_are_binary_20ms_l16_frames_and_a_clear_action() -> None:
    serializer = VonageSerializer()
    serializer.parse(vn_connected())
    frames = serializer.serialize(
        AudioOut(pcm16=tone_pcm16(rate=22050, ms=210), sample_rate=22050), stream_sid="vn-1"
    )
    assert all(isinstance(f, bytes) and len(f) == 640 for f in frames)
    assert len(frames) == 11 and frames[-1][-320:] == b"\x00" * 320
    assert serializer.serialize(Mark("reply-1"), stream_sid="vn-1") == []  # no marks at Vonage
    assert [json.loads(m) for m in serializer.serialize(Clear(), stream_sid="vn-1")] == [
        {"action": "clear"}
    ]

    narrowband = VonageSerializer()
    narrowband.parse(vn_connected("audio/l16;rate=8000"))
    frames = narrowband.serialize(
        AudioOut(pcm16=tone_pcm16(rate=16000, ms=40), sample_rate=16000), stream_sid="vn-1"
    )
    assert [len(f) for f in frames] == [320, 320]


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("{not json", "malformed_json"),
        ('{"content-type": "audio/l16;rate=16000"}', "malformed_json"),
        ('{"event": "websocket:connected"}', "invalid_frame"),
        ('{"event": "websocket:connected", "content-type": "audio/pcmu"}', "unsupported_format"),
        ('{"event": "websocket:hangup"}', "unknown_event"),
        (b"\x00" * 640, "out_of_order"),
        ('{"event": "websocket:dtmf", "digit": "5"}', "out_of_order"),
    ],
)
def test_vonage_rejects_bad_frames(frame: str | bytes, reason: str) -> None:
    with pytest.raises(FrameError) as caught:
        VonageSerializer().parse(frame)
    assert caught.value.reason == reason


def test_vonage_rejects_audio_that_is_not_whole_samples_and_a_second_connect() -> None:
    serializer = VonageSerializer()
    serializer.parse(vn_connected())
    for frame in (b"\x00" * 641, b"\x01", b""):
        with pytest.raises(FrameError, match="bad_payload"):
            serializer.parse(frame)
    with pytest.raises(FrameError, match="out_of_order"):
        serializer.parse(vn_connected())
    with pytest.raises(FrameError, match="invalid_frame"):
        serializer.parse('{"event": "websocket:dtmf", "digit": "55"}')


# --- engines -------------------------------------------------------------------------------------


async def test_voice_engines_close_closes_every_engine() -> None:
    engines = load_voice_engines(Settings(), airports=load_airports())
    silence = np.zeros(16_000, dtype=np.int16)
    assert (await engines.transcribe(silence)).audio_s > 0  # open: it decodes

    engines.close()

    assert engines.closed
    with pytest.raises(RuntimeError, match="shutdown"):  # the decode threads are stopped
        await engines.transcribe(silence)
    with pytest.raises(RuntimeError, match="shutdown"):  # the synthesis threads too
        async for _ in engines.tts.synthesize("Hello there."):
            pass
    with pytest.raises(RuntimeError, match="shutdown"):  # and the VAD's
        await engines.speech_probabilities(engines.new_vad(), np.zeros((1, 512), np.int16))
    engines.close()  # a second close does nothing
