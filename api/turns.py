"""A spoken turn for every voice route (app stream, phone streams, ASR webhooks): the same
engine as chat, on the call's session, within the request deadline."""

from __future__ import annotations

from collections.abc import Mapping

from api.deps import Services
from core.deadline import answer_within
from voice.call import SpokenReply, TurnHandler


def turn_handler(
    services: Services,
    *,
    session_id: str,
    channel: str,
    traveller_id: str | None = None,
    caller: str | None = None,
) -> TurnHandler:
    """The voice call's turn: the same engine as chat, on this call's session.
    `traveller_id` is the signed-in traveller the app's stream token was minted for. `caller`
    is the number the provider says the call comes from: it names a profile to send a
    one-time code to, and proves nothing by itself."""
    settings = services.settings

    async def handle(text: str, *, unsure: Mapping[str, str] | None = None) -> SpokenReply:
        async with answer_within(
            settings.request_timeout_s, reserve_s=settings.request_reply_reserve_s
        ):
            result = await services.engine.handle(
                text=text,
                session_id=session_id,
                channel=channel,
                traveller_id=traveller_id,
                caller=caller,
                unsure=unsure,
            )
        return SpokenReply(
            text=result.reply,
            data={"intent": result.intent, "slots": result.slots, "data": result.data},
        )

    return handle
