"""Credentials.

* Content team: a bearer API key, or a JWT (HS256, signed with YATRI_SECRET_KEY) whose `scope`
  claim includes `content:write`.
* Operations (/metrics, the detail of /readyz): the bearer key YATRI_OPS_API_KEY.
* Bookings: a JWT whose `sub` is the traveller and whose `scope` includes `bookings`; or an
  agent's JWT with scope `bookings:agent`, its own `sub`, and the traveller it acts for in
  `act_for`. Either way the caller acts for exactly one traveller.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import ServicesDep
from bookings.service import actor_name
from core.errors import ForbiddenError, UnauthorizedError

CONTENT_SCOPE = "content:write"
TRAVELLER_SCOPE = "bookings"
AGENT_SCOPE = "bookings:agent"


# The two credentials as OpenAPI security schemes (both travel as `Authorization: Bearer`);
# auto_error=False: a missing credential is Yatri's own 401 problem, not FastAPI's 403.
BEARER_JWT = HTTPBearer(
    scheme_name="bearerJWT",
    bearerFormat="JWT",
    description="A JWT signed HS256 with `YATRI_SECRET_KEY`, with `sub`, `exp` and a `scope`: "
    f"`{TRAVELLER_SCOPE}` (a traveller; `sub` is the traveller), `{AGENT_SCOPE}` (an agent; "
    f"`act_for` names the traveller) or `{CONTENT_SCOPE}` (the content team). In development: "
    "`yatri token --traveller ID`, `yatri token --agent ID --for TRAVELLER`, `yatri token --content`.",
    auto_error=False,
)
CONTENT_KEY = HTTPBearer(
    scheme_name="contentKey",
    description="The content team's API key (`YATRI_CONTENT_API_KEY`; `dev-content-key` in "
    "development) as a bearer token.",
    auto_error=False,
)
OPS_KEY = HTTPBearer(
    scheme_name="opsKey",
    description="The operations key (`YATRI_OPS_API_KEY`; `dev-ops-key` in development) as a "
    "bearer token: Prometheus scrapes `/metrics` with it, and `/readyz` answers each check's "
    "latency, version and detail only to it.",
    auto_error=False,
)
Credentials = HTTPAuthorizationCredentials | None


def require_content_scope(
    services: ServicesDep,
    key: Annotated[Credentials, Security(CONTENT_KEY)],
    token: Annotated[Credentials, Security(BEARER_JWT, scopes=[CONTENT_SCOPE])],
) -> str:
    """The actor behind a valid content credential: 401 without a valid one, 403 when a valid
    token lacks the content scope."""
    credentials = key or token  # the same header: two schemes only document it
    if credentials is None or not credentials.credentials.strip():
        raise UnauthorizedError(
            "this endpoint needs a content-team credential: Authorization: Bearer <key>"
        )
    presented = credentials.credentials.strip()
    api_key = services.settings.content_api_key.get_secret_value()
    if hmac.compare_digest(presented.encode(), api_key.encode()):
        return "content-api-key"
    claims = decode_token(presented, secret=services.settings.secret_key.get_secret_value())
    scopes = str(claims.get("scope", "")).split()
    if CONTENT_SCOPE not in scopes:
        raise ForbiddenError(f"the token lacks the {CONTENT_SCOPE} scope")
    return f"jwt:{claims['sub']}"


ContentActor = Annotated[str, Depends(require_content_scope)]


def is_ops_key(authorization: str | None, *, key: str) -> bool:
    """Whether an `Authorization` header value is `Bearer <the operations key>`."""
    scheme, _, presented = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), key.encode()
    )


def require_ops(
    services: ServicesDep, credentials: Annotated[Credentials, Security(OPS_KEY)]
) -> None:
    """401 unless the caller presents the operations key."""
    presented = f"Bearer {credentials.credentials}" if credentials else None
    if not is_ops_key(presented, key=services.settings.ops_api_key.get_secret_value()):
        raise UnauthorizedError("this endpoint needs the operations key: Authorization: Bearer")


OpsAccess = Depends(require_ops)


def issue_token(
    *, secret: str, sub: str, scope: str, ttl_s: int, act_for: str | None = None
) -> str:
    """A token `decode_token` accepts (the development `yatri token` command signs with it)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "scope": scope, "iat": now, "exp": now + ttl_s}
    if act_for is not None:
        claims["act_for"] = act_for
    return jwt.encode(claims, secret, algorithm="HS256")


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
        """Who asked, for whom (`bookings.service.actor_name`)."""
        return actor_name(traveller_id=self.traveller_id, agent_id=self.agent_id)


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


def optional_traveller(authorization: str | None, *, secret: str, agents: str) -> str | None:
    """The traveller behind an optional `Authorization: Bearer <JWT>` (chat, voice tokens):
    None without the header; 401 when it is malformed or invalid; an agent's token is refused
    (403, with the detail `agents`): in a conversation a "yes" moves money, and an agent may
    not say it for the traveller."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("send the traveller's token as Authorization: Bearer <token>")
    actor = booking_actor_from(token.strip(), secret=secret)
    if actor.agent_id is not None:
        raise ForbiddenError(agents)
    return actor.traveller_id


def require_booking_actor(
    services: ServicesDep,
    credentials: Annotated[
        Credentials, Security(BEARER_JWT, scopes=[TRAVELLER_SCOPE, AGENT_SCOPE])
    ],
) -> BookingActor:
    """A traveller's or an agent's token (either scope; `app.openapi` lists them as
    alternatives)."""
    if credentials is None or not credentials.credentials.strip():
        raise UnauthorizedError("bookings need a traveller or agent token: Authorization: Bearer")
    return booking_actor_from(
        credentials.credentials.strip(), secret=services.settings.secret_key.get_secret_value()
    )


BookingActorDep = Annotated[BookingActor, Depends(require_booking_actor)]


def require_traveller(
    services: ServicesDep,
    credentials: Annotated[Credentials, Security(BEARER_JWT, scopes=[TRAVELLER_SCOPE])],
) -> str:
    """The signed-in traveller's id; agents are refused (what is theirs alone: a profile)."""
    if credentials is None or not credentials.credentials.strip():
        raise UnauthorizedError("send the traveller's token: Authorization: Bearer <token>")
    actor = booking_actor_from(
        credentials.credentials.strip(), secret=services.settings.secret_key.get_secret_value()
    )
    if actor.agent_id is not None:
        raise ForbiddenError("a traveller's profile is theirs to read and change, not an agent's")
    return actor.traveller_id


TravellerDep = Annotated[str, Depends(require_traveller)]
