"""Traces of a voice call: each caller turn is a trace of its own, from the onset of speech to
the reply's last audio, with the speech (VAD), the endpoint, the final decode and its queue
wait, the turn engine's spans and the synthesis as children; a call's turns share its
`call.id`, and the turn engine's log lines carry the turn's trace id. Real Silero, Whisper,
Piper and turn engine, over the app stream of a uvicorn server on loopback."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from websockets.asyncio.client import connect

from core import tracing
from tests.voice_support import (
    app,
    app_start,
    app_token,
    clip,
    next_event,
    send_pcm16k,
    settings,
    silence,
    voice_engines,
    ws_base,
)
from voice.call import VoiceEngines

# The fixtures this module uses, imported by name.
__all__ = ["app", "settings", "voice_engines", "ws_base"]


class Spans(SpanExporter):
    """Keeps the spans finished while a test of this module runs (the tracer provider is the
    process's; other modules' spans are not kept)."""

    def __init__(self) -> None:
        self.active = False
        self._spans: list[ReadableSpan] = []
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.active:
            with self._lock:
                self._spans.extend(spans)
        return SpanExportResult.SUCCESS

    def all(self) -> list[ReadableSpan]:
        with self._lock:
            return list(self._spans)

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()


SPANS = Spans()


@pytest.fixture(autouse=True)
def spans() -> Iterator[Spans]:
    tracing.configure(exporter=SPANS)
    SPANS.active = True
    yield SPANS
    SPANS.active = False
    SPANS.clear()


def _trace_id(span: ReadableSpan) -> str:
    return format(span.context.trace_id, "032x")


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def _turn(spans: Spans, number: int) -> ReadableSpan:
    """The `voice.turn` span of turn `number`, once it has ended (just after `reply_end`)."""
    async with asyncio.timeout(10):
        while True:
            for span in spans.all():
                if span.name == "voice.turn" and _attrs(span)["turn.number"] == number:
                    return span
            await asyncio.sleep(0.02)


def _children(spans: Spans, parent: ReadableSpan) -> dict[str, ReadableSpan]:
    return {
        s.name: s
        for s in spans.all()
        if s.parent is not None and s.parent.span_id == parent.context.span_id
    }


async def test_each_turn_of_a_call_is_a_trace_with_its_voice_stages(
    app: FastAPI,
    ws_base: str,
    voice_engines: VoiceEngines,
    spans: Spans,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with connect(ws_base + "/v1/voice/stream") as ws:
        session_id = await app_start(ws, await app_token(app))
        await send_pcm16k(ws, clip("delhi_mumbai_25_december.wav") + silence(1500))
        final = await next_event(ws, "final")
        reply = await next_event(ws, "reply")
        done = await next_event(ws, "reply_end")
        first = await _turn(spans, 1)
        # The caller talks over the reply still playing: a second turn, which stops it.
        await send_pcm16k(ws, clip("two_adults_bangalore_goa.wav") + silence(1000))
        await next_event(ws, "reply_end")
        second = await _turn(spans, 2)

    # One trace per turn, each rooted at its `voice.turn`; the call's id finds both.
    assert first.parent is None and second.parent is None
    assert _trace_id(first) != _trace_id(second)
    one, two = _attrs(first), _attrs(second)
    assert one["call.id"] == two["call.id"] and len(one["call.id"]) == 16
    assert one["call.transport"] == "app" and one["session.id"] == session_id
    assert one["turn.outcome"] == "answered" and "turn.barge_in" not in one
    assert two["turn.barge_in"] is True
    assert "voice.barge_in" in [e.name for e in second.events]
    # Partial decodes while the caller spoke (run, or skipped under load) are events.
    partials = [e for e in first.events if e.name == "voice.partial"]
    assert partials and all(e.attributes and "outcome" in e.attributes for e in partials)

    stages = _children(spans, first)
    assert {"voice.vad", "voice.endpoint", "voice.decode", "turn", "voice.synthesis"} <= (
        stages.keys()
    ), stages
    assert all(_trace_id(s) == _trace_id(first) for s in stages.values())
    vad, endpoint, decode = stages["voice.vad"], stages["voice.endpoint"], stages["voice.decode"]
    engine, synthesis = stages["turn"], stages["voice.synthesis"]
    # The speech began the turn and ended where the endpoint's wait began.
    assert vad.start_time == first.start_time and vad.end_time == endpoint.start_time
    assert _attrs(vad)["speech_ms"] > 1000
    assert _attrs(endpoint)["silence_ms"] == final["metrics"]["endpoint_decision_ms"]
    assert _attrs(endpoint)["reason"] in ("silence", "complete")
    # The final decode: its queue wait as the scheduler measured it, the audio it heard.
    heard = _attrs(decode)
    assert heard["outcome"] == "done" and heard["queue_wait_ms"] >= 0
    assert heard["decode_ms"] > 0
    assert heard["audio_s"] == pytest.approx(final["metrics"]["audio_ms"] / 1000, abs=0.002)
    assert heard["model"] == type(voice_engines.stt).__name__
    assert isinstance(heard["places_checked"], bool)
    # The turn engine ran inside the voice turn: its own spans join the trace.
    assert _attrs(engine)["channel"] == "voice"
    assert _attrs(engine)["intent"] == reply["intent"] == "search_flights"
    assert "understand" in _children(spans, engine)
    said = _attrs(synthesis)
    assert said["first_audio_ms"] == done["metrics"]["reply_to_first_audio_ms"]
    assert said["chunks"] >= 1
    assert decode.end_time is not None and engine.start_time is not None
    assert decode.end_time <= engine.start_time
    assert engine.end_time is not None and synthesis.start_time is not None
    assert engine.end_time <= synthesis.start_time
    assert synthesis.end_time is not None and first.end_time is not None
    assert synthesis.end_time <= first.end_time

    # The second turn's speech over the reply was checked (a "hmm" or an interruption?).
    over = _children(spans, second)
    assert "voice.check" in over and "voice.decode" in over, over

    # The turn engine's log line carries the trace id of the voice turn it answered.
    handled = [
        r.msg
        for r in caplog.records
        if isinstance(r.msg, dict) and r.msg["event"] == "turn handled"
    ]
    assert [line["trace_id"] for line in handled] == [_trace_id(first), _trace_id(second)]
