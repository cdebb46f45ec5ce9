"""Audio plumbing: G.711 against the standard tables, soxr resampling, framing."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import numpy.typing as npt
import pytest

from voice.audio import (
    AudioFormat,
    Framer,
    StreamResampler,
    alaw_decode,
    alaw_encode,
    convert,
    from_pcm16,
    resample,
    to_pcm16,
    ulaw_decode,
    ulaw_encode,
)

MULAW_8K = AudioFormat("mulaw", 8000)
ALAW_8K = AudioFormat("alaw", 8000)
PCM_8K = AudioFormat("pcm16", 8000)
PCM_16K = AudioFormat("pcm16", 16000)


def sine(*, hz: float, rate: int, seconds: float, amplitude: float = 0.5) -> npt.NDArray[np.int16]:
    t = np.arange(int(rate * seconds)) / rate
    return np.round(amplitude * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def snr_db(reference: npt.NDArray[np.int16], actual: npt.NDArray[np.int16]) -> float:
    ref = reference.astype(np.float64)
    noise = ref - actual.astype(np.float64)
    return float(10 * np.log10(np.sum(ref**2) / np.sum(noise**2)))


def peak_hz(samples: npt.NDArray[np.int16], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


# --- G.711 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [MULAW_8K, ALAW_8K], ids=["mulaw", "alaw"])
def test_g711_round_trip_of_a_sine_keeps_35_db_snr(fmt: AudioFormat) -> None:
    tone = sine(hz=440, rate=8000, seconds=1.0)
    encoded = from_pcm16(tone, fmt)
    assert len(encoded) == len(tone)
    assert snr_db(tone, to_pcm16(encoded, fmt)) >= 35


@pytest.mark.parametrize(
    ("pcm", "code"),
    [(0, 0xFF), (-1, 0x7E), (32767, 0x80), (-32768, 0x00), (1000, 0xCE), (-1000, 0x4E)],
)
def test_ulaw_encode_matches_g711(pcm: int, code: int) -> None:
    assert ulaw_encode(np.array([pcm], np.int16)) == bytes([code])


@pytest.mark.parametrize(
    ("pcm", "code"),
    [(0, 0xD5), (-1, 0x55), (32767, 0xAA), (-32768, 0x2A), (1000, 0xFA), (-1000, 0x7A)],
)
def test_alaw_encode_matches_g711(pcm: int, code: int) -> None:
    assert alaw_encode(np.array([pcm], np.int16)) == bytes([code])


def test_ulaw_decode_matches_g711_table() -> None:
    assert ulaw_decode(bytes([0x00, 0x80, 0xFF, 0x7F, 0x0F, 0xCE])).tolist() == [
        -32124,
        32124,
        0,
        0,
        -16764,
        988,
    ]


def test_alaw_decode_matches_g711_table() -> None:
    assert alaw_decode(bytes([0x00, 0x80, 0xD5, 0x55, 0x2A, 0xAA])).tolist() == [
        -5504,
        5504,
        8,
        -8,
        -32256,
        32256,
    ]


@pytest.mark.skipif(
    sys.version_info >= (3, 13),
    reason="audioop was removed in Python 3.13: run on Python 3.11 or 3.12",
)
def test_g711_agrees_with_audioop_on_every_value() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

    every_sample = np.arange(-32768, 32768, dtype=np.int16)
    pcm_bytes = every_sample.astype("<i2").tobytes()
    every_code = bytes(range(256))
    assert ulaw_encode(every_sample) == audioop.lin2ulaw(pcm_bytes, 2)
    assert alaw_encode(every_sample) == audioop.lin2alaw(pcm_bytes, 2)
    assert ulaw_decode(every_code).astype("<i2").tobytes() == audioop.ulaw2lin(every_code, 2)
    assert alaw_decode(every_code).astype("<i2").tobytes() == audioop.alaw2lin(every_code, 2)


# --- conversions ---------------------------------------------------------------------------


def test_pcm16_bytes_are_little_endian() -> None:
    assert from_pcm16(np.array([1, -2], np.int16), PCM_8K) == b"\x01\x00\xfe\xff"
    assert to_pcm16(b"\x01\x00\xfe\xff", PCM_8K).tolist() == [1, -2]


def test_odd_length_pcm16_is_rejected() -> None:
    with pytest.raises(ValueError, match="whole number"):
        to_pcm16(b"\x00\x01\x02", PCM_8K)


def test_partial_stereo_frame_is_rejected() -> None:
    with pytest.raises(ValueError, match="whole number"):
        to_pcm16(b"\x00" * 6, AudioFormat("pcm16", 8000, channels=2))
    with pytest.raises(ValueError, match="channels"):
        from_pcm16(np.zeros(3, np.int16), AudioFormat("mulaw", 8000, channels=2))


def test_float_samples_are_refused_not_cast() -> None:
    with pytest.raises(ValueError, match="int16"):
        from_pcm16(np.zeros(4, np.float32), PCM_8K)


def test_invalid_formats_are_rejected() -> None:
    with pytest.raises(ValueError):
        AudioFormat("pcm16", 0)
    with pytest.raises(ValueError):
        AudioFormat("mulaw", 8000, channels=0)
    with pytest.raises(ValueError):
        AudioFormat("opus", 48000)  # type: ignore[arg-type]


def test_bytes_for_durations() -> None:
    assert MULAW_8K.bytes_for(20) == 160
    assert PCM_8K.bytes_for(100) == 1600
    assert AudioFormat("pcm16", 22050).bytes_for(20) == 882
    with pytest.raises(ValueError):
        AudioFormat("pcm16", 22050).bytes_for(10)  # 220.5 frames


@pytest.mark.parametrize("rate", [16000, 22050, 24000])
def test_resample_8k_up_and_back_keeps_tone_and_length(rate: int) -> None:
    tone = sine(hz=440, rate=8000, seconds=1.0)
    up = resample(tone, src_hz=8000, dst_hz=rate)
    assert up.dtype == np.int16
    assert len(up) == rate
    assert peak_hz(up, rate) == pytest.approx(440, abs=2)
    back = resample(up, src_hz=rate, dst_hz=8000)
    assert len(back) == len(tone)
    assert peak_hz(back, 8000) == pytest.approx(440, abs=2)
    # Skip the filter's edge transients; the body of the tone survives intact.
    assert snr_db(tone[400:-400], back[400:-400]) >= 30


def test_resample_same_rate_returns_a_copy() -> None:
    tone = sine(hz=440, rate=8000, seconds=0.1)
    same = resample(tone, src_hz=8000, dst_hz=8000)
    assert np.array_equal(same, tone)
    assert same is not tone


def test_stream_resampler_matches_clip_length() -> None:
    tone = sine(hz=440, rate=8000, seconds=1.0)
    stream = StreamResampler(src_hz=8000, dst_hz=16000)
    chunks = [stream.process(tone[i : i + 160]) for i in range(0, len(tone), 160)]
    out = np.concatenate([*chunks, stream.flush()])
    assert len(out) == 16000
    assert peak_hz(out, 16000) == pytest.approx(440, abs=2)


def test_convert_twilio_mulaw_to_16k_pcm() -> None:
    tone = sine(hz=440, rate=8000, seconds=0.5)
    pcm = to_pcm16(convert(from_pcm16(tone, MULAW_8K), src=MULAW_8K, dst=PCM_16K), PCM_16K)
    assert len(pcm) == 8000
    assert peak_hz(pcm, 16000) == pytest.approx(440, abs=3)


# --- framing -------------------------------------------------------------------------------


def test_twilio_framer_emits_160_byte_frames() -> None:
    framer = Framer.for_format(MULAW_8K, frame_ms=20, max_buffered_ms=1000)
    assert framer.frame_bytes == 160
    assert framer.push(b"\x01" * 100) == []
    frames = framer.push(b"\x02" * 300)
    assert [len(f) for f in frames] == [160, 160]
    assert frames[0] == b"\x01" * 100 + b"\x02" * 60
    assert framer.buffered == 80


def test_exotel_framer_chunks_are_multiples_of_320_and_at_least_100_ms() -> None:
    framer = Framer.for_format(PCM_8K, frame_ms=100, max_buffered_ms=2000)
    framer.write(b"\x00" * 5000)
    frames = [*framer.frames(), *framer.flush(pad=True)]
    assert [len(f) for f in frames] == [1600, 1600, 1600, 1600]
    assert all(len(f) % 320 == 0 and len(f) >= 1600 for f in frames)


def test_flush_pads_with_the_encodings_silence() -> None:
    framer = Framer.for_format(MULAW_8K, frame_ms=20, max_buffered_ms=1000)
    framer.write(b"\x10" * 10)
    assert framer.flush(pad=True) == [b"\x10" * 10 + b"\xff" * 150]
    assert framer.buffered == 0


def test_flush_without_padding_hands_out_the_short_tail() -> None:
    framer = Framer(frame_bytes=4, max_buffered_bytes=16)
    framer.write(b"abcdefghij")
    assert framer.flush(pad=False) == [b"abcd", b"efgh", b"ij"]
    assert framer.flush(pad=False) == []
    assert framer.flush(pad=True) == []


def test_write_beyond_the_bound_raises_and_keeps_the_buffer() -> None:
    framer = Framer(frame_bytes=160, max_buffered_bytes=320)
    framer.write(b"\x00" * 300)
    with pytest.raises(ValueError, match="buffer full"):
        framer.write(b"\x00" * 21)
    assert framer.buffered == 300
    assert len(list(framer.frames())) == 1
    framer.write(b"\x00" * 180)
    assert framer.buffered == 320


def test_framer_rejects_a_bound_smaller_than_a_frame() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Framer(frame_bytes=1600, max_buffered_bytes=320)


def test_clear_drops_buffered_audio() -> None:
    framer = Framer(frame_bytes=160, max_buffered_bytes=1600)
    framer.write(b"\x00" * 500)
    framer.clear()
    assert framer.buffered == 0
    assert framer.flush(pad=True) == []
