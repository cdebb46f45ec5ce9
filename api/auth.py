"""Credentials.

* Content team: a bearer API key, or a JWT (HS256, signed with YATRI_SECRET_KEY) whose `scope`
  claim includes `content:write`.
* Bookings: a JWT whose `sub` is the traveller and whose `scope` includes `bookings`; or an
  agent's JWT with scope `bookings:agent`, its own `sub`, and the traveller it acts for in
  `act_for`. Either way the caller acts for exactly one traveller.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from api.deps import ServicesDep
from core.errors import ForbiddenError, UnauthorizedError

CONTENT_SCOPE = "content:write"
TRAVELLER_SCOPE = "bookings"
AGENT_SCOPE = "bookings:agent"


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError(
            "this endpoint needs a content-team credential: Authorization: Bearer <key>"
        )
    return token.strip()


def require_content_scope(request: Request, services: ServicesDep) -> str:
    """The actor behind a valid content credential: 401 without a valid one, 403 when a valid
    token lacks the content scope."""
    token = _bearer(request)
    key = services.settings.content_api_key.get_secret_value()
    if hmac.compare_digest(token.encode(), key.encode()):
        return "content-api-key"
    claims = decode_token(token, secret=services.settings.secret_key.get_secret_value())
    scopes = str(claims.get("scope", "")).split()
    if CONTENT_SCOPE not in scopes:
        raise ForbiddenError(f"the token lacks the {CONTENT_SCOPE} scope")
    return f"jwt:{claims['sub']}"


ContentActor = Annotated[str, Depends(require_content_scope)]


def decode_token(token: str, *, secret: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError as e:
        raise UnauthorizedError("the credential is invalid or expired") from e
    return claims


@dataclass(frozen=True, slots=True)
class BookingActor:
    """Who is calling, and for which traveller."""

    traveller_id: str
    agent_id: str | None = None

    @property
    def name(self) -> str:
        """Who asked, for whom: idempotency keys and the bookings they derive are scoped to it,
        so an agent's key used for two travellers names two different operations."""
        if self.agent_id:
            return f"agent:{self.agent_id}:for:{self.traveller_id}"
        return f"traveller:{self.traveller_id}"


def booking_actor_from(token: str, *, secret: str) -> BookingActor:
    claims = decode_token(token, secret=secret)
    scopes = str(claims.get("scope", "")).split()
    if AGENT_SCOPE in scopes:
        act_for = claims.get("act_for")
        if not isinstance(act_for, str) or not act_for:
            raise ForbiddenError("an agent token must name the traveller it acts for (act_for)")
        return BookingActor(traveller_id=act_for, agent_id=str(claims["sub"]))
    if TRAVELLER_SCOPE in scopes:
        return BookingActor(traveller_id=str(claims["sub"]))
    raise ForbiddenError(f"the token lacks the {TRAVELLER_SCOPE} scope")


def require_booking_actor(request: Request, services: ServicesDep) -> BookingActor:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("bookings need a traveller or agent token: Authorization: Bearer")
    return booking_actor_from(token.strip(), secret=services.settings.secret_key.get_secret_value())


BookingActorDep = Annotated[BookingActor, Depends(require_booking_actor)]
