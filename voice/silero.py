"""Silero VAD (v6), the ONNX model faster-whisper ships in its package: no download, CPU only.

One `SileroVad` holds the loaded session and is shared by every call; `new_stream()` gives each
audio stream its own recurrent state. ONNX Runtime sessions accept concurrent `run` calls, so
streams on different worker threads need no lock.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from faster_whisper.vad import get_vad_model  # type: ignore[import-untyped]

from core.errors import StartupError
from voice.vad import VAD_FRAME_SAMPLES

# The model sees the last 64 samples of the previous frame ahead of each 512-sample frame,
# as faster_whisper.vad.SileroVADModel.__call__ feeds it.
_CONTEXT_SAMPLES = 64
_STATE_SHAPE = (1, 1, 128)
_INT16_SCALE = 1.0 / 32768.0


class SileroVad:
    """The loaded Silero model; load once at start-up and call `new_stream()` per call."""

    __slots__ = ("_session",)

    def __init__(self, session: Any) -> None:
        self._session = session

    @classmethod
    def load(cls) -> SileroVad:
        """Load the model (a few ms); StartupError if faster-whisper's copy cannot be opened."""
        try:
            model = get_vad_model()
        except Exception as e:  # onnxruntime raises its own untyped errors
            raise StartupError(f"cannot load the Silero VAD model: {e}") from e
        return cls(model.session)

    def new_stream(self) -> SileroStream:
        return SileroStream(self._session)


class SileroStream:
    """One audio stream's detector: carries the LSTM state and the 64-sample context from
    frame to frame. Not safe to share between streams or threads."""

    __slots__ = ("_c", "_context", "_h", "_session")

    def __init__(self, session: Any) -> None:
        self._session = session
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(_CONTEXT_SAMPLES, dtype=np.float32)

    def speech_probability(self, frame: npt.NDArray[np.int16]) -> float:
        """Probability that `frame` (512 samples of 16 kHz PCM16) is speech."""
        if frame.dtype != np.int16 or frame.shape != (VAD_FRAME_SAMPLES,):
            raise ValueError(
                f"expected {VAD_FRAME_SAMPLES} int16 samples, got {frame.dtype} {frame.shape}"
            )
        samples = frame.astype(np.float32) * _INT16_SCALE
        model_input = np.concatenate([self._context, samples])[np.newaxis, :]
        probs, self._h, self._c = self._session.run(
            None, {"input": model_input, "h": self._h, "c": self._c}
        )
        self._context = samples[-_CONTEXT_SAMPLES:]
        return float(probs[0])

    def reset(self) -> None:
        """Start over as if on a fresh stream."""
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(_CONTEXT_SAMPLES, dtype=np.float32)
