"""One decode scheduler per process: every call's decodes go through it.

Decode capacity (the STT engine's worker threads) is the scarce thing on a small box. The
scheduler keeps a priority queue in front of it: final decodes (the ones a caller waits on)
of every call go ahead of barge-in checks, which go ahead of partials. A partial is a
courtesy and never waits: it is skipped while a final waits or every decode slot is busy.

It also says whether one more call fits (`refusal`), from what it measured: the decode time
of recent finals (the machine's speed, whichever call they were for), the final waits the
open calls saw lately, and the share of the last `window_s` the slots spent on the open calls'
finals. A call's load is the larger of its measured share and a prior (one final decode per
`turn_period_s`), so calls that have not spoken yet count too. With one more call the final
load grows by one call's share; the predicted final latency (queueing as in an M/D/c queue,
plus the rest of a partial that may hold the slot when a final arrives) must stay within the
budget, and so must the final waits actually seen lately.

A caller that wants its own decodes' records (a turn's trace reads its final's queue wait)
creates their tasks inside `recorded_into`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
import math
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

from voice.stt import Transcript


class DecodeKind(IntEnum):
    """Priority order: lower goes first."""

    FINAL = 0
    CHECK = 1  # a barge-in check: is the caller interrupting or saying "hmm"?
    PARTIAL = 2


Outcome = Literal["queued", "running", "done", "failed", "cancelled", "abandoned", "skipped"]
SkipReason = Literal["final_waiting", "slots_busy"]


@dataclass(slots=True)
class DecodeRecord:
    """One decode's life in the scheduler. Ticks order events across all calls (one counter
    per scheduler, bumped on every submit, start and finish); `*_at` are monotonic seconds."""

    seq: int
    call_id: int
    kind: DecodeKind
    submitted: int
    submitted_at: float
    started: int | None = None
    started_at: float | None = None
    finished: int | None = None
    finished_at: float | None = None
    outcome: Outcome = "queued"
    skipped_because: SkipReason | None = None

    @property
    def wait_s(self) -> float | None:
        return None if self.started_at is None else self.started_at - self.submitted_at

    @property
    def decode_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@dataclass(frozen=True, slots=True)
class CapacityConfig:
    """What the scheduler promises calls it has admitted.

    `final_budget_s`: queue wait + decode a final may take (the speculative final starts as
    trailing silence begins, so this is most of speech end -> final). `max_calls` is a hard
    ceiling whatever the measurements say.
    """

    final_budget_s: float = 0.8
    window_s: float = 30.0
    # A caller says something about this often (an utterance, then the reply).
    turn_period_s: float = 6.0
    max_utilisation: float = 0.85
    max_calls: int = 16

    def __post_init__(self) -> None:
        if min(self.final_budget_s, self.window_s, self.turn_period_s, self.max_calls) <= 0:
            raise ValueError("capacity budget, window and max_calls must be positive")
        if not 0 < self.max_utilisation < 1:
            raise ValueError("max_utilisation must lie in (0, 1)")


_SINK: contextvars.ContextVar[list[DecodeRecord] | None] = contextvars.ContextVar(
    "voice_decode_sink", default=None
)


@contextlib.contextmanager
def recorded_into(sink: list[DecodeRecord] | None) -> Iterator[None]:
    """Decodes submitted in the block, or by tasks created in it (a task copies the context it
    is created in), also append their records to `sink`; None records nothing."""
    if sink is None:
        yield
        return
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


Decode = Callable[[], Awaitable[Transcript]]
"""Starts one decode on the STT engine (`lambda: stt.transcribe(audio, ...)`)."""


@dataclass(slots=True)
class _Job:
    record: DecodeRecord
    run: Decode
    future: asyncio.Future[Transcript] = field(repr=False)
    # The submitting call's context: the decode sees that call's context variables (the
    # caller's language, `voice.language`) whichever task dispatches it.
    context: contextvars.Context = field(default_factory=contextvars.copy_context, repr=False)


def predicted_final_s(
    *, utilisation: float, final_s: float, partial_residual_s: float, slots: int
) -> float:
    """Expected queue wait + decode of a final at this final-load `utilisation` per slot:
    M/D/c waiting approximated as M/D/1 on a c-times faster server, plus the expected rest of
    a partial holding a slot when the final arrives. Infinite at or above saturation."""
    if utilisation >= 1:
        return math.inf
    wait = utilisation / (2 * (1 - utilisation)) * final_s / slots
    return final_s + wait + partial_residual_s


class DecodeScheduler:
    """Runs decodes with at most `slots` at once (match the STT engine's decode threads),
    finals first. `records` keeps the last `keep` decodes for tests and metrics."""

    def __init__(
        self,
        *,
        slots: int = 1,
        capacity: CapacityConfig | None = None,
        keep: int = 2000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if slots <= 0:
            raise ValueError(f"slots must be positive, got {slots}")
        self.slots = slots
        self.capacity = capacity or CapacityConfig()
        self._clock = clock
        self._ticks = itertools.count(1)
        self._seqs = itertools.count(1)
        self._queue: list[tuple[int, int, _Job]] = []
        self._running = 0
        self._waiting = dict.fromkeys(DecodeKind, 0)
        self._tasks: set[asyncio.Task[None]] = set()
        self._calls: set[int] = set()
        self._call_ids = itertools.count(1)
        self.records: deque[DecodeRecord] = deque(maxlen=keep)

    def open_call(self) -> int:
        """A number for a new call's decodes; its load counts until `close_call`."""
        call_id = next(self._call_ids)
        self._calls.add(call_id)
        return call_id

    def close_call(self, call_id: int) -> None:
        self._calls.discard(call_id)

    @property
    def calls(self) -> int:
        """Calls open now."""
        return len(self._calls)

    # --- submitting ---------------------------------------------------------------------------

    async def final(self, decode: Decode, *, call_id: int) -> Transcript:
        """Run a final decode (the turn waits on it); queued ahead of everything else."""
        return await self._submit(DecodeKind.FINAL, decode, call_id)

    async def check(self, decode: Decode, *, call_id: int) -> Transcript:
        """Run a decode of audio heard over a playing reply (an interruption or a "hmm"?)."""
        return await self._submit(DecodeKind.CHECK, decode, call_id)

    async def partial(self, decode: Decode, *, call_id: int) -> Transcript | None:
        """Run a partial decode if a slot is free and no final waits; None when skipped."""
        reason = self._partial_blocked()
        if reason is not None:
            record = self._record(DecodeKind.PARTIAL, call_id)
            record.outcome, record.skipped_because = "skipped", reason
            return None
        return await self._submit(DecodeKind.PARTIAL, decode, call_id)

    def partial_would_run(self) -> bool:
        """Whether a partial submitted now would run (callers skip preparing one if not)."""
        return self._partial_blocked() is None

    def _partial_blocked(self) -> SkipReason | None:
        if self._waiting[DecodeKind.FINAL] or self._waiting[DecodeKind.CHECK]:
            return "final_waiting"
        if self._running >= self.slots:
            return "slots_busy"
        return None

    def _record(self, kind: DecodeKind, call_id: int) -> DecodeRecord:
        record = DecodeRecord(seq=next(self._seqs), call_id=call_id, kind=kind,
                              submitted=next(self._ticks), submitted_at=self._clock())  # fmt: skip
        self.records.append(record)
        if (sink := _SINK.get()) is not None:
            sink.append(record)
        return record

    async def _submit(self, kind: DecodeKind, decode: Decode, call_id: int) -> Transcript:
        record = self._record(kind, call_id)
        future: asyncio.Future[Transcript] = asyncio.get_running_loop().create_future()
        job = _Job(record=record, run=decode, future=future)
        heapq.heappush(self._queue, (int(kind), record.seq, job))
        self._waiting[kind] += 1
        self._dispatch()
        # Cancelling the caller cancels `future`: a queued job is then dropped when popped; a
        # running one finishes on its thread (it cannot be stopped) and keeps its slot until then.
        return await future

    # --- running ------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while self._running < self.slots and self._queue:
            _, _, job = heapq.heappop(self._queue)
            self._waiting[job.record.kind] -= 1
            if job.future.cancelled():
                job.record.outcome = "cancelled"
                job.record.finished = next(self._ticks)
                continue
            self._running += 1
            job.record.outcome = "running"
            job.record.started, job.record.started_at = next(self._ticks), self._clock()
            task = asyncio.create_task(self._run(job), context=job.context)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, job: _Job) -> None:
        record = job.record
        try:
            transcript = await job.run()
        except asyncio.CancelledError:
            record.outcome = "cancelled"  # the loop is shutting down
            job.future.cancel()
            raise
        except Exception as e:  # handed to the waiting caller as is
            record.outcome = "failed"
            if not job.future.done():
                job.future.set_exception(e)
        else:
            record.outcome = "abandoned" if job.future.cancelled() else "done"
            if not job.future.done():
                job.future.set_result(transcript)
        finally:
            record.finished, record.finished_at = next(self._ticks), self._clock()
            self._running -= 1
            self._dispatch()

    # --- measurements and admission -------------------------------------------------------

    @property
    def running(self) -> int:
        return self._running

    @property
    def finals_waiting(self) -> int:
        return self._waiting[DecodeKind.FINAL]

    def _recent(self, kind: DecodeKind, since: float) -> list[DecodeRecord]:
        return [
            r
            for r in self.records
            if r.kind is kind and r.finished_at is not None and r.finished_at >= since
            and r.outcome in ("done", "abandoned", "failed")
        ]  # fmt: skip

    def utilisation(self, *, partials: bool = False, now: float | None = None) -> float:
        """Share of the slots' time over the last window that the open calls spent decoding
        finals and checks (or, with `partials`, partials)."""
        now = self._clock() if now is None else now
        since = now - self.capacity.window_s
        busy = 0.0
        for r in self.records:
            if (r.kind is DecodeKind.PARTIAL) is not partials or r.started_at is None:
                continue
            if r.call_id not in self._calls:
                continue
            end = r.finished_at if r.finished_at is not None else now
            busy += max(0.0, end - max(r.started_at, since))
        return busy / (self.capacity.window_s * self.slots)

    def refusal(self, *, active: int) -> str | None:
        """Why a new call must wait (a sentence), or None if it fits: `active` streams are
        held now; the load is measured over the calls open in this scheduler."""
        cap, calls = self.capacity, len(self._calls)
        if active >= cap.max_calls:
            return f"the decoder serves at most {cap.max_calls} calls"
        if calls == 0:
            return None  # a process always serves one call
        now = self._clock()
        since = now - cap.window_s
        measured = self._recent(DecodeKind.FINAL, since)
        if not measured:
            return None  # nothing measured yet: only the ceiling applies
        # Decode time is the machine's; waits are what the open calls saw.
        final_s = statistics.median(r.decode_s or 0.0 for r in measured)
        waits = sorted(r.wait_s or 0.0 for r in measured if r.call_id in self._calls)
        recent_p90 = waits[min(len(waits) - 1, math.ceil(0.9 * len(waits)) - 1)] if waits else 0.0
        if recent_p90 + final_s > cap.final_budget_s:
            return "finals already wait past their budget"
        partials = self._recent(DecodeKind.PARTIAL, since)
        partial_s = statistics.median(r.decode_s or 0.0 for r in partials) if partials else 0.0
        load = max(self.utilisation(now=now), calls * final_s / cap.turn_period_s / self.slots)
        utilisation = load * (calls + 1) / calls
        if utilisation > cap.max_utilisation:
            return "decode capacity is in use"
        # A final arriving finds a partial running this share of the time, half done on average.
        residual = self.utilisation(partials=True, now=now) * partial_s / 2
        predicted = predicted_final_s(
            utilisation=utilisation, final_s=final_s, partial_residual_s=residual, slots=self.slots
        )
        if predicted > cap.final_budget_s:
            return "one more call would push finals past their budget"
        return None
