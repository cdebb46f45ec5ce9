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

Each caller turn is a trace of its own (voice.turn_trace); `trace_attributes` go on every turn's
root span, beside a `call.id` its turns share.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import deque
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

import numpy as np

from core.errors import YatriError
from core.telemetry import VOICE_BARGE_INS, VOICE_STAGE_SECONDS
from voice.audio import PCM16
from voice.call_config import CallConfig
from voice.call_decoder import CallDecoder
from voice.call_io import CallOutput, SpokenReply, TurnHandler, TurnMetrics
from voice.engines import VoiceEngines
from voice.places import Heard
from voice.scheduler import recorded_into
from voice.speaker import speak
from voice.stt import SAMPLE_RATE, LocalAgreement, Transcript, TranscriptionError
from voice.turn_trace import HeardTurn, Outcome, traced_turn
from voice.turns import EarlyEndpoint
from voice.vad import (
    VAD_FRAME_MS,
    VAD_FRAME_SAMPLES,
    Endpoint,
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

T = TypeVar("T")


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
        trace_attributes: Mapping[str, str] | None = None,
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
        self._early = EarlyEndpoint(
            early_ms=self._config.early_endpoint_ms,
            threshold=self._config.turn_threshold,
            hold_ms=self._config.endpoint.max_silence_ms,
            turn_complete=engines.turn_complete if engines.turn_detector is not None else None,
        )
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
        self._heard = HeardTurn.untraced()  # the current utterance's timings for its trace
        self._trace_attributes = {"call.id": secrets.token_hex(8),
                                  "call.transport": self._config.transport,
                                  **(trace_attributes or {})}  # fmt: skip

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
        self._early.forget()
        for task in (self._partial_task, self._speculative, self._speak_task, self._overlap_check):
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
            await self._start_utterance(event)
        elif isinstance(event, Endpoint):
            self._end_utterance(event)
        elif not self._config.streaming:
            pass
        elif before is EndpointerState.SPEAKING and after is EndpointerState.TRAILING_SILENCE:
            self._speculative = self._decode_task(
                self._decoder.final(self._utterance_audio(), expecting=self._expecting)
            )
        elif before is EndpointerState.TRAILING_SILENCE and after is EndpointerState.SPEAKING:
            self._drop_speculative()

        if after is EndpointerState.SPEAKING and self._overlap:
            self._overlap_speech_ms += VAD_FRAME_MS
            await self._weigh_overlap()
        if after is EndpointerState.SPEAKING and self._config.streaming:
            self._maybe_partial()
        elif after is EndpointerState.TRAILING_SILENCE and self._early.complete(
            endpointer=self._endpointer, speculative=self._speculative, audio=self._utterance_audio
        ):
            self._end_utterance(self._endpointer.end_now())

    async def _start_utterance(self, started: SpeechStarted) -> None:
        self._heard = HeardTurn.begin(self._endpointer, started)
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
        backchannel = self._decode_task(self._decoder.backchannel(audio)) if self._overlap else None
        self._utterance = None
        self._utterance_id += 1
        self._overlap = False
        self._drop(self._overlap_check)
        # A speculative decode exists only while the trailing silence it began with lasts,
        # so it covers all the speech; an utterance cut mid-speech needs a decode of its own.
        decode = self._speculative
        self._speculative = None
        self._heard.ended(endpoint, speculative=decode is not None,
                          turn_probability=self._early.probability())  # fmt: skip
        self._early.forget()
        self._overlap_check = None
        if decode is None:
            decode = self._decode_task(self._decoder.final(audio, expecting=self._expecting))
        self._turns_started += 1
        turn = self._finish_turn(
            trace=self._heard,
            turn_no=self._turns_started,
            decode=decode,
            endpoint=endpoint,
            endpoint_at=time.perf_counter(),
            backchannel=backchannel,
        )
        task = asyncio.create_task(
            self._take_turn(turn, heard=self._heard, number=self._turns_started)
        )
        self._turn_tasks.add(task)
        task.add_done_callback(self._turn_tasks.discard)

    def _utterance_audio(self) -> PCM16:
        frames = self._utterance or []
        return np.concatenate(frames) if frames else np.empty(0, dtype=np.int16)

    def _drop_speculative(self) -> None:
        self._drop(self._speculative)
        self._early.forget()
        self._speculative = None

    def _decode_task(self, decode: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task for one of the utterance's decodes; its scheduler records go to its trace."""
        with recorded_into(self._heard.decodes):
            return asyncio.create_task(decode)

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
        self._partial_task = self._decode_task(
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
            await self._barge_in(by=self._heard)
            return
        if self._overlap_check is None or self._overlap_check.done():
            self._overlap_next_check_ms = self._overlap_speech_ms * 2
            self._overlap_check = self._decode_task(
                self._check_overlap(self._utterance_audio(), self._utterance_id)
            )

    async def _check_overlap(self, audio: PCM16, utterance_id: int) -> None:
        if await self._decoder.backchannel(audio):
            return
        if utterance_id == self._utterance_id and self._overlap and not self._closed:
            self._overlap = False
            await self._barge_in(by=self._heard)

    # --- the turn and the reply --------------------------------------------------------------

    async def _take_turn(
        self, turn: Coroutine[Any, Any, Outcome], *, heard: HeardTurn, number: int
    ) -> None:
        """Run the turn inside its trace (its tasks, and the turn engine's spans, join it)."""
        with traced_turn(heard, number=number, attributes=self._trace_attributes) as outcome:
            outcome.append(await turn)

    async def _finish_turn(
        self,
        *,
        trace: HeardTurn,
        turn_no: int,
        decode: asyncio.Task[Transcript],
        endpoint: Endpoint,
        endpoint_at: float,
        backchannel: asyncio.Task[bool] | None,
    ) -> Outcome:
        if backchannel is not None and await backchannel:
            decode.cancel()
            self.backchannels += 1
            return "backchannel"  # "hmm" over the reply: it plays on, and nothing is answered
        if backchannel is not None and self.speaking():
            await self._barge_in(through=turn_no - 1, by=trace)
        try:
            transcript = await decode
        except TranscriptionError as e:
            await self._out.error(code=e.problem_type, detail=e.detail)
            return "error"
        trace.decoded(transcript, stt=self._engines.stt)
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
            return "empty"  # a cough or a door: nothing to answer
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
                return "hung_up"
            await self._out.final(text=metrics.transcript, metrics=metrics)
            try:
                reply = await self._answer(heard)
            except YatriError as e:
                await self._out.error(code=e.problem_type, detail=e.detail)
                return "error"
            reply_at = time.perf_counter()
            metrics.final_to_reply_s = reply_at - final_at
            VOICE_STAGE_SECONDS.labels("final_to_reply", transport).observe(
                metrics.final_to_reply_s
            )
            await self._out.reply(reply)
            self.turns.append(metrics)
            if self._closed:
                return "hung_up"
            if turn_no <= self._interrupted_through:
                return "barge_in"  # the caller spoke over this turn before its reply was ready
            speaking = self._speak_task = asyncio.create_task(
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
            await asyncio.wait([speaking])
            if not speaking.cancelled():
                return "answered"
            return "hung_up" if self._closed else "barge_in"

    async def _answer(self, heard: Heard) -> SpokenReply:
        unsure = heard.unsure()
        reply = await (self._turn(heard.text, unsure=unsure) if unsure else self._turn(heard.text))
        data = reply.data.get("data")
        expecting = data.get("expecting") if isinstance(data, Mapping) else None
        self._expecting = expecting if isinstance(expecting, str) else None
        return reply

    async def _barge_in(self, *, through: int | None = None, by: HeardTurn | None = None) -> None:
        """Stop the reply; turns up to `through` (default: every turn heard so far) are not
        spoken. `by`: the utterance that stopped it (for its trace)."""
        self._interrupted_through = self._turns_started if through is None else through
        task = self._speak_task
        was_speaking = self.speaking()
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
        if was_speaking:
            if by is not None:
                by.barged_in()
            self.barge_ins += 1
            VOICE_BARGE_INS.labels(self._config.transport).inc()
            await self._out.clear()
