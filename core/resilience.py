"""Resilient supplier calls: a deadline, a circuit breaker, a bulkhead and bounded retries.

``call_with_resilience`` is the one entry point; suppliers only provide the awaitable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.wait import wait_random_exponential

from core import tracing
from core.errors import BulkheadFullError, CircuitOpenError, SupplierError, SupplierTimeoutError
from core.telemetry import BREAKER_STATE, BREAKER_TRANSITIONS, BULKHEAD_IN_FLIGHT, BULKHEAD_REJECTED

T = TypeVar("T")
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class CallOptions:
    """How long one attempt may take and how often to try."""

    timeout_s: float
    max_attempts: int = 3
    backoff_initial_s: float = 0.05
    backoff_max_s: float = 1.0


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point in time after which the caller no longer wants an answer."""

    expires_at: float
    clock: Clock = field(default=time.monotonic, repr=False)

    @classmethod
    def after(cls, seconds: float, *, clock: Clock = time.monotonic) -> Deadline:
        return cls(expires_at=clock() + seconds, clock=clock)

    def remaining(self) -> float:
        return max(0.0, self.expires_at - self.clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_GAUGE_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


def _is_transient(exc: BaseException) -> bool:
    """A supplier that failed or timed out: worth a retry, and counted by the breaker.

    A request the supplier rejected as wrong is not, nor are ``CircuitOpenError`` and
    ``BulkheadFullError``, which are built non-retryable because both mean back off now.
    """
    return isinstance(exc, SupplierError) and exc.is_retryable


class CircuitBreaker:
    """Stops calling a supplier after consecutive failures; lets a trial call through later."""

    def __init__(
        self,
        *,
        name: str,
        failure_threshold: int = 5,
        reset_timeout_s: float = 10.0,
        half_open_max_calls: int = 1,
        clock: Clock = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or half_open_max_calls < 1 or reset_timeout_s <= 0:
            raise ValueError("breaker threshold, trial calls and reset timeout must be positive")
        self.name = name
        self._failure_threshold = failure_threshold
        self._reset_timeout_s = reset_timeout_s
        self._half_open_max_calls = half_open_max_calls
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._trials = 0
        self._opened_at = 0.0
        # Bumped on every transition, so a call admitted in an earlier state cannot decide this one.
        self._generation = 0
        BREAKER_STATE.labels(name).set(_GAUGE_VALUE[self._state])

    @property
    def state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self._reset_timeout_s
        ):
            self._move_to(BreakerState.HALF_OPEN)
        return self._state

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """Run the body as one call through the breaker; raise ``CircuitOpenError`` if refused."""
        state = self.state
        if state is BreakerState.OPEN or (
            state is BreakerState.HALF_OPEN and self._trials >= self._half_open_max_calls
        ):
            raise CircuitOpenError(f"{self.name} circuit is {state}", supplier=self.name)
        generation = self._generation
        if state is BreakerState.HALF_OPEN:
            self._trials += 1
        try:
            yield
        except BaseException as e:
            if generation == self._generation:
                if _is_transient(e):
                    self._record_failure()
                elif state is BreakerState.HALF_OPEN:
                    self._trials -= 1  # inconclusive trial: free the slot for another
            raise
        if generation == self._generation:
            self._record_success()

    def _record_failure(self) -> None:
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self._failure_threshold:
            self._move_to(BreakerState.OPEN)

    def _record_success(self) -> None:
        self._failures = 0
        if self._state is BreakerState.HALF_OPEN:
            self._move_to(BreakerState.CLOSED)

    def _move_to(self, to: BreakerState) -> None:
        self._state = to
        self._generation += 1
        self._trials = 0
        if to is BreakerState.OPEN:
            self._opened_at = self._clock()
        elif to is BreakerState.CLOSED:
            self._failures = 0
        BREAKER_STATE.labels(self.name).set(_GAUGE_VALUE[to])
        BREAKER_TRANSITIONS.labels(self.name, to.value).inc()


class Bulkhead:
    """Caps the calls in flight to one supplier; a caller that waits too long is refused."""

    def __init__(self, *, name: str, max_concurrent: int, max_wait_s: float) -> None:
        if max_concurrent < 1 or max_wait_s < 0:
            raise ValueError("bulkhead needs max_concurrent >= 1 and max_wait_s >= 0")
        self.name = name
        self.max_wait_s = max_wait_s
        self._slots = asyncio.Semaphore(max_concurrent)
        self._in_flight = 0
        BULKHEAD_IN_FLIGHT.labels(name).set(0)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @asynccontextmanager
    async def slot(self, deadline: Deadline | None = None) -> AsyncIterator[None]:
        """Hold one slot for the body; wait at most ``max_wait_s`` (less if the deadline is near)."""
        wait_s = self.max_wait_s if deadline is None else min(self.max_wait_s, deadline.remaining())
        try:
            async with asyncio.timeout(wait_s):
                await self._slots.acquire()
        except TimeoutError as e:
            BULKHEAD_REJECTED.labels(self.name).inc()
            raise BulkheadFullError(
                f"{self.name} has no free slot after {wait_s:.3f}s", supplier=self.name
            ) from e
        self._in_flight += 1
        BULKHEAD_IN_FLIGHT.labels(self.name).set(self._in_flight)
        try:
            yield
        finally:
            self._in_flight -= 1
            BULKHEAD_IN_FLIGHT.labels(self.name).set(self._in_flight)
            self._slots.release()


async def call_with_resilience(
    fn: Callable[[], Awaitable[T]],
    *,
    breaker: CircuitBreaker,
    bulkhead: Bulkhead,
    options: CallOptions,
    deadline: Deadline,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Call ``fn`` through the breaker and bulkhead, retrying retryable failures within ``deadline``.

    Each attempt gets ``min(options.timeout_s, deadline.remaining())``; the last error is raised.
    ``breaker.name`` names the supplier in the errors raised here.
    """
    supplier = breaker.name
    jitter = wait_random_exponential(
        multiplier=options.backoff_initial_s, max=options.backoff_max_s
    )

    def backoff(state: RetryCallState) -> float:
        return min(jitter(state), deadline.remaining())

    def give_up(state: RetryCallState) -> bool:
        # Sleeping away what is left of the deadline would leave nothing for the next attempt.
        out_of_time = deadline.remaining() <= state.upcoming_sleep
        return out_of_time or state.attempt_number >= options.max_attempts

    attempts = 0

    async def attempt() -> T:
        nonlocal attempts
        attempts += 1
        with tracing.span(
            "supplier.attempt", supplier=supplier, attempt=attempts, breaker=breaker.state.value
        ):
            return await one_attempt()

    async def one_attempt() -> T:
        if deadline.expired:
            raise SupplierTimeoutError("the caller's deadline passed", supplier=supplier)
        async with breaker.guard(), bulkhead.slot(deadline):
            budget_s = min(options.timeout_s, deadline.remaining())
            timeout = asyncio.timeout(budget_s)
            try:
                async with timeout:
                    return await fn()
            except TimeoutError as e:
                if not timeout.expired():
                    raise
                raise SupplierTimeoutError(
                    f"{supplier} did not answer in {budget_s:.3f}s",
                    supplier=supplier,
                    timeout_s=budget_s,
                ) from e

    retrying = AsyncRetrying(
        sleep=sleep,
        stop=give_up,
        wait=backoff,
        retry=retry_if_exception(_is_transient),
        reraise=True,
    )
    return await retrying(attempt)
