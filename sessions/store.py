"""The conversation store port (only what the turn engine needs), and the call directory's."""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field


class TurnRecord(BaseModel):
    role: Literal["traveller", "yatri"]
    text: str  # redacted before it is stored
    at: dt.datetime
    intent: str | None = None


class Conversation(BaseModel):
    """A conversation as stored: its slots so far and a bounded, redacted history."""

    session_id: str
    channel: str = "chat"
    created_at: dt.datetime
    updated_at: dt.datetime
    turns: int = 0
    last_intent: str | None = None
    slots: dict[str, Any] = Field(default_factory=dict)  # the flow's slots, for the API
    history: list[TurnRecord] = Field(default_factory=list)
    # The dialogue state (sessions/state.py), versioned; None in conversations from before it.
    state: dict[str, Any] | None = None
    state_version: int | None = None
    # The traveller whose conversation this is, from their first signed-in (or verified)
    # turn; nobody else may continue it, whatever session id they know.
    owner: str | None = None


class SessionUnreadableError(Exception):
    """A stored conversation that cannot be read (corrupt, or from an incompatible version)."""


class SessionStore(Protocol):
    async def load(self, session_id: str) -> Conversation | None:
        """The conversation, None when there is none; `SessionUnreadableError` when it is
        stored but unreadable."""
        ...

    async def save(self, conversation: Conversation) -> None:
        """Store ``conversation``; it expires after the store's TTL without another save."""
        ...

    def lock(self, session_id: str) -> AbstractAsyncContextManager[None]:
        """Serialise turns of one conversation across processes."""
        ...


class CallDirectory(Protocol):
    """Which conversation a phone call belongs to, so a turn heard on the phone (stream or
    webhook) continues the same conversation as one typed in chat."""

    async def session_for(self, *, provider: str, call_id: str, proposed: str) -> str:
        """The session already bound to this call, or `proposed`, bound now (first one wins)."""
        ...
