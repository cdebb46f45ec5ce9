"""Audio plumbing shared by the telephony wire formats and the engines: formats, G.711
companding, resampling and fixed-size framing.

PCM16 on the wire is always little-endian, interleaved when there is more than one channel.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import soxr  # type: ignore[import-untyped]  # ships no py.typed

Encoding: TypeAlias = Literal["pcm16", "mulaw", "alaw"]
PCM16: TypeAlias = npt.NDArray[np.int16]

_SAMPLE_WIDTH: dict[Encoding, int] = {"pcm16": 2, "mulaw": 1, "alaw": 1}
# The byte each encoding uses for digital silence, so padding never clicks.
_SILENCE_BYTE: dict[Encoding, int] = {"pcm16": 0x00, "mulaw": 0xFF, "alaw": 0xD5}
_RESAMPLE_QUALITY = "HQ"


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """How audio bytes are laid out: encoding, sample rate in Hz and channel count."""

    encoding: Encoding
    sample_rate: int
    channels: int = 1

    def __post_init__(self) -> None:
        if self.encoding not in _SAMPLE_WIDTH:
            raise ValueError(f"unknown audio encoding {self.encoding!r}")
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if self.channels <= 0:
            raise ValueError(f"channels must be positive, got {self.channels}")

    @property
    def sample_width(self) -> int:
        """Bytes per sample of one channel."""
        return _SAMPLE_WIDTH[self.encoding]

    @property
    def frame_width(self) -> int:
        """Bytes per sample frame (one sample of every channel)."""
        return self.sample_width * self.channels

    @property
    def silence_byte(self) -> int:
        return _SILENCE_BYTE[self.encoding]

    def bytes_for(self, duration_ms: int) -> int:
        """Bytes in `duration_ms` of audio; ValueError unless that is a whole number of frames."""
        frames, remainder = divmod(self.sample_rate * duration_ms, 1000)
        if remainder or duration_ms <= 0:
            raise ValueError(
                f"{duration_ms} ms is not a positive whole number of frames at {self.sample_rate} Hz"
            )
        return frames * self.frame_width


# --- G.711 (ITU-T G.711, as in the Sun/CCITT reference g711.c) --------------------------------

_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # largest magnitude after the 16 -> 14 bit shift
_ULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], np.int32)
_ALAW_SEGMENT_ENDS = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], np.int32)


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    """μ-law code for every int16, indexed by the sample's bits read as uint16."""
    pcm = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEGMENT_ENDS, magnitude, side="left")
    code = (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)
    # Clipped magnitudes plus the bias land one past the last segment: the loudest code.
    code = np.where(segment >= len(_ULAW_SEGMENT_ENDS), 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _ulaw_decode_table() -> PCM16:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((code & 0x0F) << 3) + _ULAW_BIAS) << ((code & 0x70) >> 4)
    return np.where(code & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32) >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    segment = np.searchsorted(_ALAW_SEGMENT_ENDS, magnitude, side="left")
    # Segments 0 and 1 share one step size; magnitudes past the last segment cannot occur
    # after the 16 -> 13 bit shift, so no clip branch is needed.
    shift = np.maximum(segment, 1)
    code = (segment << 4) | ((magnitude >> shift) & 0x0F)
    return (code ^ mask).astype(np.uint8)


def _alaw_decode_table() -> PCM16:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (code & 0x70) >> 4
    t = (code & 0x0F) << 4
    t = np.where(segment == 0, t + 8, (t + 0x108) << np.maximum(segment - 1, 0))
    return np.where(code & 0x80, t, -t).astype(np.int16)


_ULAW_ENCODE = _ulaw_encode_table()
_ULAW_DECODE = _ulaw_decode_table()
_ALAW_ENCODE = _alaw_encode_table()
_ALAW_DECODE = _alaw_decode_table()


def ulaw_encode(samples: PCM16) -> bytes:
    return _ULAW_ENCODE[_as_pcm16(samples).view(np.uint16)].tobytes()


def ulaw_decode(data: bytes) -> PCM16:
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def alaw_encode(samples: PCM16) -> bytes:
    return _ALAW_ENCODE[_as_pcm16(samples).view(np.uint16)].tobytes()


def alaw_decode(data: bytes) -> PCM16:
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


# --- conversions ---------------------------------------------------------------------------


def to_pcm16(data: bytes, fmt: AudioFormat) -> PCM16:
    """Decode `data` in `fmt` to a new 1-D int16 array (interleaved if multi-channel)."""
    if len(data) % fmt.frame_width:
        raise ValueError(
            f"{len(data)} bytes is not a whole number of {fmt.frame_width}-byte frames "
            f"for {fmt.encoding} x{fmt.channels}"
        )
    if fmt.encoding == "mulaw":
        return ulaw_decode(data)
    if fmt.encoding == "alaw":
        return alaw_decode(data)
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def from_pcm16(samples: PCM16, fmt: AudioFormat) -> bytes:
    """Encode int16 samples (1-D interleaved, or shaped (frames, channels)) as `fmt` bytes."""
    pcm = _as_pcm16(samples)
    if pcm.size % fmt.channels:
        raise ValueError(f"{pcm.size} samples do not split into {fmt.channels} channels")
    if fmt.encoding == "mulaw":
        return ulaw_encode(pcm)
    if fmt.encoding == "alaw":
        return alaw_encode(pcm)
    return pcm.astype("<i2", copy=False).tobytes()


def resample(pcm16: PCM16, *, src_hz: int, dst_hz: int) -> PCM16:
    """Resample a whole clip: 1-D mono, or shaped (frames, channels).

    For a live stream cut into frames use `StreamResampler`: resampling each frame on its
    own restarts the filter at every edge and clicks.
    """
    pcm = _as_pcm16(pcm16)
    _check_rate(src_hz)
    _check_rate(dst_hz)
    if src_hz == dst_hz:
        return pcm.copy()
    resampled: PCM16 = soxr.resample(pcm, src_hz, dst_hz, quality=_RESAMPLE_QUALITY)
    return resampled


def convert(data: bytes, *, src: AudioFormat, dst: AudioFormat) -> bytes:
    """Re-encode and resample a whole clip from `src` to `dst`; channel counts must match."""
    if src.channels != dst.channels:
        raise ValueError(f"cannot convert {src.channels} channels to {dst.channels}")
    pcm = to_pcm16(data, src)
    if src.sample_rate != dst.sample_rate:
        if src.channels > 1:
            pcm = pcm.reshape(-1, src.channels)
        pcm = resample(pcm, src_hz=src.sample_rate, dst_hz=dst.sample_rate)
    return from_pcm16(pcm, dst)


class StreamResampler:
    """Resamples a stream chunk by chunk with one continuous filter.

    Output lags input by the filter's delay (a few ms); `flush` returns the tail.
    """

    def __init__(self, *, src_hz: int, dst_hz: int, channels: int = 1) -> None:
        _check_rate(src_hz)
        _check_rate(dst_hz)
        self._stream = soxr.ResampleStream(
            src_hz, dst_hz, channels, dtype="int16", quality=_RESAMPLE_QUALITY
        )
        self._channels = channels

    def process(self, pcm16: PCM16) -> PCM16:
        return self._resample(pcm16, last=False)

    def flush(self) -> PCM16:
        """Return the samples still inside the filter; the stream is finished afterwards."""
        empty = np.zeros((0, self._channels) if self._channels > 1 else 0, dtype=np.int16)
        return self._resample(empty, last=True)

    def _resample(self, pcm16: PCM16, *, last: bool) -> PCM16:
        out: PCM16 = self._stream.resample_chunk(_as_pcm16(pcm16), last=last)
        return out


def _as_pcm16(samples: PCM16) -> PCM16:
    # Refuse rather than cast: a float array here means someone skipped a scaling step.
    if samples.dtype != np.int16:
        raise ValueError(f"expected int16 samples, got {samples.dtype}")
    return np.ascontiguousarray(samples)


def _check_rate(hz: int) -> None:
    if hz <= 0:
        raise ValueError(f"sample rate must be positive, got {hz}")


# --- framing -------------------------------------------------------------------------------


class Framer:
    """Buffers audio bytes and hands them out in fixed-size frames.

    Twilio media frames are 20 ms of 8 kHz μ-law (160 bytes); Exotel wants chunks of
    100 ms of 8 kHz PCM16 (1,600 bytes, a multiple of 320). The buffer is bounded:
    a write that would take it past `max_buffered_bytes` raises ValueError and buffers nothing.
    """

    __slots__ = ("_buffer", "_frame_bytes", "_max_buffered_bytes", "_pad_byte")

    def __init__(self, *, frame_bytes: int, max_buffered_bytes: int, pad_byte: int = 0) -> None:
        if frame_bytes <= 0:
            raise ValueError(f"frame_bytes must be positive, got {frame_bytes}")
        if max_buffered_bytes < frame_bytes:
            raise ValueError(
                f"max_buffered_bytes ({max_buffered_bytes}) must hold at least one "
                f"frame ({frame_bytes} bytes)"
            )
        if not 0 <= pad_byte <= 0xFF:
            raise ValueError(f"pad_byte must be a byte value, got {pad_byte}")
        self._frame_bytes = frame_bytes
        self._max_buffered_bytes = max_buffered_bytes
        self._pad_byte = pad_byte
        self._buffer = bytearray()

    @classmethod
    def for_format(cls, fmt: AudioFormat, *, frame_ms: int, max_buffered_ms: int) -> Framer:
        """A framer of `frame_ms` frames in `fmt`, padding with that encoding's silence."""
        return cls(
            frame_bytes=fmt.bytes_for(frame_ms),
            max_buffered_bytes=fmt.bytes_for(max_buffered_ms),
            pad_byte=fmt.silence_byte,
        )

    @property
    def frame_bytes(self) -> int:
        return self._frame_bytes

    @property
    def max_buffered_bytes(self) -> int:
        return self._max_buffered_bytes

    @property
    def buffered(self) -> int:
        """Bytes written and not yet handed out."""
        return len(self._buffer)

    def write(self, data: bytes) -> None:
        if len(self._buffer) + len(data) > self._max_buffered_bytes:
            raise ValueError(
                f"audio buffer full: {len(self._buffer)} buffered + {len(data)} written "
                f"exceeds the {self._max_buffered_bytes}-byte limit"
            )
        self._buffer += data

    def frames(self) -> Iterator[bytes]:
        """Yield every complete frame buffered so far, removing each as it is yielded."""
        while len(self._buffer) >= self._frame_bytes:
            frame = bytes(self._buffer[: self._frame_bytes])
            del self._buffer[: self._frame_bytes]
            yield frame

    def push(self, data: bytes) -> list[bytes]:
        """Write `data` and return the complete frames now available."""
        self.write(data)
        return list(self.frames())

    def flush(self, *, pad: bool) -> list[bytes]:
        """Empty the buffer: every complete frame, then the partial tail, padded to a whole
        frame with the pad byte when `pad` is true and handed out short otherwise."""
        out = list(self.frames())
        if self._buffer:
            tail = bytes(self._buffer)
            self._buffer.clear()
            if pad:
                tail += bytes([self._pad_byte]) * (self._frame_bytes - len(tail))
            out.append(tail)
        return out

    def clear(self) -> None:
        """Drop everything buffered, e.g. when the caller barges in."""
        self._buffer.clear()
