"""Fair sharing of a process's voice streams.

Decoding is the scarce thing, so a process serves at most a fixed number of streams, and fewer
when its decode scheduler says one more call would push the calls it serves past their budget
(`DecodeCapacity`, measured from decode and queue times). `StreamAdmission` decides who gets one: a source (a traveller, a caller's number, an anonymous visitor's
address) holds a few at most; the last slots go only to sources that hold none yet, so one
busy source cannot take the slots new callers need; anonymous visitors together hold at most
a share. `SilenceBudget` closes a stream on which nobody has been heard for too long, so a
socket that trickles silence cannot keep its slot.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class AdmissionRefused(Exception):
    """No slot for this stream; `reason` is a metric label, the message says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    total: int  # streams this process serves at once
    per_source: int  # streams one source may hold at once
    new_caller_share: float = 0.25  # of `total`, kept for sources that hold no stream yet
    anonymous_share: float = 0.5  # of `total`, the most anonymous visitors hold together

    def __post_init__(self) -> None:
        if self.total <= 0 or self.per_source <= 0:
            raise ValueError("stream limits must be positive")
        if not (0 <= self.new_caller_share < 1 and 0 < self.anonymous_share <= 1):
            raise ValueError("shares must lie in [0, 1)")

    @property
    def reserved(self) -> int:
        """Slots only a source without a stream may take (never all of them)."""
        return min(self.total - 1, math.floor(self.total * self.new_caller_share))

    @property
    def anonymous(self) -> int:
        return max(1, math.floor(self.total * self.anonymous_share))


class DecodeCapacity(Protocol):
    """The decode scheduler's view of load (voice.scheduler.DecodeScheduler)."""

    def refusal(self, *, active: int) -> str | None:
        """Why one more call beside `active` would not fit, or None if it fits."""
        ...


class Lease:
    """One admitted stream; `release` (idempotent) gives the slot back."""

    def __init__(self, admission: StreamAdmission, *, source: str, anonymous: bool) -> None:
        self._admission = admission
        self.source = source
        self.anonymous = anonymous
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._admission._give_back(self)


class StreamAdmission:
    """Admits streams in this process; `admit` never waits (a refused stream is closed with
    1013 and the reason, and the caller tries again later). With `capacity`, a stream is also
    refused when the decoder cannot take one more call without the others missing their budget."""

    def __init__(self, limits: AdmissionLimits, *, capacity: DecodeCapacity | None = None) -> None:
        self.limits = limits
        self.capacity = capacity
        self._by_source: Counter[str] = Counter()
        self._anonymous = 0

    @property
    def limit(self) -> int:
        return self.limits.total

    @property
    def active(self) -> int:
        return sum(self._by_source.values())

    def admit(self, *, source: str, anonymous: bool) -> Lease:
        limits, active, held = self.limits, self.active, self._by_source[source]
        if active >= limits.total:
            raise AdmissionRefused(
                "over_limit", f"too many concurrent voice streams (limit {limits.total})"
            )
        if held >= limits.per_source:
            raise AdmissionRefused(
                "source_limit", f"this caller already has {held} voice streams open"
            )
        if held and active >= limits.total - limits.reserved:
            raise AdmissionRefused(
                "reserved", "the remaining voice streams are kept for new callers"
            )
        if anonymous and self._anonymous >= limits.anonymous:
            raise AdmissionRefused(
                "anonymous_share", "too many guest voice streams; sign in or try again later"
            )
        overloaded = self.capacity.refusal(active=active) if self.capacity else None
        if overloaded is not None:
            raise AdmissionRefused("decode_capacity", f"voice decoding is busy ({overloaded})")
        self._by_source[source] += 1
        self._anonymous += anonymous
        return Lease(self, source=source, anonymous=anonymous)

    def _give_back(self, lease: Lease) -> None:
        self._by_source[lease.source] -= 1
        if self._by_source[lease.source] <= 0:
            del self._by_source[lease.source]
        self._anonymous -= lease.anonymous


class Heard(Protocol):
    """What the budget needs to know about a call."""

    def last_heard(self) -> float:
        """`time.monotonic()` when the caller was last heard or a reply last played."""
        ...

    def busy(self) -> bool:
        """Hearing an utterance, answering it, or speaking a reply."""
        ...


class SilenceBudget:
    """How long a stream may go without anyone being heard. While the call is busy (an
    utterance under way, a turn or a reply in progress) the close waits, but only for
    `busy_grace_s` more: audio that never becomes a turn does not keep a slot either."""

    def __init__(
        self,
        *,
        limit_s: float,
        busy_grace_s: float,
        recheck_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit_s = limit_s
        self._busy_grace_s = busy_grace_s
        self._recheck_s = recheck_s
        self._clock = clock

    def remaining_s(self, call: Heard) -> float:
        """Seconds until the stream is due to close; 0 when it is due now."""
        quiet = self._clock() - call.last_heard()
        if quiet < self.limit_s:
            return self.limit_s - quiet
        if call.busy() and quiet < self.limit_s + self._busy_grace_s:
            return min(self._recheck_s, self.limit_s + self._busy_grace_s - quiet)
        return 0.0
