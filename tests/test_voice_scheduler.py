"""The process's decode scheduler with the real Whisper model: finals of every call go ahead of
barge-in checks and partials, partials are skipped while a final waits or the slot is busy,
and a saturated scheduler sheds new calls with 1013 while the calls it serves complete.
Ordering is asserted from the scheduler's own records (event ticks), never from timings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator

import numpy as np
import orjson
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.voice_support import (
    app,
    app_start,
    app_token,
    clip,
    next_event,
    settings,
    voice_engines,
    ws_base,
)
from voice.admission import AdmissionLimits
from voice.call import VoiceEngines
from voice.scheduler import (
    CapacityConfig,
    DecodeKind,
    DecodeRecord,
    DecodeScheduler,
    predicted_final_s,
)
from voice.stt import Transcript

__all__ = ["app", "settings", "voice_engines", "ws_base"]  # fixtures

CLIPS = ("delhi_mumbai_25_december.wav", "two_adults_bangalore_goa.wav",
         "tatkal_cancellation_fee.wav")  # fmt: skip


def pcm(name: str) -> np.ndarray:
    return np.frombuffer(clip(name), dtype="<i2").astype(np.int16)


@pytest.fixture
def fresh_scheduler(voice_engines: VoiceEngines) -> Iterator[Callable[[CapacityConfig], None]]:
    """Give the shared engines a scheduler of their own for one test (before its app starts),
    so no other test's decodes count as load."""
    kept = voice_engines.scheduler

    def use(capacity: CapacityConfig) -> None:
        voice_engines.scheduler = DecodeScheduler(slots=1, capacity=capacity)

    use(CapacityConfig())
    yield use
    voice_engines.scheduler = kept


def one_source_may_call_often(app: FastAPI) -> None:
    """Every caller here comes from loopback: let one address hold every stream."""
    admission = app.state.services.stream_admission
    admission.limits = AdmissionLimits(total=8, per_source=8, new_caller_share=0,
                                       anonymous_share=1)  # fmt: skip


def final_waiting_at(records: list[DecodeRecord], tick: int) -> bool:
    """Whether a final had been submitted but not started at `tick`."""
    return any(
        r.kind is DecodeKind.FINAL
        and r.submitted < tick
        and (r.started is None and r.finished is not None and r.finished > tick
             or r.started is not None and r.started > tick)
        for r in records
    )  # fmt: skip


def assert_finals_first(records: list[DecodeRecord]) -> None:
    for r in records:
        if r.kind is DecodeKind.PARTIAL and r.started is not None:
            assert not final_waiting_at(records, r.started), f"partial {r.seq} ran over a final"
        if r.kind is DecodeKind.PARTIAL and final_waiting_at(records, r.submitted):
            assert r.outcome == "skipped", f"partial {r.seq} not skipped while a final waited"


async def test_finals_go_first_and_partials_are_skipped_while_they_wait(
    voice_engines: VoiceEngines,
) -> None:
    stt, scheduler = voice_engines.stt, DecodeScheduler(slots=1)
    audio = [pcm(name) for name in CLIPS]

    def decode(i: int) -> Callable[[], Awaitable[Transcript]]:
        return lambda: stt.transcribe(audio[i % len(audio)])

    running = asyncio.create_task(scheduler.final(decode(0), call_id=1))
    await asyncio.sleep(0)  # it takes the only slot
    busy = await scheduler.partial(decode(1), call_id=2)
    check = asyncio.create_task(scheduler.check(decode(1), call_id=2))
    waiting = asyncio.create_task(scheduler.final(decode(2), call_id=3))
    await asyncio.sleep(0)
    behind_finals = await scheduler.partial(decode(2), call_id=4)
    heard = await asyncio.gather(running, waiting, check)

    assert busy is None and behind_finals is None
    assert "Mumbai" in heard[0].text and "tatkal" in heard[1].text.lower()
    skipped = [r for r in scheduler.records if r.outcome == "skipped"]
    assert [r.skipped_because for r in skipped] == ["slots_busy", "final_waiting"]
    first, check_record, second = (
        next(r for r in scheduler.records if r.call_id == c and r.outcome == "done")
        for c in (1, 2, 3)
    )
    # The final submitted after the check still ran before it.
    assert first.finished is not None and second.started is not None
    assert first.finished < second.started < check_record.started  # type: ignore[operator]
    assert_finals_first(list(scheduler.records))


async def test_a_cancelled_final_gives_its_place_up_and_a_running_one_keeps_its_slot(
    voice_engines: VoiceEngines,
) -> None:
    stt, scheduler = voice_engines.stt, DecodeScheduler(slots=1)
    audio = pcm(CLIPS[0])
    running = asyncio.create_task(scheduler.final(lambda: stt.transcribe(audio), call_id=1))
    queued = asyncio.create_task(scheduler.final(lambda: stt.transcribe(audio), call_id=2))
    await asyncio.sleep(0)
    running.cancel()
    queued.cancel()
    # The abandoned decode still holds the slot: nothing else may start until it ends.
    after = await scheduler.final(lambda: stt.transcribe(audio), call_id=3)
    assert "Mumbai" in after.text
    outcomes = {r.call_id: r for r in scheduler.records}
    assert outcomes[1].outcome == "abandoned" and outcomes[2].outcome == "cancelled"
    assert outcomes[1].finished is not None and outcomes[3].started is not None
    assert outcomes[1].finished < outcomes[3].started


def test_predicted_final_latency_grows_with_load_and_is_unbounded_at_saturation() -> None:
    idle = predicted_final_s(utilisation=0.0, final_s=0.4, partial_residual_s=0.05, slots=1)
    half = predicted_final_s(utilisation=0.5, final_s=0.4, partial_residual_s=0.05, slots=1)
    assert idle == pytest.approx(0.45)
    assert half == pytest.approx(0.4 + 0.2 + 0.05)
    assert predicted_final_s(utilisation=1.0, final_s=0.4, partial_residual_s=0, slots=2) > 1e9


class Microphone:
    """A caller's microphone: 20 ms frames in real time, silence between what it is told to
    say, until the call ends (a real caller's stream never goes quiet on the wire)."""

    FRAME_BYTES = 2 * 16 * 20

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._speech = bytearray()
        self._task = asyncio.create_task(self._run())

    def say(self, pcm16: bytes) -> None:
        self._speech += pcm16

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start, sent = loop.time(), 0
        while True:
            await asyncio.sleep(max(0.0, start + sent * 0.02 - loop.time()))
            frame = bytes(self._speech[: self.FRAME_BYTES]).ljust(self.FRAME_BYTES, b"\0")
            del self._speech[: self.FRAME_BYTES]
            try:
                await self._ws.send(frame)
            except ConnectionClosed:
                return
            sent += 1

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def one_turn(ws: ClientConnection, mic: Microphone, name: str) -> dict[str, object]:
    """Say a clip; the turn's final event, once its reply is done."""
    mic.say(clip(name))
    final = await next_event(ws, "final")
    await next_event(ws, "reply_end")
    return final


async def test_concurrent_real_time_callers_never_queue_a_final_behind_a_partial(
    fresh_scheduler: object, app: FastAPI, ws_base: str, voice_engines: VoiceEngines
) -> None:
    one_source_may_call_often(app)
    async with (
        connect(ws_base + "/v1/voice/stream") as a,
        connect(ws_base + "/v1/voice/stream") as b,
        connect(ws_base + "/v1/voice/stream") as c,
    ):
        for ws in (a, b, c):
            await app_start(ws, await app_token(app))

        async def caller(ws: ClientConnection, offset: int) -> list[str]:
            await asyncio.sleep(0.2 * offset)  # not in lockstep
            mic = Microphone(ws)
            try:
                return [
                    str((await one_turn(ws, mic, CLIPS[(offset + k) % len(CLIPS)]))["text"])
                    for k in range(2)
                ]
            finally:
                await mic.close()

        heard = await asyncio.gather(caller(a, 0), caller(b, 1), caller(c, 2))

    assert all(len(turns) == 2 and all(turns) for turns in heard)
    records = list(voice_engines.scheduler.records)
    assert len({r.call_id for r in records}) == 3
    finals = [r for r in records if r.kind is DecodeKind.FINAL and r.outcome == "done"]
    assert len(finals) >= 6
    assert_finals_first(records)
    # Three callers on one slot: some partials had to give way.
    assert any(r.outcome == "skipped" for r in records if r.kind is DecodeKind.PARTIAL)


async def test_a_saturated_scheduler_sheds_the_next_call_and_the_others_complete(
    fresh_scheduler: Callable[[CapacityConfig], None],
    app: FastAPI,
    ws_base: str,
    voice_engines: VoiceEngines,
) -> None:
    # A budget no decode meets: saturated from the first measured final.
    fresh_scheduler(CapacityConfig(final_budget_s=0.05))
    app.state.services.stream_admission.capacity = voice_engines.scheduler
    one_source_may_call_often(app)
    async with (
        connect(ws_base + "/v1/voice/stream") as a,
        connect(ws_base + "/v1/voice/stream") as b,
        connect(ws_base + "/v1/voice/stream") as c,
    ):
        callers = (a, b, c)
        for ws in callers:  # admitted: nothing measured yet
            await app_start(ws, await app_token(app))
        mics = [Microphone(ws) for ws in callers]
        await asyncio.gather(*(one_turn(ws, mics[n], CLIPS[n]) for n, ws in enumerate(callers)))

        async with connect(ws_base + "/v1/voice/stream") as extra:
            start = {"type": "start", "token": await app_token(app), "language": "en"}
            await extra.send(orjson.dumps(start).decode())
            with pytest.raises(ConnectionClosed):
                await next_event(extra, "ready")
        assert extra.close_code == 1013
        assert "voice decoding is busy" in (extra.close_reason or "")

        again = await asyncio.gather(
            *(one_turn(ws, mics[n], CLIPS[(n + 1) % 3]) for n, ws in enumerate(callers))
        )
        for mic in mics:
            await mic.close()
    assert all(turn["text"] for turn in again)


class Clock:
    """Monotonic seconds that move only when a decode says it took time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_admission_counts_open_calls_at_the_measured_decode_time() -> None:
    clock = Clock()
    capacity = CapacityConfig(final_budget_s=0.8, turn_period_s=6.0, max_calls=16)
    scheduler = DecodeScheduler(slots=1, capacity=capacity, clock=clock)

    def taking(seconds: float) -> Callable[[], Awaitable[Transcript]]:
        async def decode() -> Transcript:
            clock.now += seconds
            return Transcript(text="", words=(), language="en", audio_s=2.0, decode_s=seconds)

        return decode

    assert scheduler.refusal(active=0) is None  # a process always serves one call
    calls = [scheduler.open_call()]
    assert scheduler.refusal(active=1) is None  # nothing measured yet
    await scheduler.final(taking(0.5), call_id=calls[0])
    # A final takes 0.5 s and each call asks for one every 6 s: with n calls the predicted
    # final latency is 0.5 s plus M/D/1 queueing at load n/12; 6 fit, a 7th would not.
    while scheduler.refusal(active=len(calls)) is None:
        calls.append(scheduler.open_call())
    assert len(calls) == 6
    assert scheduler.refusal(active=6) == "one more call would push finals past their budget"
    scheduler.close_call(calls.pop())
    assert scheduler.refusal(active=5) is None
    assert scheduler.refusal(active=16) == "the decoder serves at most 16 calls"

    # Decodes slower than the budget: even the calls already served miss it.
    await scheduler.final(taking(0.9), call_id=calls[0])
    await scheduler.final(taking(0.9), call_id=calls[1])
    assert scheduler.refusal(active=5) == "finals already wait past their budget"
