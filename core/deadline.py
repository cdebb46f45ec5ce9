"""One deadline per request, set where the request comes in and honoured by every outbound call
below it: a call's timeout is the smaller of its own and what the request has left, less a
reserve kept for the reply. Without a request deadline, calls keep their own timeouts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from core.errors import DeadlineExceededError
from core.resilience import Deadline

Clock = Callable[[], float]

# A reserve over half the deadline would leave the calls it protects next to nothing.
_MAX_RESERVE_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class RequestDeadline:
    """When the request must be answered, and when its outbound calls must give up."""

    expires_at: float
    calls_end_at: float  # expires_at less the reply's reserve
    clock: Clock = field(default=time.monotonic, repr=False)

    def remaining(self) -> float:
        return max(0.0, self.expires_at - self.clock())

    def for_calls(self) -> float:
        """What is left for outbound calls: the time remaining less the reply's reserve."""
        return max(0.0, self.calls_end_at - self.clock())


_CURRENT: ContextVar[RequestDeadline | None] = ContextVar("yatri_request_deadline", default=None)


@contextmanager
def request_deadline(
    seconds: float, *, reserve_s: float = 0.0, clock: Clock = time.monotonic
) -> Iterator[RequestDeadline]:
    """Set the request's deadline ``seconds`` from now for the body (and the tasks it starts);
    inside another request deadline the earlier of the two holds."""
    now = clock()
    reserve = min(reserve_s, seconds * _MAX_RESERVE_SHARE)
    mine = RequestDeadline(now + seconds, now + seconds - reserve, clock)
    outer = _CURRENT.get()
    if outer is not None:
        mine = RequestDeadline(
            min(mine.expires_at, outer.expires_at), min(mine.calls_end_at, outer.calls_end_at),
            clock,
        )  # fmt: skip
    token = _CURRENT.set(mine)
    try:
        yield mine
    finally:
        _CURRENT.reset(token)


@asynccontextmanager
async def answer_within(
    seconds: float, *, reserve_s: float = 0.0
) -> AsyncIterator[RequestDeadline]:
    """The request deadline for the body, enforced: calls below give up in time for the reply,
    and should the body still run past the deadline it is cancelled and
    ``DeadlineExceededError`` raised."""
    with request_deadline(seconds, reserve_s=reserve_s) as deadline:
        backstop = asyncio.timeout(deadline.remaining())
        try:
            async with backstop:
                yield deadline
        except TimeoutError as e:
            if not backstop.expired():
                raise
            raise DeadlineExceededError(f"no answer within {seconds:g} s") from e


def current() -> RequestDeadline | None:
    """The request deadline in force, or None outside one."""
    return _CURRENT.get()


def remaining() -> float | None:
    """Seconds left before the request's deadline; None outside a request deadline."""
    deadline = _CURRENT.get()
    return None if deadline is None else deadline.remaining()


def time_for_calls() -> float | None:
    """Seconds an outbound call may still take (the reply's reserve kept back); None outside a
    request deadline."""
    deadline = _CURRENT.get()
    return None if deadline is None else deadline.for_calls()


def call_budget(own_s: float) -> float:
    """A call's timeout: ``own_s``, cut to what the request leaves for outbound calls."""
    left = time_for_calls()
    return own_s if left is None else min(own_s, left)


def call_deadline(own_s: float) -> Deadline:
    """A resilience ``Deadline`` ``call_budget(own_s)`` from now."""
    return Deadline.after(call_budget(own_s))
