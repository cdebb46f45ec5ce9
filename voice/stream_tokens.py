"""Stream tokens: what a voice stream presents to be served, and the session it may join.

A token is an opaque random string Yatri hands out over an authenticated HTTP call (the app's
`POST /v1/voice/tokens`, Twilio's signed voice webhook); the store keeps what it grants for a
short time, and redeeming it deletes it, so a token opens one stream once. The grant names the
session, so a socket can join only the conversation its token was minted for. The Redis store
is voice/redis_stream_tokens.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

StreamKind = Literal["app", "twilio", "plivo", "vonage"]


@dataclass(frozen=True, slots=True)
class StreamGrant:
    """What a redeemed token allows: one stream of `kind` on `session_id`."""

    kind: StreamKind
    session_id: str
    traveller_id: str | None = None  # a signed-in traveller (the app)
    caller: str | None = None  # the number a phone call comes from (unproven)
    call_id: str | None = None  # the provider's call the token was issued for


class StreamTokenStore(Protocol):
    """Single-use stream tokens, and which traveller a voice session belongs to."""

    async def mint(self, grant: StreamGrant) -> str:
        """A fresh token for `grant`, valid once for the store's TTL."""
        ...

    async def redeem(self, token: str, *, kind: StreamKind) -> StreamGrant | None:
        """The grant of an unused, unexpired token of `kind`, consumed; None otherwise."""
        ...

    async def bind_owner(self, *, session_id: str, owner: str | None, ttl_s: float) -> bool:
        """Bind a voice session to the traveller who first opens it (`owner`), and say whether
        `owner` may open it: a session bound to a traveller is theirs alone; a guest (None)
        may open only a session no traveller holds."""
        ...

    async def first_answer(self, *, provider: str, call_id: str, ttl_s: float) -> bool:
        """True the first time a provider's call asks for its stream; a replayed answer
        webhook gets False and no second token."""
        ...
