"""What a voice stream's transport needs from its websocket, and how it says the stream ends.

The routes adapt their socket to `Line` and hand it to `voice.app_stream` or
`voice.telephony`; those end a stream they cannot (or need no longer) serve by raising
`StreamEnded`, which the route turns into a close code and reason.
"""

from __future__ import annotations

from typing import Literal, Protocol, TypeAlias

from voice.call import VoiceCall

EndKind: TypeAlias = Literal["stopped", "malformed", "protocol", "unauthenticated"]


class StreamEnded(Exception):
    """The stream ends here: `stopped` (the caller asked), `malformed` (a frame its protocol
    does not allow), `protocol` (a message out of place) or `unauthenticated` (no valid
    credential for it); `reason` says what, for the close frame."""

    def __init__(self, kind: EndKind, reason: str) -> None:
        super().__init__(reason)
        self.kind: EndKind = kind
        self.reason = reason


class Line(Protocol):
    """One voice websocket as a transport needs it."""

    @property
    def address(self) -> str:
        """The peer's address (names a guest's stream for the per-source limits)."""
        ...

    async def receive(self) -> str | bytes:
        """The next frame, text or binary, under the stream's limits."""
        ...

    async def send_text(self, text: str) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...

    def admit(self, *, source: str, anonymous: bool) -> None:
        """Take a stream slot for `source`, or end the stream."""
        ...

    def attach(self, call: VoiceCall) -> None:
        """The call now running on this line (its silence budget applies)."""
        ...
