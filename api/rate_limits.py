"""Rate limits over HTTP: who a request comes from, and the dependency a router or a route
attaches (`Depends(rate_limited("chat"))`) to be limited as one group of routes."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from fastapi import Request

from api.auth import AGENT_SCOPE, CONTENT_SCOPE, TRAVELLER_SCOPE, decode_token
from api.deps import get_services
from core.errors import UnauthorizedError
from core.ratelimit import Caller, IdentityKind, RateLimiter, RateLimitPolicy, RateLimits
from core.settings import Settings

# The groups of routes limited separately; each identity has an allowance in each.
GROUPS = [
    "chat", "answers", "intents", "fares", "hotels", "bookings", "travellers", "voice-tokens",
    "webhooks",
]  # fmt: skip


def rate_limits(settings: Settings, *, limiter: RateLimiter) -> RateLimits:
    policy = RateLimitPolicy(
        per_address=settings.rate_limit_per_address,
        per_traveller=settings.rate_limit_per_traveller,
        per_key=settings.rate_limit_per_key,
        window_s=settings.rate_limit_window_s,
        overrides={("webhooks", IdentityKind.ADDRESS): settings.rate_limit_webhooks_per_address},
    )
    return RateLimits(
        limiter=limiter, policy=policy, namespace=settings.redis_namespace, groups=GROUPS
    )


def source_address(request: Request) -> str | None:
    """The client's address (the proxy's X-Forwarded-For where YATRI_FORWARDED_ALLOW_IPS trusts
    it); an IPv6 address counts as its /64, which one subscriber usually holds whole."""
    if request.client is None:
        return None
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return request.client.host or None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def caller_of(request: Request, settings: Settings) -> Caller:
    """The request's address and, when its bearer credential is valid, the traveller or key
    behind it. An invalid credential is left to the route (401); the address still counts."""
    address = source_address(request)
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    token = presented.strip()
    if scheme.lower() != "bearer" or not token:
        return Caller(address=address)
    content_key = settings.content_api_key.get_secret_value()
    if hmac.compare_digest(token.encode(), content_key.encode()):
        return Caller(address=address, key="content-api-key")
    try:
        claims = decode_token(token, secret=settings.secret_key.get_secret_value())
    except UnauthorizedError:
        return Caller(address=address)
    scopes, subject = str(claims.get("scope", "")).split(), str(claims["sub"])
    if AGENT_SCOPE in scopes:
        return Caller(address=address, key=f"agent:{subject}")
    if TRAVELLER_SCOPE in scopes:
        return Caller(address=address, traveller=subject)
    if CONTENT_SCOPE in scopes:
        return Caller(address=address, key=f"content:{subject}")
    return Caller(address=address)


def rate_limited(group: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency that answers 429 (problem+json, Retry-After) once the caller's address,
    traveller or key has spent its allowance on `group`; a refused request spends nothing."""
    if group not in GROUPS:
        raise ValueError(f"unknown rate-limit group {group!r}; add it to GROUPS")

    async def check(request: Request) -> None:
        services = get_services(request)
        if services.rate_limits is not None:
            await services.rate_limits.admit(group, caller_of(request, services.settings))

    return check
