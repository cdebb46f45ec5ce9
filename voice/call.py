"""One caller's spoken conversation, whatever the transport.

Audio in (16 kHz PCM16) -> Silero VAD per 32 ms frame -> the endpointer -> partial transcripts
while the caller speaks (LocalAgreement commits the stable words) -> a final transcript ->
the turn -> the reply spoken sentence by sentence. Speech while the reply plays is a barge-in
once it has lasted `barge_in_min_speech_ms` and a quick decode of it is more than back-channel
("hmm", "haan", a cough): synthesis stops, the far end is told to drop queued audio, and the
new utterance goes through. Back-channel over a reply is not answered.

A decode costs about the same for 1 s of audio as for 5 s. The final decode therefore starts
speculatively the moment trailing silence begins and is usually done by the time the turn is
called over; every decode goes through the process's scheduler (voice.scheduler), which puts
finals of every call first and skips partials under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from core.errors import YatriError
from core.telemetry import VOICE_BARGE_INS, VOICE_STAGE_SECONDS
from voice.audio import PCM16
from voice.call_decoder import CallDecoder
from voice.call_io import CallOutput, SpokenReply, TurnHandler, TurnMetrics
from voice.engines import VoiceEngines
from voice.places import Heard
from voice.speaker import speak
from voice.stt import SAMPLE_RATE, LocalAgreement, Transcript, TranscriptionError
from voice.turns import looks_complete
from voice.vad import (
    VAD_FRAME_MS,
    VAD_FRAME_SAMPLES,
    Endpoint,
    EndpointConfig,
    Endpointer,
    EndpointerState,
    SpeechStarted,
)

# Re-exported: transports and the api layer import these from here.
__all__ = [
    "CallConfig",
    "CallOutput",
    "SpokenReply",
    "TurnHandler",
    "TurnMetrics",
    "VoiceCall",
    "VoiceEngines",
]


@dataclass(frozen=True, slots=True)
class CallConfig:
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    # Audio kept from before speech is detected, so the first syllable is not clipped.
    preroll_ms: int = 300
    # New audio between partial decodes while the caller speaks.
    partial_interval_ms: int = 700
    transport: str = "app"
    # With a finished speculative decode and a turn that looks complete (to the end-of-turn
    # model where the engines have one, else to the text rule), this much trailing silence
    # ends the turn; None waits for the full silence window every time.
    early_endpoint_ms: int | None = 200
    # The end-of-turn model's probability from which a pause ends the turn.
    turn_threshold: float = 0.5
    # Speech over a playing reply must last this long before it may stop the reply; then a
    # quick decode of it must be more than back-channel ("check"), or it stops the reply
    # at once ("duration").
    barge_in_min_speech_ms: int = 400
    barge_in: Literal["check", "duration"] = "check"
    # False is the naive baseline benchmarks compare against: no partials, one decode after
    # the endpoint, and the reply sent only once all of it is synthesised.
    streaming: bool = True


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
        self._decoder = CallDecoder(engines)
        self.call_id = self._decoder.call_id
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
        # The end-of-turn model's verdict on the current pause (None: not asked yet).
        self._turn_check: asyncio.Task[float] | None = None
        # Speech that began over a playing reply and has not stopped it (yet): its frames of
        # speech so far, and the decode that tells an interruption from back-channel.
        self._overlap = False
        self._overlap_speech_ms = 0
        self._overlap_next_check_ms = 0
        self._overlap_check: asyncio.Task[None] | None = None
        self._turn_lock = asyncio.Lock()
        self._turn_tasks: set[asyncio.Task[None]] = set()
        self._speak_task: asyncio.Task[None] | None = None
        self._turns_started = 0
        self._interrupted_through = 0
        self._closed = False
        self.turns: list[TurnMetrics] = []
        self.barge_ins = 0
        self.backchannels = 0  # utterances over a reply that did not stop it
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
        self._decoder.close()
        self._utterance = None
        tasks = (self._partial_task, self._speculative, self._speak_task, self._turn_check,
                 self._overlap_check)  # fmt: skip
        for task in tasks:
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
                self._decoder.final(self._utterance_audio(), expecting=self._expecting)
            )
        elif before is EndpointerState.TRAILING_SILENCE and after is EndpointerState.SPEAKING:
            self._drop_speculative()

        if after is EndpointerState.SPEAKING and self._overlap:
            self._overlap_speech_ms += VAD_FRAME_MS
            await self._weigh_overlap()
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
        self._overlap = self.speaking()
        self._overlap_speech_ms = self._config.endpoint.min_speech_ms
        self._overlap_next_check_ms = self._config.barge_in_min_speech_ms
        if self._overlap:
            await self._weigh_overlap()
        await self._out.speech_started()

    def _end_utterance(self, endpoint: Endpoint) -> None:
        audio = self._utterance_audio()
        # Speech that began over the reply and has not stopped it: heard whole, is it a "hmm"?
        backchannel = (
            asyncio.create_task(self._decoder.backchannel(audio)) if self._overlap else None
        )
        self._utterance = None
        self._utterance_id += 1
        self._overlap = False
        self._drop(self._overlap_check)
        self._drop(self._turn_check)
        self._overlap_check = self._turn_check = None
        # A speculative decode exists only while the trailing silence it began with lasts,
        # so it covers all the speech; an utterance cut mid-speech needs a decode of its own.
        decode = self._speculative
        self._speculative = None
        if decode is None:
            decode = asyncio.create_task(self._decoder.final(audio, expecting=self._expecting))
        self._turns_started += 1
        task = asyncio.create_task(
            self._finish_turn(
                turn_no=self._turns_started,
                decode=decode,
                endpoint=endpoint,
                endpoint_at=time.perf_counter(),
                backchannel=backchannel,
            )
        )
        self._turn_tasks.add(task)
        task.add_done_callback(self._turn_tasks.discard)

    def _heard_complete_turn(self) -> bool:
        early = self._config.early_endpoint_ms
        task = self._speculative
        if early is None or task is None or self._endpointer.trailing_silence_ms < early:
            return False
        if self._engines.turn_detector is not None:
            return self._model_says_complete()
        if not task.done() or task.cancelled() or task.exception() is not None:
            return False
        return looks_complete(task.result().text)

    def _model_says_complete(self) -> bool:
        """Ask the end-of-turn model once per pause; complete when it says so and the
        speculative decode is ready (the turn is called over only with its transcript)."""
        check = self._turn_check
        if check is None:
            # The model hears the speech up to the pause: trailing silence reads as "finished"
            # to it even after "from Delhi to" (P 0.05 without the silence, 0.91 with 300 ms).
            audio = self._utterance_audio()
            speech = len(audio) - self._endpointer.trailing_silence_ms * SAMPLE_RATE // 1000
            self._turn_check = asyncio.create_task(self._engines.turn_complete(audio[:speech]))
            return False
        decode = self._speculative
        if not check.done() or check.cancelled() or check.exception() is not None:
            return False
        if check.result() < self._config.turn_threshold:
            # Mid-sentence: this pause may run to the longest window before the turn ends.
            self._endpointer.hold(self._config.endpoint.max_silence_ms)
            return False
        return decode is not None and decode.done() and not decode.cancelled()

    def _utterance_audio(self) -> PCM16:
        frames = self._utterance or []
        return np.concatenate(frames) if frames else np.empty(0, dtype=np.int16)

    def _drop_speculative(self) -> None:
        self._drop(self._speculative)
        self._drop(self._turn_check)
        self._speculative = self._turn_check = None

    @staticmethod
    def _drop(task: asyncio.Task[Any] | None) -> None:
        if task is not None:
            task.cancel()

    # --- recognition -------------------------------------------------------------------------

    def _maybe_partial(self) -> None:
        if self._utterance is None:
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
        transcript = await self._decoder.partial(audio, expecting=self._expecting)
        if transcript is None or utterance_id != self._utterance_id or self._closed:
            return  # skipped under load, or the utterance is over
        self._agreement.update(transcript.words)
        committed = " ".join(w.text for w in self._agreement.committed)
        tentative = " ".join(w.text for w in self._agreement.tentative)
        await self._out.partial(text=f"{committed} {tentative}".strip(), committed=committed)

    # --- speech over the reply ---------------------------------------------------------------

    async def _weigh_overlap(self) -> None:
        """Speech over a playing reply: stop the reply once it has lasted long enough and (with
        `barge_in="check"`) a decode of it says it is more than back-channel; speech that goes
        on after a "hmm" is checked again once it has lasted as long again."""
        if not self.speaking():
            self._overlap = False  # the reply ended first: an ordinary utterance
            return
        if self._overlap_speech_ms < self._overlap_next_check_ms:
            return
        if self._config.barge_in == "duration":
            self._overlap = False
            await self._barge_in()
            return
        if self._overlap_check is None or self._overlap_check.done():
            self._overlap_next_check_ms = self._overlap_speech_ms * 2
            self._overlap_check = asyncio.create_task(
                self._check_overlap(self._utterance_audio(), self._utterance_id)
            )

    async def _check_overlap(self, audio: PCM16, utterance_id: int) -> None:
        if await self._decoder.backchannel(audio):
            return
        if utterance_id == self._utterance_id and self._overlap and not self._closed:
            self._overlap = False
            await self._barge_in()

    # --- the turn and the reply --------------------------------------------------------------

    async def _finish_turn(
        self,
        *,
        turn_no: int,
        decode: asyncio.Task[Transcript],
        endpoint: Endpoint,
        endpoint_at: float,
        backchannel: asyncio.Task[bool] | None,
    ) -> None:
        if backchannel is not None and await backchannel:
            decode.cancel()
            self.backchannels += 1
            return  # "hmm" over the reply: it plays on, and nothing is answered
        if backchannel is not None and self.speaking():
            await self._barge_in(through=turn_no - 1)
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
            self._speak_task = asyncio.create_task(
                speak(
                    reply.text,
                    tts=self._engines.tts,
                    out=self._out,
                    metrics=metrics,
                    reply_at=reply_at,
                    streaming=self._config.streaming,
                    transport=transport,
                )  # fmt: skip
            )
            await asyncio.wait([self._speak_task])

    async def _answer(self, heard: Heard) -> SpokenReply:
        unsure = heard.unsure()
        reply = await (self._turn(heard.text, unsure=unsure) if unsure else self._turn(heard.text))
        data = reply.data.get("data")
        expecting = data.get("expecting") if isinstance(data, Mapping) else None
        self._expecting = expecting if isinstance(expecting, str) else None
        return reply

    async def _barge_in(self, *, through: int | None = None) -> None:
        """Stop the reply; turns up to `through` (default: every turn heard so far) are not
        spoken."""
        self._interrupted_through = self._turns_started if through is None else through
        task = self._speak_task
        was_speaking = self.speaking()
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
        if was_speaking:
            self.barge_ins += 1
            VOICE_BARGE_INS.labels(self._config.transport).inc()
            await self._out.clear()
