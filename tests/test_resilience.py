"""Breaker, bulkhead and retries, driven by small honest fake suppliers and a settable clock."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import REGISTRY

from core.errors import BulkheadFullError, CircuitOpenError, SupplierError, SupplierTimeoutError
from core.resilience import (
    BreakerState,
    Bulkhead,
    CallOptions,
    CircuitBreaker,
    Deadline,
    call_with_resilience,
)

_names = itertools.count()


def unique(prefix: str) -> str:
    """Metrics are process-wide, so each test uses its own label."""
    return f"{prefix}-{next(_names)}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FlakySupplier:
    """Fails ``failures`` times with ``error``, then answers "ok"; counts every call."""

    def __init__(self, *, failures: int, retryable: bool = True, delay_s: float = 0.0) -> None:
        self.failures = failures
        self.retryable = retryable
        self.delay_s = delay_s
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.calls <= self.failures:
            raise SupplierError(f"failure {self.calls}", supplier="fake", retryable=self.retryable)
        return "ok"


def sample(metric: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(metric, labels)


async def call_through(breaker: CircuitBreaker, fn: Callable[[], Awaitable[str]]) -> str:
    async with breaker.guard():
        return await fn()


async def trip(breaker: CircuitBreaker, times: int) -> None:
    failing = FlakySupplier(failures=times)
    for _ in range(times):
        with pytest.raises(SupplierError):
            await call_through(breaker, failing)


def test_deadline_counts_down_and_never_goes_negative() -> None:
    clock = FakeClock()
    deadline = Deadline.after(2.0, clock=clock)
    assert deadline.remaining() == 2.0
    clock.now += 1.5
    assert deadline.remaining() == pytest.approx(0.5)
    assert not deadline.expired
    clock.now += 1.0
    assert deadline.remaining() == 0.0
    assert deadline.expired


# -- circuit breaker ---------------------------------------------------------------------------


async def test_breaker_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(name=unique("b"), failure_threshold=3, clock=FakeClock())
    await trip(breaker, 2)
    assert await call_through(breaker, FlakySupplier(failures=0)) == "ok"  # resets the count
    await trip(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    assert sample("yatri_breaker_state", name=breaker.name) == 0
    await trip(breaker, 1)
    assert breaker.state is BreakerState.OPEN
    assert sample("yatri_breaker_state", name=breaker.name) == 2
    assert sample("yatri_breaker_transitions_total", name=breaker.name, to="open") == 1


async def test_open_breaker_refuses_without_calling() -> None:
    breaker = CircuitBreaker(name=unique("b"), failure_threshold=1, clock=FakeClock())
    await trip(breaker, 1)
    supplier = FlakySupplier(failures=0)
    with pytest.raises(CircuitOpenError) as caught:
        await call_through(breaker, supplier)
    assert supplier.calls == 0
    assert caught.value.status == 503
    assert caught.value.problem_type == "supplier-unavailable"


async def test_half_open_after_reset_timeout_and_trial_success_closes() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        name=unique("b"), failure_threshold=1, reset_timeout_s=10.0, clock=clock
    )
    await trip(breaker, 1)
    clock.now += 9.9
    assert breaker.state is BreakerState.OPEN
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    assert sample("yatri_breaker_state", name=breaker.name) == 1

    release = asyncio.Event()

    async def slow_success() -> str:
        await release.wait()
        return "ok"

    trial = asyncio.create_task(call_through(breaker, slow_success))
    await asyncio.sleep(0)  # let the trial take the only half-open slot
    bystander = FlakySupplier(failures=0)
    with pytest.raises(CircuitOpenError):
        await call_through(breaker, bystander)
    assert bystander.calls == 0
    release.set()
    assert await trial == "ok"
    assert breaker.state is BreakerState.CLOSED
    assert sample("yatri_breaker_state", name=breaker.name) == 0
    assert sample("yatri_breaker_transitions_total", name=breaker.name, to="closed") == 1


async def test_trial_failure_reopens_and_restarts_the_timer() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        name=unique("b"), failure_threshold=2, reset_timeout_s=5.0, clock=clock
    )
    await trip(breaker, 2)
    clock.now += 5.0
    assert breaker.state is BreakerState.HALF_OPEN
    await trip(breaker, 1)  # one trial failure is enough, whatever the threshold
    assert breaker.state is BreakerState.OPEN
    clock.now += 4.0
    assert breaker.state is BreakerState.OPEN
    clock.now += 1.0
    assert breaker.state is BreakerState.HALF_OPEN
    assert sample("yatri_breaker_transitions_total", name=breaker.name, to="open") == 2


async def test_rejected_requests_do_not_trip_the_breaker() -> None:
    breaker = CircuitBreaker(name=unique("b"), failure_threshold=2, clock=FakeClock())
    wrong_request = FlakySupplier(failures=10, retryable=False)
    for _ in range(5):
        with pytest.raises(SupplierError):
            await call_through(breaker, wrong_request)
    assert breaker.state is BreakerState.CLOSED


# -- bulkhead ----------------------------------------------------------------------------------


async def test_bulkhead_caps_concurrency() -> None:
    bulkhead = Bulkhead(name=unique("h"), max_concurrent=2, max_wait_s=5.0)
    peak = 0

    async def work() -> None:
        nonlocal peak
        async with bulkhead.slot():
            peak = max(peak, bulkhead.in_flight)
            await asyncio.sleep(0.02)

    await asyncio.gather(*(work() for _ in range(6)))
    assert peak == 2
    assert bulkhead.in_flight == 0
    assert sample("yatri_bulkhead_in_flight", name=bulkhead.name) == 0


async def test_bulkhead_rejects_after_max_wait() -> None:
    bulkhead = Bulkhead(name=unique("h"), max_concurrent=1, max_wait_s=0.05)
    release = asyncio.Event()

    async def hold() -> None:
        async with bulkhead.slot():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    assert sample("yatri_bulkhead_in_flight", name=bulkhead.name) == 1
    started = time.monotonic()
    with pytest.raises(BulkheadFullError) as caught:
        async with bulkhead.slot():
            pass
    assert 0.04 <= time.monotonic() - started < 0.5
    assert caught.value.is_retryable is False
    assert sample("yatri_bulkhead_rejected_total", name=bulkhead.name) == 1
    release.set()
    await holder


# -- call_with_resilience ----------------------------------------------------------------------


def parts(*, failure_threshold: int = 100) -> tuple[CircuitBreaker, Bulkhead]:
    return (
        CircuitBreaker(name=unique("s"), failure_threshold=failure_threshold),
        Bulkhead(name=unique("s"), max_concurrent=4, max_wait_s=1.0),
    )


FAST = CallOptions(timeout_s=1.0, max_attempts=3, backoff_initial_s=0.001, backoff_max_s=0.005)


async def test_retryable_errors_are_retried_until_success() -> None:
    breaker, bulkhead = parts()
    supplier = FlakySupplier(failures=2)
    result = await call_with_resilience(
        supplier, breaker=breaker, bulkhead=bulkhead, options=FAST, deadline=Deadline.after(5)
    )
    assert result == "ok"
    assert supplier.calls == 3


async def test_non_retryable_error_is_raised_at_once() -> None:
    breaker, bulkhead = parts()
    supplier = FlakySupplier(failures=5, retryable=False)
    with pytest.raises(SupplierError, match="failure 1"):
        await call_with_resilience(
            supplier, breaker=breaker, bulkhead=bulkhead, options=FAST, deadline=Deadline.after(5)
        )
    assert supplier.calls == 1


async def test_attempts_stop_at_max_and_the_last_error_is_raised() -> None:
    breaker, bulkhead = parts()
    supplier = FlakySupplier(failures=100)
    with pytest.raises(SupplierError, match="failure 3"):
        await call_with_resilience(
            supplier, breaker=breaker, bulkhead=bulkhead, options=FAST, deadline=Deadline.after(5)
        )
    assert supplier.calls == 3


async def test_open_circuit_fails_fast_without_retrying() -> None:
    breaker, bulkhead = parts(failure_threshold=1)
    await trip(breaker, 1)
    supplier = FlakySupplier(failures=0)
    with pytest.raises(CircuitOpenError):
        await call_with_resilience(
            supplier, breaker=breaker, bulkhead=bulkhead, options=FAST, deadline=Deadline.after(5)
        )
    assert supplier.calls == 0


async def test_slow_supplier_is_cut_off_at_the_deadline_and_trips_the_breaker() -> None:
    breaker, bulkhead = parts(failure_threshold=1)
    supplier = FlakySupplier(failures=0, delay_s=10.0)
    options = CallOptions(timeout_s=5.0, max_attempts=5)
    started = time.monotonic()
    with pytest.raises(SupplierTimeoutError):
        await call_with_resilience(
            supplier,
            breaker=breaker,
            bulkhead=bulkhead,
            options=options,
            deadline=Deadline.after(0.2),
        )
    assert time.monotonic() - started < 0.2 + 0.1
    assert supplier.calls == 1
    assert breaker.state is BreakerState.OPEN  # timeouts count as supplier failures


async def test_each_attempt_is_bounded_by_its_own_timeout() -> None:
    breaker, bulkhead = parts()
    supplier = FlakySupplier(failures=0, delay_s=10.0)
    options = CallOptions(timeout_s=0.03, max_attempts=2, backoff_initial_s=0.001)
    started = time.monotonic()
    with pytest.raises(SupplierTimeoutError):
        await call_with_resilience(
            supplier,
            breaker=breaker,
            bulkhead=bulkhead,
            options=options,
            deadline=Deadline.after(5),
        )
    assert supplier.calls == 2
    assert time.monotonic() - started < 0.5


async def test_backoff_window_grows_and_is_capped() -> None:
    """Full jitter draws from [0, min(initial * 2**n, max)]: check bounds and growing means."""
    options = CallOptions(timeout_s=1.0, max_attempts=5, backoff_initial_s=0.1, backoff_max_s=0.3)
    windows = [0.1, 0.2, 0.3, 0.3]
    sleeps: list[list[float]] = [[] for _ in windows]

    for _ in range(200):
        recorded: list[float] = []

        async def record(seconds: float, recorded: list[float] = recorded) -> None:
            recorded.append(seconds)

        breaker, bulkhead = parts()
        with pytest.raises(SupplierError):
            await call_with_resilience(
                FlakySupplier(failures=100),
                breaker=breaker,
                bulkhead=bulkhead,
                options=options,
                deadline=Deadline.after(60),
                sleep=record,
            )
        assert len(recorded) == len(windows)
        for bucket, seconds in zip(sleeps, recorded, strict=True):
            bucket.append(seconds)

    for bucket, window in zip(sleeps, windows, strict=True):
        assert all(0 <= s <= window for s in bucket)
    means = [sum(bucket) / len(bucket) for bucket in sleeps]
    assert means[0] < means[1] < means[2]  # about 0.05, 0.1, 0.15


async def test_backoff_never_sleeps_past_the_deadline() -> None:
    clock = FakeClock()
    deadline = Deadline.after(0.5, clock=clock)
    options = CallOptions(timeout_s=1.0, max_attempts=50, backoff_initial_s=1.0, backoff_max_s=1.0)
    recorded: list[float] = []

    async def sleep(seconds: float) -> None:
        assert seconds < deadline.remaining()
        recorded.append(seconds)
        clock.now += seconds

    breaker, bulkhead = parts()
    supplier = FlakySupplier(failures=1000)
    with pytest.raises(SupplierError):
        await call_with_resilience(
            supplier,
            breaker=breaker,
            bulkhead=bulkhead,
            options=options,
            deadline=deadline,
            sleep=sleep,
        )
    assert sum(recorded) < 0.5
    assert supplier.calls == len(recorded) + 1
