"""A spoken turn for every voice route (app stream, phone streams, ASR webhooks): the same
engine as chat, on the call's session, within the request deadline."""

from __future__ import annotations

import asyncio

from api.deps import Services
from core.errors import DeadlineExceededError
from voice.call import SpokenReply, TurnHandler


def turn_handler(services: Services, *, session_id: str, channel: str) -> TurnHandler:
    """The voice call's turn: the same engine as chat, on this call's session."""
    timeout_s = services.settings.request_timeout_s

    async def handle(text: str) -> SpokenReply:
        try:
            async with asyncio.timeout(timeout_s):
                result = await services.engine.handle(
                    text=text, session_id=session_id, channel=channel
                )
        except TimeoutError as e:
            raise DeadlineExceededError(f"no answer within {timeout_s:g} s") from e
        return SpokenReply(
            text=result.reply,
            data={"intent": result.intent, "slots": result.slots, "data": result.data},
        )

    return handle
