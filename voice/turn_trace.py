"""Each caller turn as one trace of its own (a call may last twenty minutes; `call.id` finds
its turns): `voice.turn` from the onset of speech to the last of the reply's audio sent, with
children `voice.vad` (onset to the last speech frame), `voice.endpoint` (the pause until the
turn was called over), `voice.decode` (the final decode, with its queue wait), the turn
engine's `turn`, and `voice.synthesis`. Barge-in checks are `voice.check` spans, partial
decodes `voice.partial` events on the turn.

What is heard is timed as it happens and recorded in hindsight when the turn is called over:
the onset is known only once `min_speech_ms` of speech has arrived, and a speculative final
decode starts before the endpoint. Nothing is done per frame, and nothing at all with tracing
off beyond a flag read once per utterance.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

from core import tracing
from voice.scheduler import DecodeKind, DecodeRecord
from voice.stt import Transcript
from voice.vad import Endpoint, Endpointer, SpeechStarted

Outcome = Literal[
    "answered",  # the reply's audio was all sent
    "barge_in",  # the caller spoke over this turn before its reply was all sent
    "backchannel",  # a "hmm" over the previous reply: not answered
    "empty",  # nothing but noise was heard
    "error",  # decoding or the turn engine failed
    "hung_up",  # answered (and saved), but the call ended before the reply was spoken
    "cancelled",  # the call ended while the turn was in progress
]


class HeardTurn:
    """One utterance's timings for its turn's trace; inert (`on` false) with tracing off."""

    __slots__ = ("barge_in_ns", "decodes", "endpoint", "endpoint_ns", "model", "onset_ms",
                 "onset_ns", "speculative", "transcript", "turn_probability")  # fmt: skip

    def __init__(self, *, onset_ns: int = 0, onset_ms: int = 0, on: bool = False) -> None:
        self.onset_ns = onset_ns
        self.onset_ms = onset_ms  # stream time
        # The scheduler's records of the utterance's decodes (None: not traced).
        self.decodes: list[DecodeRecord] | None = [] if on else None
        self.endpoint: Endpoint | None = None
        self.endpoint_ns = 0
        self.speculative = False
        self.turn_probability: float | None = None
        self.transcript: Transcript | None = None
        self.model = ""
        self.barge_in_ns: int | None = None

    @classmethod
    def begin(cls, endpointer: Endpointer, started: SpeechStarted) -> HeardTurn:
        """At speech onset (the endpointer has just said so, `min_speech_ms` after it)."""
        if not tracing.enabled():
            return _UNTRACED
        lag_ms = endpointer.now_ms - started.at_ms
        return cls(onset_ns=time.time_ns() - lag_ms * 1_000_000, onset_ms=started.at_ms, on=True)

    @staticmethod
    def untraced() -> HeardTurn:
        return _UNTRACED

    @property
    def on(self) -> bool:
        return self.decodes is not None

    def ended(
        self, endpoint: Endpoint, *, speculative: bool, turn_probability: float | None
    ) -> None:
        """The endpoint was called now; `speculative`: the final decode began before it;
        `turn_probability`: the end-of-turn model's verdict on the pause, if asked."""
        if self.on:
            self.endpoint, self.endpoint_ns = endpoint, time.time_ns()
            self.speculative, self.turn_probability = speculative, turn_probability

    def decoded(self, transcript: Transcript, *, stt: object) -> None:
        """The final decode's transcript, from the engine `stt`."""
        if self.on:
            self.transcript, self.model = transcript, type(stt).__name__

    def barged_in(self) -> None:
        """This utterance stopped a reply that was playing."""
        if self.on:
            self.barge_in_ns = time.time_ns()


_UNTRACED = HeardTurn()


@contextmanager
def traced_turn(
    heard: HeardTurn, *, number: int, attributes: Mapping[str, tracing.AttributeValue]
) -> Iterator[list[Outcome]]:
    """The turn's root span around the block (a new trace, whatever span the call runs in),
    with the spans of what was heard; the block appends the turn's outcome to the list."""
    outcome: list[Outcome] = []
    if not heard.on or heard.endpoint is None:
        yield outcome
        return
    endpoint = heard.endpoint
    # Stream time back to the wall clock from the endpoint, which was decided just now.
    speech_end_ns = heard.endpoint_ns - endpoint.decision_ms * 1_000_000
    speech_end_ns = max(heard.onset_ns, speech_end_ns)
    # No headers: a root span, whatever span the call's stream runs in.
    with tracing.extracted({}), tracing.span("voice.turn", start_time=heard.onset_ns) as span:
        tracing.set_attributes(**attributes, **{"turn.number": number})
        with tracing.span("voice.vad", start_time=heard.onset_ns, end_time=speech_end_ns,
                          speech_ms=endpoint.speech_end_ms - heard.onset_ms):  # fmt: skip
            pass
        with tracing.span("voice.endpoint", start_time=speech_end_ns, end_time=heard.endpoint_ns,
                          reason=endpoint.reason, silence_ms=endpoint.decision_ms,
                          turn_probability=heard.turn_probability):  # fmt: skip
            pass
        try:
            yield outcome
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        except Exception:
            outcome.append("error")
            raise
        finally:
            _record_decodes(heard, span)
            span.set_attribute("turn.outcome", outcome[0] if outcome else "cancelled")
            if heard.barge_in_ns is not None:
                span.set_attribute("turn.barge_in", True)
                span.add_event("voice.barge_in", timestamp=heard.barge_in_ns)


def _record_decodes(heard: HeardTurn, turn_span: Any) -> None:
    """The utterance's decodes, from the scheduler's records, as spans and events."""
    records = heard.decodes or []
    finals = [r for r in records if r.kind is DecodeKind.FINAL]
    # The scheduler's records are on its clock, `time.monotonic` (the engines' scheduler's).
    to_wall = time.time_ns() - time.monotonic_ns()

    def wall(at: float | None) -> int | None:
        return None if at is None else to_wall + round(at * 1e9)

    for record in records:
        wait_ms = None if record.wait_s is None else round(record.wait_s * 1000, 1)
        decode_ms = None if record.decode_s is None else round(record.decode_s * 1000, 1)
        start, end = wall(record.submitted_at), wall(record.finished_at)
        attributes: dict[str, tracing.AttributeValue | None] = {
            "outcome": record.outcome, "queue_wait_ms": wait_ms, "decode_ms": decode_ms}  # fmt: skip
        if record.kind is DecodeKind.PARTIAL:
            attributes["skipped_because"] = record.skipped_because
            kept = {k: v for k, v in attributes.items() if v is not None}
            turn_span.add_event("voice.partial", attributes=kept, timestamp=end or start)
            continue
        if record.kind is DecodeKind.FINAL and record is not finals[-1]:
            continue  # a speculative decode the caller's resumed speech made stale
        name = "voice.check"
        if record.kind is DecodeKind.FINAL:
            name = "voice.decode"
            attributes.update(speculative=heard.speculative, stale_finals=len(finals) - 1)
            if (transcript := heard.transcript) is not None:
                attributes.update(audio_s=round(transcript.audio_s, 3),
                                  model=heard.model, language=transcript.language,
                                  places_checked=bool(transcript.scored))  # fmt: skip
        with tracing.span(name, start_time=start, end_time=end):
            tracing.set_attributes(**attributes)
