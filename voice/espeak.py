"""eSpeak NG (formant synthesis) as a `TextToSpeech` engine, one `espeak-ng` process a sentence.

The only module that runs the `espeak-ng` binary (GPL-3.0; run as a separate program, never
linked). It needs no model and starts in milliseconds, so it suits tests, CI and a fallback
voice; it sounds robotic next to Piper. Each sentence is an asyncio subprocess, so the event
loop keeps serving calls while it speaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import struct
import subprocess
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from core.errors import StartupError
from voice.tts import AudioChunk, SynthesisError, split_sentences

_WARM_UP_TEXT = "Hello."
_RIFF_HEADER = 12
_CHUNK_HEADER = 8
_PCM_FORMAT = 1
_STDERR_LIMIT = 200  # characters of espeak-ng's complaint kept in an error message


@dataclass(frozen=True, slots=True)
class EspeakOptions:
    """How espeak-ng speaks and how long one sentence may take. eSpeak NG 1.51 ships no
    Indian English voice, hence "en-us"."""

    voice: str = "en-us"
    # espeak-ng's own default: 130 and 160 were no easier for Whisper tiny.en to transcribe
    # (bench/voice_accuracy.py).
    words_per_minute: int = 175
    pitch: int = 50  # 0-99
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not 80 <= self.words_per_minute <= 450:
            raise ValueError(f"words_per_minute must be 80-450, got {self.words_per_minute}")
        if not 0 <= self.pitch <= 99:
            raise ValueError(f"pitch must be 0-99, got {self.pitch}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {self.timeout_s}")


class EspeakTts:
    """Synthesises replies by running `espeak-ng`; build it with `load`."""

    def __init__(self, binary: str, *, options: EspeakOptions, sample_rate: int) -> None:
        self._binary = binary
        self._options = options
        self._sample_rate = sample_rate
        self._running: set[asyncio.subprocess.Process] = set()
        self._sentences_synthesised = 0
        self._closed = False

    @classmethod
    def load(cls, *, options: EspeakOptions | None = None, binary: str = "espeak-ng") -> EspeakTts:
        """Find the binary on PATH and speak one warm-up sentence, which checks the voice and
        reads the sample rate it speaks at; call at start-up."""
        options = options if options is not None else EspeakOptions()
        path = shutil.which(binary)
        if path is None:
            raise StartupError(f"{binary} is not installed (apt-get install espeak-ng)")
        try:
            # Blocking, like every model load: it runs once, at start-up, for milliseconds.
            done = subprocess.run(
                _command(path, options),
                input=_WARM_UP_TEXT.encode(),
                capture_output=True,
                timeout=options.timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise StartupError(f"cannot run {path}: {e}") from e
        if done.returncode != 0:
            raise StartupError(
                f"{path} failed with voice {options.voice!r}: {_complaint(done.stderr)}"
            )
        try:
            pcm16, sample_rate = parse_wav(done.stdout)
        except SynthesisError as e:
            raise StartupError(f"{path} gave unusable audio: {e.detail}") from e
        if not pcm16:
            raise StartupError(f"{path} spoke no audio for the warm-up sentence")
        return cls(path, options=options, sample_rate=sample_rate)

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def sentences_synthesised(self) -> int:
        """Sentences whose process has started since `load`; lets callers and tests see that a
        barge-in stopped the reply."""
        return self._sentences_synthesised

    @property
    def running(self) -> int:
        """espeak-ng processes alive now."""
        return len(self._running)

    async def synthesize(self, text: str) -> AsyncGenerator[AudioChunk, None]:
        """Yield one chunk per sentence, starting the next process only when it is asked for.

        Closing the iterator or cancelling the consuming task starts no further sentence, and
        cancelling mid-sentence kills that sentence's process.
        """
        for index, sentence in enumerate(split_sentences(text)):
            pcm16, sample_rate = await self._synthesize_one(sentence)
            if pcm16:
                yield AudioChunk(
                    pcm16=pcm16,
                    sample_rate=sample_rate,
                    sentence_index=index,
                    text=sentence,
                )

    def close(self) -> None:
        """Kill running processes and refuse further sentences; call at shutdown."""
        self._closed = True
        for process in self._running:
            _kill(process)

    async def _synthesize_one(self, sentence: str) -> tuple[bytes, int]:
        if self._closed:
            raise SynthesisError("the espeak-ng engine is closed")
        self._sentences_synthesised += 1
        try:
            process = await asyncio.create_subprocess_exec(
                *_command(self._binary, self._options),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as e:
            raise SynthesisError(f"cannot run {self._binary}: {e}") from e
        self._running.add(process)
        if self._closed:
            _kill(process)  # `close` ran while this one was being spawned, so it missed it
        try:
            async with asyncio.timeout(self._options.timeout_s):
                # Text goes in on stdin, never argv, so a sentence starting "-" is not an option.
                stdout, stderr = await process.communicate(sentence.encode())
        except TimeoutError as e:
            raise SynthesisError(
                f"espeak-ng took over {self._options.timeout_s} s for one sentence"
            ) from e
        finally:
            # Reached on cancellation and timeout too: a process nobody reads must not live on.
            self._running.discard(process)
            if process.returncode is None:
                _kill(process)
                await process.wait()
        if process.returncode != 0:
            raise SynthesisError(
                f"espeak-ng exited with {process.returncode}: {_complaint(stderr)}"
            )
        return parse_wav(stdout)


def parse_wav(data: bytes) -> tuple[bytes, int]:
    """The PCM16 samples and sample rate of espeak-ng's mono 16-bit WAV.

    With `--stdout` espeak-ng streams, so the RIFF and data sizes in the header are
    placeholders (0x7fffffff); the samples are everything after the data chunk's header.
    """
    if len(data) < _RIFF_HEADER or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SynthesisError("espeak-ng did not write a WAV")
    offset = _RIFF_HEADER
    sample_rate: int | None = None
    while offset + _CHUNK_HEADER <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = offset + _CHUNK_HEADER
        if chunk_id == b"data":
            if sample_rate is None:
                raise SynthesisError("espeak-ng's WAV has no fmt chunk before its data")
            samples = data[body:]
            return samples[: len(samples) - len(samples) % 2], sample_rate
        if chunk_id == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if (fmt, channels, bits) != (_PCM_FORMAT, 1, 16):
                raise SynthesisError(
                    f"espeak-ng wrote format {fmt}, {channels} channels, {bits} bits; "
                    "expected mono 16-bit PCM"
                )
            sample_rate = int(rate)
        offset = body + size + size % 2  # RIFF pads odd-sized chunks to an even length
    raise SynthesisError("espeak-ng's WAV has no data chunk")


def _command(binary: str, options: EspeakOptions) -> list[str]:
    return [
        binary,
        "--stdin",
        "--stdout",
        "-b",
        "1",  # input is UTF-8 ("₹", "Thiruvananthapuram" typed with diacritics)
        "-v",
        options.voice,
        "-s",
        str(options.words_per_minute),
        "-p",
        str(options.pitch),
    ]


def _kill(process: asyncio.subprocess.Process) -> None:
    # It may have exited between the caller's check and the kill.
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def _complaint(stderr: bytes) -> str:
    return stderr.decode(errors="replace").strip()[:_STDERR_LIMIT] or "no message"
