"""Twilio and Exotel wire formats: realistic messages in, neutral events out, and back."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest

from voice.audio import AudioFormat, from_pcm16, to_pcm16
from voice.exotel import ExotelSerializer
from voice.frames import (
    AudioIn,
    AudioOut,
    CallStarted,
    CallStopped,
    Clear,
    Connected,
    DtmfIn,
    FrameError,
    Mark,
    MarkAck,
)
from voice.twilio import TwilioSerializer

STREAM = "MZ18ad3ab5a668481ce02b83e7395059f0"
CALL = "CA6bd3c6a9a2b8a5c8e4b6d7e8f9a0b1c2"
ACCOUNT = "AC25e16e9a716a4a1786a7c83f58e30482"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def tone_pcm16(*, rate: int, ms: int) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    samples = np.round(8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    return from_pcm16(samples, AudioFormat("pcm16", rate))


# --- Twilio --------------------------------------------------------------------------------


def tw_connected() -> str:
    return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def tw_start(**media_format: Any) -> str:
    fmt = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1} | media_format
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "start": {
                "accountSid": ACCOUNT,
                "streamSid": STREAM,
                "callSid": CALL,
                "tracks": ["inbound"],
                "mediaFormat": fmt,
                "customParameters": {"lang": "hi-IN", "booking_ref": "YT8812"},
            },
            "streamSid": STREAM,
        }
    )


def tw_media(payload: str, *, chunk: int = 1, track: str = "inbound", sid: str = STREAM) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(chunk + 1),
            "media": {"track": track, "chunk": str(chunk), "timestamp": "5", "payload": payload},
            "streamSid": sid,
        }
    )


def tw_stop() -> str:
    return json.dumps(
        {
            "event": "stop",
            "sequenceNumber": "9",
            "streamSid": STREAM,
            "stop": {"accountSid": ACCOUNT, "callSid": CALL},
        }
    )


def started_twilio() -> TwilioSerializer:
    serializer = TwilioSerializer()
    serializer.parse(tw_connected())
    serializer.parse(tw_start())
    return serializer


def test_twilio_call_lifecycle() -> None:
    serializer = TwilioSerializer()
    pcm = to_pcm16(tone_pcm16(rate=8000, ms=20), AudioFormat("pcm16", 8000))
    mulaw = from_pcm16(pcm, AudioFormat("mulaw", 8000))

    assert serializer.parse(tw_connected()) == Connected()
    started = serializer.parse(tw_start())
    assert started == CallStarted(
        call_id=CALL,
        stream_id=STREAM,
        format=AudioFormat("mulaw", 8000),
        custom={"lang": "hi-IN", "booking_ref": "YT8812"},
    )
    assert serializer.stream_sid == STREAM

    audio = serializer.parse(tw_media(b64(mulaw), chunk=3))
    assert audio == AudioIn(audio=mulaw, format=AudioFormat("mulaw", 8000), sequence=3)

    mark = {
        "event": "mark",
        "sequenceNumber": "4",
        "streamSid": STREAM,
        "mark": {"name": "greeting"},
    }
    assert serializer.parse(json.dumps(mark)) == MarkAck(name="greeting")
    dtmf = {
        "event": "dtmf",
        "streamSid": STREAM,
        "sequenceNumber": "5",
        "dtmf": {"track": "inbound_track", "digit": "#"},
    }
    assert serializer.parse(json.dumps(dtmf)) == DtmfIn(digit="#")
    assert serializer.parse(tw_stop()) == CallStopped(reason="stop")


def test_twilio_outbound_media_is_20ms_mulaw_frames_that_round_trip() -> None:
    serializer = started_twilio()
    pcm = tone_pcm16(rate=8000, ms=250)  # 12.5 frames: the last one is padded

    messages = serializer.serialize(AudioOut(pcm16=pcm, sample_rate=8000), stream_sid=STREAM)

    assert len(messages) == 13
    frames = []
    for text in messages:
        message = json.loads(text)
        assert message["event"] == "media"
        assert message["streamSid"] == STREAM
        frames.append(base64.b64decode(message["media"]["payload"]))
    assert {len(frame) for frame in frames} == {160}
    assert frames[-1][80:] == b"\xff" * 80  # μ-law silence, not zeros (which are loud)

    # What we send is what Twilio would echo back as caller audio.
    echoed = serializer.parse(tw_media(b64(frames[0])))
    assert isinstance(echoed, AudioIn)
    decoded = to_pcm16(echoed.audio, echoed.format)
    original = np.frombuffer(pcm[:320], dtype="<i2")
    assert np.max(np.abs(decoded.astype(np.int32) - original)) < 300


def test_twilio_outbound_resamples_to_8khz() -> None:
    messages = TwilioSerializer().serialize(
        AudioOut(pcm16=tone_pcm16(rate=24000, ms=100), sample_rate=24000), stream_sid=STREAM
    )
    assert len(messages) == 5
    assert all(len(base64.b64decode(json.loads(m)["media"]["payload"])) == 160 for m in messages)


def test_twilio_mark_and_clear() -> None:
    serializer = TwilioSerializer()
    assert [json.loads(m) for m in serializer.serialize(Mark("turn-1"), stream_sid=STREAM)] == [
        {"event": "mark", "streamSid": STREAM, "mark": {"name": "turn-1"}}
    ]
    assert [json.loads(m) for m in serializer.serialize(Clear(), stream_sid=STREAM)] == [
        {"event": "clear", "streamSid": STREAM}
    ]
    assert serializer.serialize(AudioOut(pcm16=b"", sample_rate=8000), stream_sid=STREAM) == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "malformed_json"),
        ("[1, 2]", "malformed_json"),
        ('{"streamSid": "MZ1"}', "malformed_json"),
        ('{"event": "transcription"}', "unknown_event"),
        (json.dumps({"event": "start", "start": {"streamSid": STREAM}}), "invalid_frame"),
        (tw_start(encoding="audio/x-alaw"), "unsupported_format"),
        (tw_start(sampleRate=16000), "unsupported_format"),
    ],
)
def test_twilio_rejects_bad_frames(text: str, reason: str) -> None:
    serializer = TwilioSerializer()
    with pytest.raises(FrameError) as caught:
        serializer.parse(text)
    assert caught.value.reason == reason


def test_twilio_rejects_out_of_order_frames() -> None:
    serializer = TwilioSerializer()
    with pytest.raises(FrameError) as caught:
        serializer.parse(tw_media(b64(b"\xff" * 160)))
    assert (caught.value.reason, caught.value.event) == ("out_of_order", "media")
    with pytest.raises(FrameError, match="out_of_order"):
        serializer.parse(tw_stop())

    serializer.parse(tw_start())
    with pytest.raises(FrameError, match="out_of_order"):
        serializer.parse(tw_start())
    with pytest.raises(FrameError, match="out_of_order"):
        serializer.parse(tw_connected())
    serializer.parse(tw_stop())
    with pytest.raises(FrameError, match="out_of_order"):
        serializer.parse(tw_media(b64(b"\xff" * 160)))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("!!not*base64!!", "bad_payload"),
        ("/w==garbage", "bad_payload"),
        ("", "bad_payload"),
        ("ünïcode", "bad_payload"),
    ],
)
def test_twilio_rejects_base64_garbage(payload: str, reason: str) -> None:
    with pytest.raises(FrameError) as caught:
        started_twilio().parse(tw_media(payload))
    assert caught.value.reason == reason


def test_twilio_rejects_other_streams_tracks_and_bad_fields() -> None:
    serializer = started_twilio()
    silence = b64(b"\xff" * 160)
    with pytest.raises(FrameError, match="stream_mismatch"):
        serializer.parse(tw_media(silence, sid="MZ0000"))
    with pytest.raises(FrameError, match="unsupported_track"):
        serializer.parse(tw_media(silence, track="outbound"))
    bad_digit = {"event": "dtmf", "streamSid": STREAM, "dtmf": {"digit": "12"}}
    with pytest.raises(FrameError, match="invalid_frame"):
        serializer.parse(json.dumps(bad_digit))
    bad_chunk = json.loads(tw_media(silence))
    bad_chunk["media"]["chunk"] = "first"
    with pytest.raises(FrameError, match="invalid_frame"):
        serializer.parse(json.dumps(bad_chunk))


# --- Exotel --------------------------------------------------------------------------------


def ex_start(**media_format: Any) -> str:
    fmt = {"encoding": "audio/x-raw", "sample_rate": "8000", "bit_rate": "16"} | media_format
    return json.dumps(
        {
            "event": "start",
            "sequence_number": "1",
            "stream_sid": STREAM,
            "start": {
                "stream_sid": STREAM,
                "call_sid": CALL,
                "account_sid": "yatri1",
                "from": "+919876543210",
                "to": "+918047491899",
                "custom_parameters": {"lang": "ta-IN", "attempt": 2},
                "media_format": fmt,
            },
        }
    )


def ex_media(payload: str, *, chunk: int = 1, sid: str = STREAM) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequence_number": str(chunk + 2),
            "stream_sid": sid,
            "media": {"chunk": str(chunk), "timestamp": str(chunk * 100), "payload": payload},
        }
    )


def ex_stop() -> str:
    return json.dumps(
        {
            "event": "stop",
            "sequence_number": "40",
            "stream_sid": STREAM,
            "stop": {"call_sid": CALL, "account_sid": "yatri1", "reason": "callended"},
        }
    )


def started_exotel(**media_format: Any) -> ExotelSerializer:
    serializer = ExotelSerializer()
    serializer.parse(json.dumps({"event": "connected"}))
    serializer.parse(ex_start(**media_format))
    return serializer


def test_exotel_call_lifecycle() -> None:
    serializer = ExotelSerializer()
    pcm = tone_pcm16(rate=8000, ms=100)

    assert serializer.parse(json.dumps({"event": "connected"})) == Connected()
    assert serializer.parse(ex_start()) == CallStarted(
        call_id=CALL,
        stream_id=STREAM,
        format=AudioFormat("pcm16", 8000),
        custom={"lang": "ta-IN", "attempt": "2"},
        caller="+919876543210",  # Exotel's `from`
    )
    assert serializer.parse(ex_media(b64(pcm), chunk=2)) == AudioIn(
        audio=pcm, format=AudioFormat("pcm16", 8000), sequence=2
    )
    mark = {"event": "mark", "sequence_number": "15", "stream_sid": STREAM, "mark": {"name": "m1"}}
    assert serializer.parse(json.dumps(mark)) == MarkAck(name="m1")
    dtmf = {
        "event": "dtmf",
        "sequence_number": "7",
        "stream_sid": STREAM,
        "dtmf": {"digit": "5", "duration": "100"},
    }
    assert serializer.parse(json.dumps(dtmf)) == DtmfIn(digit="5")
    assert serializer.parse(ex_stop()) == CallStopped(reason="callended")


@pytest.mark.parametrize("ms", [10, 100, 130, 1000])
def test_exotel_outbound_chunks_are_320_multiples_of_at_least_100ms(ms: int) -> None:
    serializer = started_exotel()
    pcm = tone_pcm16(rate=8000, ms=ms)

    messages = serializer.serialize(AudioOut(pcm16=pcm, sample_rate=8000), stream_sid=STREAM)

    chunks = []
    for text in messages:
        message = json.loads(text)
        assert (message["event"], message["stream_sid"]) == ("media", STREAM)
        chunks.append(base64.b64decode(message["media"]["payload"]))
    assert all(len(chunk) % 320 == 0 and len(chunk) >= 1600 for chunk in chunks)
    sent = b"".join(chunks)
    assert sent[: len(pcm)] == pcm  # 8 kHz PCM16 in, 8 kHz PCM16 out: bytes untouched
    assert sent[len(pcm) :] == b"\x00" * (len(sent) - len(pcm))
    assert len(sent) - len(pcm) < 1600

    # And what we send parses back as caller audio.
    echoed = serializer.parse(ex_media(json.loads(messages[0])["media"]["payload"]))
    assert isinstance(echoed, AudioIn)
    assert echoed.audio == chunks[0]


def test_exotel_outbound_follows_the_stream_rate() -> None:
    serializer = started_exotel(sample_rate="16000")
    messages = serializer.serialize(
        AudioOut(pcm16=tone_pcm16(rate=24000, ms=200), sample_rate=24000), stream_sid=STREAM
    )
    sizes = [len(base64.b64decode(json.loads(m)["media"]["payload"])) for m in messages]
    assert sizes == [3200, 3200]


def test_exotel_mark_and_clear() -> None:
    serializer = started_exotel()
    assert [json.loads(m) for m in serializer.serialize(Mark("turn-1"), stream_sid=STREAM)] == [
        {"event": "mark", "stream_sid": STREAM, "mark": {"name": "turn-1"}}
    ]
    assert [json.loads(m) for m in serializer.serialize(Clear(), stream_sid=STREAM)] == [
        {"event": "clear", "stream_sid": STREAM}
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "malformed_json"),
        ('"start"', "malformed_json"),
        ('{"event": 3}', "malformed_json"),
        ('{"event": "playAudio"}', "unknown_event"),
        (json.dumps({"event": "start", "start": {"stream_sid": STREAM}}), "invalid_frame"),
        (ex_start(sample_rate="44100"), "unsupported_format"),
        (ex_start(encoding="audio/x-mulaw"), "unsupported_format"),
        (ex_media(b64(b"\x00" * 320)), "out_of_order"),
        (json.dumps({"event": "mark", "mark": {"name": "m1"}}), "out_of_order"),
    ],
)
def test_exotel_rejects_bad_frames(text: str, reason: str) -> None:
    with pytest.raises(FrameError) as caught:
        ExotelSerializer().parse(text)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "payload",
    ["not base64 at all", "AAA", b64(b"\x00" * 321), "AAAA====", ""],
)
def test_exotel_rejects_payloads_that_are_not_whole_pcm16_samples(payload: str) -> None:
    with pytest.raises(FrameError) as caught:
        started_exotel().parse(ex_media(payload))
    assert caught.value.reason == "bad_payload"


def test_exotel_rejects_frames_after_stop_and_for_other_streams() -> None:
    serializer = started_exotel()
    with pytest.raises(FrameError, match="stream_mismatch"):
        serializer.parse(ex_media(b64(b"\x00" * 320), sid="MZ0000"))
    serializer.parse(ex_stop())
    with pytest.raises(FrameError, match="out_of_order"):
        serializer.parse(ex_stop())
    with pytest.raises(FrameError, match="out_of_order"):
        serializer.parse(ex_start())


def test_commands_validate_their_fields() -> None:
    with pytest.raises(ValueError, match="whole PCM16"):
        AudioOut(pcm16=b"\x00" * 3, sample_rate=8000)
    with pytest.raises(ValueError, match="positive"):
        AudioOut(pcm16=b"", sample_rate=0)
    with pytest.raises(ValueError, match="empty"):
        Mark("")
