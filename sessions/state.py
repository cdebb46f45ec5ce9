"""Dialogue state: typed, versioned, stored with the conversation in Redis.

A stack of flow frames (the flow under way on top; a digression pushes, its end pops and the
interrupted flow resumes), the offers last shown (so "the second one" resolves), the last
search's slots, and what the next turn is expected to give. A state written by another version
is migrated when it can be and reset with a plain message when it cannot; never a 500.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

STATE_VERSION = 2


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ShownOffer(_Model):
    """An offer as shown to the traveller: enough to name it again and to book it."""

    offer_id: str
    carrier: str
    carrier_code: str
    flight_number: str
    fare_family: str
    cabin: str
    origin: str
    destination: str
    departure: dt.datetime
    arrival: dt.datetime
    total_paise: int
    adults: int = 1
    children: int = 0
    infants: int = 0
    stops: int = 0


class Frame(_Model):
    """One flow under way: its slots, the steps it has done, how often it re-asked."""

    flow: str
    slots: dict[str, Any] = Field(default_factory=dict)
    done: list[str] = Field(default_factory=list)
    reasks: int = 0
    data: dict[str, Any] = Field(default_factory=dict)  # quotes, booking ids, reviewed totals


class DialogueState(_Model):
    version: int = STATE_VERSION
    stack: list[Frame] = Field(default_factory=list)
    offers: list[ShownOffer] = Field(default_factory=list)
    search: dict[str, Any] = Field(default_factory=dict)  # the last search's slots
    expecting: str | None = None
    failures: int = 0  # turns in a row that could not be understood
    # A phone caller's identity: the code sent (traveller, caller number) and, once it was
    # said back, who the caller is on this channel and number (sessions/skills/identity.py).
    verifying: dict[str, str] | None = None
    verified: dict[str, str] | None = None
    # Two close readings asked between: their intents and the words they were read from.
    clarify: dict[str, Any] | None = None

    @property
    def top(self) -> Frame | None:
        return self.stack[-1] if self.stack else None

    def push(self, frame: Frame) -> Frame:
        self.stack.append(frame)
        del self.stack[:-4]  # a bounded stack: the oldest interruptions are forgotten
        return frame

    def pop(self) -> Frame | None:
        return self.stack.pop() if self.stack else None


def load_state(raw: dict[str, Any] | None, *, legacy_slots: dict[str, Any]) -> tuple[DialogueState, bool]:  # fmt: skip
    """The stored state, migrated if it is older; (state, reset) where `reset` says an
    unreadable state was replaced by a fresh one."""
    if raw is None:
        # Version 1 kept only the flight search's slots beside the conversation.
        return DialogueState(search=dict(legacy_slots)), False
    if raw.get("version") != STATE_VERSION:
        return DialogueState(), True
    try:
        return DialogueState.model_validate(raw), False
    except ValidationError:
        return DialogueState(), True
