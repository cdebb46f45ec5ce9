"""The speech engines every call in a process shares, loaded once at start-up, and the one
decode scheduler all their decodes go through."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

import numpy as np

from voice.audio import PCM16
from voice.normalise import normalise
from voice.places import Heard, SpokenPlaces
from voice.scheduler import CapacityConfig, DecodeScheduler
from voice.stt import Rewrites, SpeechToText, Transcript
from voice.tts import TextToSpeech
from voice.turns import TurnDetector
from voice.vad import VoiceActivityDetector


@runtime_checkable
class Closeable(Protocol):
    """An engine that holds threads or processes until it is closed."""

    def close(self) -> None: ...


class VoiceEngines:
    """The models every call shares and the process's decode scheduler (`scheduler`):
    `decode_slots` should match the STT engine's decode threads."""

    def __init__(
        self,
        *,
        stt: SpeechToText,
        new_vad: Callable[[], VoiceActivityDetector],
        tts: TextToSpeech,
        normalise: Callable[[str], str] = normalise,
        places: SpokenPlaces | None = None,
        turn_detector: TurnDetector | None = None,
        vad_threads: int = 2,
        decode_slots: int = 1,
        capacity: CapacityConfig | None = None,
    ) -> None:
        self.stt = stt
        self.tts = tts
        # Spoken forms -> the text the turn engine reads (dates, counts, misheard city names).
        self.normalise = normalise
        # With `places`, final decodes score the directory's readings of each place (and the
        # prompt follows the slot the dialogue expects); `read` turns a transcript into text.
        self.places = places
        # Asked at a short pause whether the caller has finished (None: the text rule only).
        self.turn_detector = turn_detector
        self.scheduler = DecodeScheduler(slots=decode_slots, capacity=capacity)
        self._new_vad = new_vad
        self._vad_executor = ThreadPoolExecutor(max_workers=vad_threads, thread_name_prefix="vad")
        self.closed = False

    def new_vad(self) -> VoiceActivityDetector:
        return self._new_vad()

    async def speech_probabilities(
        self, vad: VoiceActivityDetector, frames: np.ndarray[Any, np.dtype[np.int16]]
    ) -> list[float]:
        """Run `vad` over rows of `frames` (each VAD_FRAME_SAMPLES long) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._vad_executor, lambda: [vad.speech_probability(f) for f in frames]
        )

    async def turn_complete(self, pcm16_16k: PCM16) -> float:
        """The end-of-turn model's probability that the caller has finished (on the VAD
        threads, which are idle most of the time); 1.0 without a model."""
        detector = self.turn_detector
        if detector is None:
            return 1.0
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._vad_executor, detector.complete_probability, pcm16_16k
        )

    async def transcribe(
        self,
        pcm16_16k: PCM16,
        *,
        prompt: str | None = None,
        rewrites: Rewrites | None = None,
        call_id: int = 0,
    ) -> Transcript:
        """Decode a clip through the scheduler with a final's priority; `call_id` names the
        call in the scheduler's records (0: none)."""
        stt = self.stt
        if rewrites is None:
            return await self.scheduler.final(
                lambda: stt.transcribe(pcm16_16k, prompt=prompt), call_id=call_id
            )
        return await self.scheduler.final(
            lambda: stt.transcribe(pcm16_16k, prompt=prompt, rewrites=rewrites), call_id=call_id
        )

    def read(self, transcript: Transcript) -> Heard:
        """The text the turn engine reads, and the places in it to confirm first."""
        if self.places is None:
            return Heard(self.normalise(transcript.text).strip())
        heard = self.places.read(transcript)
        return Heard(heard.text.strip(), heard.doubts)

    def close(self) -> None:
        """Stop the VAD threads and close the engines that hold resources (the decode and
        synthesis threads, espeak-ng's processes); the Silero model holds none. Every engine
        is closed even if one fails (its error is raised after); a second call does nothing."""
        if self.closed:
            return
        self.closed = True
        with contextlib.ExitStack() as stack:
            for engine in (self.tts, self.stt, self.turn_detector):
                if isinstance(engine, Closeable):
                    stack.callback(engine.close)
            stack.callback(self._vad_executor.shutdown, wait=True, cancel_futures=True)
