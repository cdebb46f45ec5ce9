"""One caller's spoken conversation, whatever the transport.

Audio in (16 kHz PCM16) -> Silero VAD per 32 ms frame -> the endpointer -> partial transcripts
while the caller speaks (LocalAgreement commits the stable words) -> a final transcript ->
the turn -> the reply spoken sentence by sentence. Speech while the reply plays is a barge-in:
synthesis stops, the far end is told to drop queued audio, and the new utterance goes through.

Whisper decodes a fixed 30 s window, so a decode costs about the same for 1 s of audio as for
10 s. The final decode therefore starts speculatively the moment trailing silence begins and
is usually done by the time the endpointer calls the end of the turn; partial decodes only use
decode capacity no final is waiting for.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from core.errors import YatriError
from core.logging import get_logger
from core.telemetry import VOICE_BARGE_INS, VOICE_RTF, VOICE_STAGE_SECONDS
from voice.audio import PCM16
from voice.normalise import normalise
from voice.places import Heard, SpokenPlaces
from voice.stt import (
    SAMPLE_RATE,
    LocalAgreement,
    Rewrites,
    SpeechToText,
    Transcript,
    TranscriptionError,
)
from voice.tts import AudioChunk, TextToSpeech, lead_and_rest, speakable
from voice.vad import (
    VAD_FRAME_MS,
    VAD_FRAME_SAMPLES,
    Endpoint,
    EndpointConfig,
    Endpointer,
    EndpointerState,
    SpeechStarted,
    VoiceActivityDetector,
)

log = get_logger(__name__)

# Whisper cuts a last word that runs into the end of its input; a little silence fixes that
# and costs nothing (the window is padded to 30 s anyway).
_DECODE_TAIL_SAMPLES = SAMPLE_RATE // 5


@dataclass(frozen=True, slots=True)
class SpokenReply:
    """What the turn engine answered: the text to speak and data for screens that show it."""

    text: str
    data: Mapping[str, Any] = field(default_factory=dict)


class TurnHandler(Protocol):
    """Final transcript in, reply out: the api layer binds it to the turn engine and a session.
    `unsure` (given only when there are some) maps each city written with doubt, lower case,
    to the words heard for it, for the dialogue to read back before searching."""

    def __call__(self, text: str, *, unsure: Mapping[str, str] = ...) -> Awaitable[SpokenReply]: ...


@dataclass(frozen=True, slots=True)
class CallConfig:
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    # Audio kept from before speech is detected, so the first syllable is not clipped.
    preroll_ms: int = 300
    # New audio between partial decodes while the caller speaks.
    partial_interval_ms: int = 700
    transport: str = "app"
    # With a finished speculative decode that reads as a complete sentence, this much trailing
    # silence ends the turn; None waits for the full silence window every time.
    early_endpoint_ms: int | None = 200
    # False is the naive baseline benchmarks compare against: no partials, one decode after
    # the endpoint, and the reply sent only once all of it is synthesised.
    streaming: bool = True


@dataclass(slots=True)
class TurnMetrics:
    """One turn's timings in seconds (wall clock, except the endpoint decision: stream time)."""

    transcript: str
    reason: str
    endpoint_decision_s: float
    endpoint_to_final_s: float
    audio_s: float
    decode_s: float
    final_to_reply_s: float | None = None
    reply_to_first_audio_s: float | None = None

    @property
    def speech_end_to_final_s(self) -> float:
        return self.endpoint_decision_s + self.endpoint_to_final_s

    @property
    def speech_end_to_first_audio_s(self) -> float | None:
        if self.final_to_reply_s is None or self.reply_to_first_audio_s is None:
            return None
        return self.speech_end_to_final_s + self.final_to_reply_s + self.reply_to_first_audio_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint_decision_ms": _ms(self.endpoint_decision_s),
            "endpoint_to_final_ms": _ms(self.endpoint_to_final_s),
            "speech_end_to_final_ms": _ms(self.speech_end_to_final_s),
            "final_to_reply_ms": _ms(self.final_to_reply_s),
            "reply_to_first_audio_ms": _ms(self.reply_to_first_audio_s),
            "audio_ms": _ms(self.audio_s),
            "decode_ms": _ms(self.decode_s),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


class CallOutput(Protocol):
    """What a transport does with the call's events; each call returns once the event is sent."""

    async def speech_started(self) -> None: ...

    async def partial(self, *, text: str, committed: str) -> None: ...

    async def final(self, *, text: str, metrics: TurnMetrics) -> None: ...

    async def reply(self, reply: SpokenReply) -> None: ...

    async def audio(self, chunk: AudioChunk) -> None: ...

    async def reply_done(self, *, metrics: TurnMetrics) -> None: ...

    async def clear(self) -> None:
        """Make the far end drop audio it has queued but not played."""
        ...

    async def error(self, *, code: str, detail: str) -> None: ...

    def playing(self) -> bool:
        """Whether audio sent is still playing at the far end (as far as the transport knows)."""
        ...


@runtime_checkable
class Closeable(Protocol):
    """An engine that holds threads or processes until it is closed."""

    def close(self) -> None: ...


class VoiceEngines:
    """The models every call shares, loaded once at start-up, and the count of decodes in
    flight that decides whether a call may spend decode capacity on a partial."""

    def __init__(
        self,
        *,
        stt: SpeechToText,
        new_vad: Callable[[], VoiceActivityDetector],
        tts: TextToSpeech,
        normalise: Callable[[str], str] = normalise,
        places: SpokenPlaces | None = None,
        vad_threads: int = 2,
    ) -> None:
        self.stt = stt
        self.tts = tts
        # Spoken forms -> the text the turn engine reads (dates, counts, misheard city names).
        self.normalise = normalise
        # With `places`, final decodes score the directory's readings of each place (and the
        # prompt follows the slot the dialogue expects); `read` turns a transcript into text.
        self.places = places
        self._new_vad = new_vad
        self._vad_executor = ThreadPoolExecutor(max_workers=vad_threads, thread_name_prefix="vad")
        self.decoding = 0
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

    async def transcribe(
        self, pcm16_16k: PCM16, *, prompt: str | None = None, rewrites: Rewrites | None = None
    ) -> Transcript:
        self.decoding += 1
        try:
            if rewrites is None:
                return await self.stt.transcribe(pcm16_16k, prompt=prompt)
            return await self.stt.transcribe(pcm16_16k, prompt=prompt, rewrites=rewrites)
        finally:
            self.decoding -= 1

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
            for engine in (self.tts, self.stt):
                if isinstance(engine, Closeable):
                    stack.callback(engine.close)
            stack.callback(self._vad_executor.shutdown, wait=True, cancel_futures=True)


class VoiceCall:
    """The pipeline for one stream. The transport calls `feed` with audio in order, `interrupt`
    on an explicit request to stop speaking, and `close` when the stream ends."""

    def __init__(
        self,
        *,
        engines: VoiceEngines,
        turn: TurnHandler,
        output: CallOutput,
        config: CallConfig | None = None,
    ) -> None:
        self._engines = engines
        self._turn = turn
        self._out = output
        self._config = config or CallConfig()
        self._vad = engines.new_vad()
        self._endpointer = Endpointer(self._config.endpoint)
        self._pending = np.empty(0, dtype=np.int16)
        preroll_frames = (self._config.endpoint.min_speech_ms + self._config.preroll_ms) // (
            VAD_FRAME_MS
        )
        self._preroll: deque[PCM16] = deque(maxlen=max(1, preroll_frames))
        self._utterance: list[PCM16] | None = None
        self._utterance_id = 0
        self._agreement = LocalAgreement()
        self._samples_at_last_partial = 0
        self._partial_task: asyncio.Task[None] | None = None
        self._speculative: asyncio.Task[Transcript] | None = None
        self._turn_lock = asyncio.Lock()
        self._turn_tasks: set[asyncio.Task[None]] = set()
        self._speak_task: asyncio.Task[None] | None = None
        self._turns_started = 0
        self._interrupted_through = 0
        self._closed = False
        self.turns: list[TurnMetrics] = []
        self.barge_ins = 0
        self._heard_at = time.monotonic()
        self._expecting: str | None = None  # what the dialogue asked for last (its `expecting`)

    @property
    def closed(self) -> bool:
        return self._closed

    def speaking(self) -> bool:
        """Synthesising or playing a reply."""
        task = self._speak_task
        return (task is not None and not task.done()) or self._out.playing()

    def last_heard(self) -> float:
        """`time.monotonic()` when the caller was last heard (a turn with words) or a reply
        was last seen playing."""
        if self.speaking():
            self._heard_at = time.monotonic()
        return self._heard_at

    def busy(self) -> bool:
        """Hearing an utterance, answering one, or speaking a reply."""
        return self._utterance is not None or bool(self._turn_tasks) or self.speaking()

    async def feed(self, pcm16_16k: PCM16) -> None:
        """Take the next stretch of caller audio (any length, 16 kHz mono PCM16)."""
        if self._closed:
            return
        samples = np.concatenate([self._pending, pcm16_16k]) if self._pending.size else pcm16_16k
        whole = len(samples) - len(samples) % VAD_FRAME_SAMPLES
        self._pending = samples[whole:].copy()
        if not whole:
            return
        frames = samples[:whole].reshape(-1, VAD_FRAME_SAMPLES)
        probabilities = await self._engines.speech_probabilities(self._vad, frames)
        for frame, probability in zip(frames, probabilities, strict=True):
            await self._on_frame(frame, probability)

    async def interrupt(self) -> None:
        """Stop speaking now, as if the caller had barged in."""
        await self._barge_in()

    async def close(self, *, grace_s: float = 10.0) -> None:
        """End the call: an utterance in progress is dropped; a turn already heard completes
        (its reply is not spoken) so the conversation is saved whole."""
        if self._closed:
            return
        self._closed = True
        self._utterance = None
        for task in (self._partial_task, self._speculative, self._speak_task):
            if task is not None:
                task.cancel()
        if self._turn_tasks:
            _, late = await asyncio.wait(self._turn_tasks, timeout=grace_s)
            for task in late:
                task.cancel()

    # --- audio, frame by frame ---------------------------------------------------------------

    async def _on_frame(self, frame: PCM16, probability: float) -> None:
        before = self._endpointer.state
        event = self._endpointer.push(probability, VAD_FRAME_MS)
        after = self._endpointer.state
        if self._utterance is None:
            self._preroll.append(frame)
        else:
            self._utterance.append(frame)

        if isinstance(event, SpeechStarted):
            await self._start_utterance()
        elif isinstance(event, Endpoint):
            self._end_utterance(event)
        elif not self._config.streaming:
            pass
        elif before is EndpointerState.SPEAKING and after is EndpointerState.TRAILING_SILENCE:
            self._speculative = asyncio.create_task(
                self._decode(self._utterance_audio(), final=True)
            )
        elif before is EndpointerState.TRAILING_SILENCE and after is EndpointerState.SPEAKING:
            self._drop_speculative()

        if after is EndpointerState.SPEAKING and self._config.streaming:
            self._maybe_partial()
        elif after is EndpointerState.TRAILING_SILENCE and self._heard_complete_turn():
            self._end_utterance(self._endpointer.end_now())

    async def _start_utterance(self) -> None:
        self._utterance = list(self._preroll)
        self._preroll.clear()
        self._utterance_id += 1
        self._agreement = LocalAgreement()
        self._samples_at_last_partial = 0
        if self.speaking():
            await self._barge_in()
        await self._out.speech_started()

    def _end_utterance(self, endpoint: Endpoint) -> None:
        audio = self._utterance_audio()
        self._utterance = None
        self._utterance_id += 1
        # A speculative decode exists only while the trailing silence it began with lasts,
        # so it covers all the speech; an utterance cut mid-speech needs a decode of its own.
        decode = self._speculative
        self._speculative = None
        if decode is None:
            decode = asyncio.create_task(self._decode(audio, final=True))
        self._turns_started += 1
        task = asyncio.create_task(
            self._finish_turn(
                turn_no=self._turns_started,
                decode=decode,
                endpoint=endpoint,
                endpoint_at=time.perf_counter(),
            )
        )
        self._turn_tasks.add(task)
        task.add_done_callback(self._turn_tasks.discard)

    def _heard_complete_turn(self) -> bool:
        early = self._config.early_endpoint_ms
        task = self._speculative
        if early is None or task is None or not task.done() or task.cancelled():
            return False
        if self._endpointer.trailing_silence_ms < early or task.exception() is not None:
            return False
        return looks_complete(task.result().text)

    def _utterance_audio(self) -> PCM16:
        frames = self._utterance or []
        return np.concatenate(frames) if frames else np.empty(0, dtype=np.int16)

    def _drop_speculative(self) -> None:
        if self._speculative is not None:
            self._speculative.cancel()
            self._speculative = None

    # --- recognition -------------------------------------------------------------------------

    async def _decode(self, audio: PCM16, *, final: bool = False) -> Transcript:
        padded = np.concatenate([audio, np.zeros(_DECODE_TAIL_SAMPLES, dtype=np.int16)])
        places = self._engines.places
        if places is None:
            transcript = await self._engines.transcribe(padded)
        else:
            # Partials only show progress; the final decode checks the places it heard.
            transcript = await self._engines.transcribe(
                padded,
                prompt=places.prompt(self._expecting),
                rewrites=places.rewrites if final else None,
            )
        VOICE_RTF.observe(transcript.real_time_factor)
        return transcript

    def _maybe_partial(self) -> None:
        if self._utterance is None or self._engines.decoding:
            return
        if self._partial_task is not None and not self._partial_task.done():
            return
        samples = len(self._utterance) * VAD_FRAME_SAMPLES
        interval = self._config.partial_interval_ms * SAMPLE_RATE // 1000
        if samples - self._samples_at_last_partial < interval:
            return
        self._samples_at_last_partial = samples
        self._partial_task = asyncio.create_task(
            self._partial(self._utterance_audio(), self._utterance_id)
        )

    async def _partial(self, audio: PCM16, utterance_id: int) -> None:
        try:
            transcript = await self._decode(audio)
        except TranscriptionError:
            return  # a partial is a courtesy; the final decode reports failures
        if utterance_id != self._utterance_id or self._closed:
            return
        self._agreement.update(transcript.words)
        committed = " ".join(w.text for w in self._agreement.committed)
        tentative = " ".join(w.text for w in self._agreement.tentative)
        await self._out.partial(text=f"{committed} {tentative}".strip(), committed=committed)

    # --- the turn and the reply --------------------------------------------------------------

    async def _finish_turn(
        self,
        *,
        turn_no: int,
        decode: asyncio.Task[Transcript],
        endpoint: Endpoint,
        endpoint_at: float,
    ) -> None:
        try:
            transcript = await decode
        except TranscriptionError as e:
            await self._out.error(code=e.problem_type, detail=e.detail)
            return
        final_at = time.perf_counter()
        heard = self._engines.read(transcript)
        metrics = TurnMetrics(
            transcript=heard.text,
            reason=endpoint.reason,
            endpoint_decision_s=endpoint.decision_ms / 1000,
            endpoint_to_final_s=final_at - endpoint_at,
            audio_s=transcript.audio_s,
            decode_s=transcript.decode_s,
        )
        if not metrics.transcript:
            return  # a cough or a door: nothing to answer
        self._heard_at = time.monotonic()
        transport = self._config.transport
        VOICE_STAGE_SECONDS.labels("endpoint_decision", transport).observe(
            metrics.endpoint_decision_s
        )
        VOICE_STAGE_SECONDS.labels("endpoint_to_final", transport).observe(
            metrics.endpoint_to_final_s
        )
        # Turns answer in the order they were heard, one at a time.
        async with self._turn_lock:
            if self._closed:
                # The caller hung up after speaking: still answer, so the conversation is whole.
                with contextlib.suppress(YatriError):
                    await self._answer(heard)
                return
            await self._out.final(text=metrics.transcript, metrics=metrics)
            try:
                reply = await self._answer(heard)
            except YatriError as e:
                await self._out.error(code=e.problem_type, detail=e.detail)
                return
            reply_at = time.perf_counter()
            metrics.final_to_reply_s = reply_at - final_at
            VOICE_STAGE_SECONDS.labels("final_to_reply", transport).observe(
                metrics.final_to_reply_s
            )
            await self._out.reply(reply)
            self.turns.append(metrics)
            if turn_no <= self._interrupted_through or self._closed:
                return  # the caller spoke over this turn before its reply was ready
            self._speak_task = asyncio.create_task(self._speak(reply.text, reply_at, metrics))
            await asyncio.wait([self._speak_task])

    async def _answer(self, heard: Heard) -> SpokenReply:
        unsure = heard.unsure()
        reply = await (self._turn(heard.text, unsure=unsure) if unsure else self._turn(heard.text))
        data = reply.data.get("data")
        expecting = data.get("expecting") if isinstance(data, Mapping) else None
        self._expecting = expecting if isinstance(expecting, str) else None
        return reply

    async def _speak(self, text: str, reply_at: float, metrics: TurnMetrics) -> None:
        spoken = speakable(text)
        index = 0
        for part in lead_and_rest(spoken) if self._config.streaming else [spoken]:
            async with contextlib.aclosing(self._engines.tts.synthesize(part)) as synthesised:
                chunks = synthesised
                if not self._config.streaming:
                    chunks = _all_at_once([chunk async for chunk in synthesised])
                async for chunk in chunks:
                    await self._out.audio(dataclasses.replace(chunk, sentence_index=index))
                    index += 1
                    if metrics.reply_to_first_audio_s is None:
                        metrics.reply_to_first_audio_s = time.perf_counter() - reply_at
                        VOICE_STAGE_SECONDS.labels(
                            "reply_to_first_audio", self._config.transport
                        ).observe(metrics.reply_to_first_audio_s)
        await self._out.reply_done(metrics=metrics)

    async def _barge_in(self) -> None:
        self._interrupted_through = self._turns_started
        task = self._speak_task
        was_speaking = self.speaking()
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
        if was_speaking:
            self.barge_ins += 1
            VOICE_BARGE_INS.labels(self._config.transport).inc()
            await self._out.clear()


# Words a sentence does not end on: "flights from Delhi to." is a caller still talking.
_DANGLING = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "at",
        "between",
        "but",
        "by",
        "for",
        "from",
        "in",
        "is",
        "my",
        "of",
        "on",
        "or",
        "the",
        "to",
        "uh",
        "um",
        "via",
        "with",
    ]
)
_TERMINAL = re.compile(r"[^.?!…]\s*[.?!]$")


def looks_complete(text: str) -> bool:
    """Whether a transcript reads as a finished turn: ends like a sentence, not mid-phrase."""
    words = text.split()
    if len(words) < 2 or not _TERMINAL.search(text.strip()):
        return False
    return words[-1].strip(".?!,").casefold() not in _DANGLING


async def _all_at_once(chunks: list[AudioChunk]) -> AsyncGenerator[AudioChunk, None]:
    for chunk in chunks:
        yield chunk
