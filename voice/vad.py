"""Voice activity detection: the detector port and the endpointer that turns per-frame speech
probabilities into "the caller started talking" and "the caller has finished" events.

Detectors take 512-sample frames of 16 kHz PCM16 (32 ms), Silero's native frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

VAD_SAMPLE_RATE = 16_000
VAD_FRAME_SAMPLES = 512
VAD_FRAME_MS = VAD_FRAME_SAMPLES * 1000 // VAD_SAMPLE_RATE  # 32

# Once speaking, a frame counts as silence only below threshold - this (Silero's own
# hysteresis), so a probability hovering at the threshold does not open a pause.
_HYSTERESIS = 0.15
# Adaptation (see Endpointer): the window aims this far beyond the speaker's longest pause,
# and moves this fraction of the way toward that aim after each utterance.
_PAUSE_MARGIN_MS = 300
_ADAPT_RATE = 0.5

EndpointReason: TypeAlias = Literal["silence", "max_length", "complete"]


class VoiceActivityDetector(Protocol):
    """Speech probability of one audio stream, frame by frame.

    Stateful (the model carries context between frames), so one instance per stream; the
    call is CPU-bound and synchronous, meant to run on a worker thread.
    """

    def speech_probability(self, frame: npt.NDArray[np.int16]) -> float:
        """Probability in [0, 1] that `frame` (VAD_FRAME_SAMPLES samples at 16 kHz) is speech."""
        ...


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """When an utterance starts and ends, in milliseconds of audio.

    `silence_ms` is the starting trailing-silence window; with `adaptive` it moves per
    speaker within [`min_silence_ms`, `max_silence_ms`].
    """

    silence_ms: int = 500
    min_speech_ms: int = 200
    max_utterance_ms: int = 15_000
    threshold: float = 0.5
    adaptive: bool = True
    min_silence_ms: int = 300
    max_silence_ms: int = 800

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if self.min_speech_ms < 0:
            raise ValueError(f"min_speech_ms must not be negative, got {self.min_speech_ms}")
        if not 0 < self.min_silence_ms <= self.silence_ms <= self.max_silence_ms:
            raise ValueError(
                "need 0 < min_silence_ms <= silence_ms <= max_silence_ms, got "
                f"{self.min_silence_ms}, {self.silence_ms}, {self.max_silence_ms}"
            )
        if self.max_utterance_ms <= self.min_speech_ms:
            raise ValueError(
                f"max_utterance_ms ({self.max_utterance_ms}) must exceed "
                f"min_speech_ms ({self.min_speech_ms})"
            )


class EndpointerState(StrEnum):
    IDLE = "idle"
    SPEAKING = "speaking"
    TRAILING_SILENCE = "trailing_silence"
    # Held only until the next frame, which is then handled as if idle.
    ENDPOINT = "endpoint"


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech began at `at_ms` (stream time); emitted once `min_speech_ms` of it has arrived."""

    at_ms: int


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The utterance is over: decided at `at_ms`, the last speech ended at `speech_end_ms`."""

    at_ms: int
    reason: EndpointReason
    speech_end_ms: int

    @property
    def decision_ms(self) -> int:
        """How long after the caller stopped talking the endpoint was called."""
        return self.at_ms - self.speech_end_ms


EndpointEvent: TypeAlias = SpeechStarted | Endpoint


class Endpointer:
    """A pure state machine over per-frame speech probabilities: idle -> speaking ->
    trailing_silence -> endpoint, back to speaking if speech resumes within the window.

    Times are stream milliseconds: the sum of the `frame_ms` pushed so far; a frame pushed
    at time t covers [t, t + frame_ms), and an event decided on it carries at_ms = t + frame_ms.

    Adaptation (when `config.adaptive`): after each utterance that ends on silence, take the
    longest pause the speaker made inside it and resumed from (0 if none). The window moves
    halfway toward that pause + 300 ms, clamped to [min_silence_ms, max_silence_ms]. A caller
    who pauses mid-sentence for 450 ms pushes the window toward 750-800 ms; one who never
    pauses pulls it toward 300 ms. Utterances cut at max length teach nothing.
    """

    __slots__ = (
        "_candidate_ms",
        "_candidate_start_ms",
        "_config",
        "_hold_ms",
        "_last_decision_ms",
        "_longest_pause_ms",
        "_now_ms",
        "_silence_window_ms",
        "_speech_end_ms",
        "_speech_start_ms",
        "_state",
    )

    def __init__(self, config: EndpointConfig | None = None) -> None:
        self._config = config or EndpointConfig()
        self._silence_window_ms = float(self._config.silence_ms)
        self._now_ms = 0
        self._last_decision_ms: int | None = None
        self._state = EndpointerState.IDLE
        self._candidate_start_ms = 0
        self._candidate_ms = 0
        self._speech_start_ms = 0
        self._speech_end_ms = 0
        self._longest_pause_ms = 0
        self._hold_ms = 0

    @property
    def config(self) -> EndpointConfig:
        return self._config

    @property
    def state(self) -> EndpointerState:
        return self._state

    @property
    def now_ms(self) -> int:
        """Stream time: the end of the last frame pushed."""
        return self._now_ms

    @property
    def silence_window_ms(self) -> int:
        """Trailing silence that currently ends an utterance."""
        return round(self._silence_window_ms)

    @property
    def last_decision_ms(self) -> int | None:
        """`decision_ms` of the most recent endpoint, None before the first one."""
        return self._last_decision_ms

    @property
    def trailing_silence_ms(self) -> int:
        """Silence since the caller stopped talking, while an utterance is open; else 0."""
        if self._state is not EndpointerState.TRAILING_SILENCE:
            return 0
        return self._now_ms - self._speech_end_ms

    def end_now(self) -> Endpoint:
        """End the utterance in trailing silence now: the caller's words already look like a
        complete turn (the caller decides that; see voice.call). Teaches the window nothing."""
        if self._state is not EndpointerState.TRAILING_SILENCE:
            raise ValueError(f"no utterance in trailing silence (state {self._state})")
        return self._endpoint(
            at_ms=self._now_ms, reason="complete", speech_end_ms=self._speech_end_ms
        )

    def hold(self, window_ms: int) -> None:
        """Let the current pause run to `window_ms` of silence before it ends the utterance
        (the caller has been judged mid-sentence); speech resuming or an endpoint clears it."""
        if self._state is not EndpointerState.TRAILING_SILENCE:
            raise ValueError(f"no utterance in trailing silence (state {self._state})")
        self._hold_ms = max(self._hold_ms, window_ms)

    def reset(self) -> None:
        """Forget the utterance in progress (e.g. the caller barged in on a prompt); keep the
        clock and what was learned about the speaker."""
        self._state = EndpointerState.IDLE
        self._candidate_ms = 0

    def push(self, probability: float, frame_ms: int) -> EndpointEvent | None:
        """Feed one frame's speech probability; return the event it triggers, if any."""
        if frame_ms <= 0:
            raise ValueError(f"frame_ms must be positive, got {frame_ms}")
        start = self._now_ms
        end = self._now_ms = start + frame_ms
        cfg = self._config
        if self._state is EndpointerState.ENDPOINT:
            self._state = EndpointerState.IDLE

        if self._state is EndpointerState.IDLE:
            if probability < cfg.threshold:
                self._candidate_ms = 0
                return None
            if self._candidate_ms == 0:
                self._candidate_start_ms = start
            self._candidate_ms += frame_ms
            if self._candidate_ms < cfg.min_speech_ms:
                return None
            self._candidate_ms = 0
            self._state = EndpointerState.SPEAKING
            self._speech_start_ms = self._candidate_start_ms
            self._longest_pause_ms = 0
            return SpeechStarted(at_ms=self._speech_start_ms)

        if self._state is EndpointerState.SPEAKING:
            if probability < cfg.threshold - _HYSTERESIS:
                self._state = EndpointerState.TRAILING_SILENCE
                self._speech_end_ms = start
        elif probability >= cfg.threshold:  # trailing silence, and speech resumed
            self._longest_pause_ms = max(self._longest_pause_ms, start - self._speech_end_ms)
            self._state = EndpointerState.SPEAKING
            self._hold_ms = 0

        if self._state is EndpointerState.TRAILING_SILENCE:
            if end - self._speech_end_ms >= max(self._silence_window_ms, self._hold_ms):
                self._adapt()
                return self._endpoint(
                    at_ms=end, reason="silence", speech_end_ms=self._speech_end_ms
                )
            if end - self._speech_start_ms >= cfg.max_utterance_ms:
                return self._endpoint(
                    at_ms=end, reason="max_length", speech_end_ms=self._speech_end_ms
                )
        elif end - self._speech_start_ms >= cfg.max_utterance_ms:
            return self._endpoint(at_ms=end, reason="max_length", speech_end_ms=end)
        return None

    def _endpoint(self, *, at_ms: int, reason: EndpointReason, speech_end_ms: int) -> Endpoint:
        self._state = EndpointerState.ENDPOINT
        self._hold_ms = 0
        event = Endpoint(at_ms=at_ms, reason=reason, speech_end_ms=speech_end_ms)
        self._last_decision_ms = event.decision_ms
        return event

    def _adapt(self) -> None:
        cfg = self._config
        if not cfg.adaptive:
            return
        target = self._longest_pause_ms + _PAUSE_MARGIN_MS
        window = self._silence_window_ms + _ADAPT_RATE * (target - self._silence_window_ms)
        self._silence_window_ms = min(max(window, cfg.min_silence_ms), cfg.max_silence_ms)
