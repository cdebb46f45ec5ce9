"""Rate limits: a port that takes one request from a shared allowance, and the rule Yatri
applies to a caller (every identity it has: source address, traveller, API key).

The allowance is a generic cell rate (GCRA): `limit` requests at once, then one every
`window_s / limit` seconds. A store shared by every process (Redis, `core/redis_ratelimit.py`)
keeps one cell per group and identity, so the limit holds across processes and hosts."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from core.errors import DependencyUnavailableError, RateLimitedError
from core.logging import get_logger
from core.telemetry import RATE_LIMIT_ALLOWANCE, RATE_LIMIT_DECISIONS

log = get_logger("yatri.ratelimit")


@dataclass(frozen=True, slots=True)
class Allowance:
    """`limit` requests per `window_s` seconds, the whole of it usable at once."""

    limit: int
    window_s: float

    @property
    def interval_ms(self) -> int:
        """The steady-state time between two requests."""
        return max(1, round(self.window_s * 1000 / self.limit))


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_ms: int  # 0 when allowed
    remaining: int


class RateLimiter(Protocol):
    """One atomic take from the allowance stored under `key`."""

    async def take(self, key: str, *, allowance: Allowance) -> Verdict:
        """Raises DependencyUnavailableError when the store does not answer."""
        ...


class IdentityKind(StrEnum):
    ADDRESS = "address"
    TRAVELLER = "traveller"
    KEY = "key"  # an API key or a service's token: the content team, an agent


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request comes from, as far as limits go (None: not known or not limited)."""

    address: str | None
    traveller: str | None = None
    key: str | None = None

    def identities(self) -> Iterator[tuple[IdentityKind, str]]:
        if self.address:
            yield IdentityKind.ADDRESS, self.address
        if self.traveller:
            yield IdentityKind.TRAVELLER, self.traveller
        if self.key:
            yield IdentityKind.KEY, self.key


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """Requests per window for each kind of identity; `overrides` by (group, kind)."""

    per_address: int
    per_traveller: int
    per_key: int
    window_s: float
    overrides: Mapping[tuple[str, IdentityKind], int] = field(default_factory=dict)

    def allowance(self, group: str, kind: IdentityKind) -> Allowance:
        default = {
            IdentityKind.ADDRESS: self.per_address,
            IdentityKind.TRAVELLER: self.per_traveller,
            IdentityKind.KEY: self.per_key,
        }[kind]
        return Allowance(limit=self.overrides.get((group, kind), default), window_s=self.window_s)


class RateLimits:
    """Admits a caller to a group of routes when every identity it has is within its
    allowance; a store that fails admits (a limiter outage must not become an outage)."""

    def __init__(
        self, *, limiter: RateLimiter, policy: RateLimitPolicy, namespace: str, groups: list[str]
    ) -> None:
        self._limiter = limiter
        self._policy = policy
        self._ns = namespace
        for group in groups:  # the limits, readable in /metrics
            for kind in IdentityKind:
                allowance = policy.allowance(group, kind)
                RATE_LIMIT_ALLOWANCE.labels(group, kind.value).set(allowance.limit)

    async def admit(self, group: str, caller: Caller) -> None:
        """Take one request from each of the caller's allowances; RateLimitedError (429) when
        one is spent. A refused take costs nothing, so a caller that waits `retry_after_s` is
        admitted."""
        for kind, identity in caller.identities():
            allowance = self._policy.allowance(group, kind)
            # Hashed: addresses and traveller ids are personal data, key names are not.
            digest = hashlib.blake2b(identity.encode(), digest_size=12).hexdigest()
            try:
                verdict = await self._limiter.take(
                    f"{self._ns}:rate:{group}:{kind.value}:{digest}", allowance=allowance
                )
            except DependencyUnavailableError:
                RATE_LIMIT_DECISIONS.labels(group, kind.value, "unchecked").inc()
                log.warning("rate limit store unavailable; request admitted", group=group)
                continue
            if not verdict.allowed:
                RATE_LIMIT_DECISIONS.labels(group, kind.value, "limited").inc()
                retry_after_s = max(1, math.ceil(verdict.retry_after_ms / 1000))
                raise RateLimitedError(
                    f"too many {group} requests from this {kind.value}; retry after "
                    f"{retry_after_s} s",
                    retry_after_s=retry_after_s,
                    limit=allowance.limit,
                    window_s=allowance.window_s,
                )
            RATE_LIMIT_DECISIONS.labels(group, kind.value, "allowed").inc()
