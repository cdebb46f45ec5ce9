"""One turn as the engine and its skills see it: who is talking, when, the dialogue state,
and the reply and data being built."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sessions.state import DialogueState


class Next(StrEnum):
    """How an action step ended."""

    DONE = "done"  # mark it done and go on to the next step
    RETRY = "retry"  # the state changed (a slot was dropped): walk the flow again
    WAIT = "wait"  # the turn ends here; the traveller's next turn continues it
    END = "end"  # the flow is over (finished, refused or impossible)


@dataclass(slots=True)
class Turn:
    session_id: str
    channel: str
    traveller_id: str | None
    now: dt.datetime
    today: dt.date
    text: str
    state: DialogueState
    caller: str | None = None  # a phone caller's number (E.164), as the provider gave it
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)  # looked up once per turn (a profile)

    def say(self, *lines: str) -> None:
        self.lines.extend(line for line in lines if line)

    @property
    def reply(self) -> str:
        return " ".join(self.lines)
