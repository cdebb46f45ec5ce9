"""Whisper-style log-mel features (80 mels, 8 s at 16 kHz -> 80 x 800), in numpy only, for the
Smart Turn model. Ported from pipecat's `_whisper_features.py` (BSD-2-Clause, Daily), which
follows Hugging Face Transformers' `WhisperFeatureExtractor` (Apache-2.0); see
voice/assets/SMART_TURN_LICENSE.txt."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SAMPLE_RATE = 16_000
WINDOW_SAMPLES = 8 * SAMPLE_RATE
_N_FFT = 400
_HOP = 160
_N_MELS = 80
_MEL_FLOOR = 1e-10
_VARIANCE_EPS = 1e-7

F64 = np.ndarray[Any, np.dtype[np.float64]]
F32 = np.ndarray[Any, np.dtype[np.float32]]


def _hz_to_mel(hz: F64) -> F64:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    mels = 3.0 * hz / 200.0
    log = hz >= 1000.0
    mels[log] = 15.0 + np.log(hz[log] / 1000.0) * (27.0 / np.log(6.4))
    return mels


def _mel_to_hz(mels: F64) -> F64:
    hz = 200.0 * mels / 3.0
    log = mels >= 15.0
    hz[log] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mels[log] - 15.0))
    return hz


def _filterbank() -> F64:
    """(fft bins, mels) Slaney-normalised triangular filters over 0..8 kHz."""
    edges = _hz_to_mel(np.array([0.0, SAMPLE_RATE / 2], dtype=np.float64))
    freqs = _mel_to_hz(np.linspace(edges[0], edges[1], _N_MELS + 2))
    fft_freqs = np.linspace(0, SAMPLE_RATE // 2, _N_FFT // 2 + 1)
    diff = np.diff(freqs)
    slopes = freqs[None, :] - fft_freqs[:, None]
    down = -slopes[:, :-2] / diff[:-1]
    up = slopes[:, 2:] / diff[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    filters *= (2.0 / (freqs[2 : _N_MELS + 2] - freqs[:_N_MELS]))[None, :]
    return filters


_FILTERS = _filterbank()
_HANN = np.hanning(_N_FFT + 1)[:-1]  # periodic, as torch.hann_window


def last_window(audio: F32) -> F32:
    """The last 8 s of `audio`, zero-padded at the front when shorter."""
    tail = audio[-WINDOW_SAMPLES:]
    return np.pad(tail, (WINDOW_SAMPLES - len(tail), 0)) if len(tail) < WINDOW_SAMPLES else tail


def log_mel(audio: F32) -> F32:
    """Features of exactly WINDOW_SAMPLES of float audio in [-1, 1]: shape (80, 800)."""
    x = audio.astype(np.float32)
    x = (x - x.mean()) / np.sqrt(x.var() + _VARIANCE_EPS)
    pad = _N_FFT // 2
    padded = np.pad(x.astype(np.float64), (pad, pad), mode="reflect")
    frames = sliding_window_view(padded, _N_FFT)[::_HOP]
    power = np.abs(np.fft.rfft(frames * _HANN, axis=-1)) ** 2
    mel = np.log10(np.maximum(_MEL_FLOOR, _FILTERS.T @ power.T))[:, :-1]
    mel = np.maximum(mel, mel.max() - 8.0)
    features: F32 = ((mel + 4.0) / 4.0).astype(np.float32)
    return features
