"""Credentials for the content team's endpoints: a bearer API key, or a JWT (HS256, signed with
YATRI_SECRET_KEY) whose ``scope`` claim includes ``content:write``."""

from __future__ import annotations

import hmac
from typing import Annotated

import jwt
from fastapi import Depends, Request

from api.deps import ServicesDep
from core.errors import ForbiddenError, UnauthorizedError

CONTENT_SCOPE = "content:write"


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
    try:
        claims = jwt.decode(
            token,
            services.settings.secret_key.get_secret_value(),
            algorithms=["HS256"],
            options={"require": ["exp", "sub"]},
        )
    except jwt.PyJWTError as e:
        raise UnauthorizedError("the credential is invalid or expired") from e
    scopes = str(claims.get("scope", "")).split()
    if CONTENT_SCOPE not in scopes:
        raise ForbiddenError(f"the token lacks the {CONTENT_SCOPE} scope")
    return f"jwt:{claims['sub']}"


ContentActor = Annotated[str, Depends(require_content_scope)]
