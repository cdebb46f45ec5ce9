"""The chat turn: typed text in, Yatri's reply, understanding and data out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import optional_traveller
from api.deps import ServicesDep
from api.problems import PROBLEM_RESPONSES
from core.deadline import answer_within
from sessions.engine import SESSION_ID_PATTERN

router = APIRouter(prefix="/v1", tags=["conversation"])


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: str | None = Field(
        default=None,
        pattern=SESSION_ID_PATTERN,
        description="Continue this conversation; omit to start a new one.",
    )
    text: str = Field(min_length=1, max_length=2000, description="What the traveller said.")


class ChatResponse(BaseModel):
    session_id: str
    reply: str
    intent: str
    slots: dict[str, Any]
    data: dict[str, Any]


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses=PROBLEM_RESPONSES,
    summary="One conversation turn",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "examples": {
                        "search": {"value": {"text": "flights from Delhi to Mumbai on 5 December"}},
                        "follow-up": {
                            "value": {
                                "session_id": "s3ssion-id-from-before",
                                "text": "make it 2 adults",
                            }
                        },
                    }
                }
            }
        }
    },
)
async def chat(body: ChatRequest, request: Request, services: ServicesDep) -> ChatResponse:
    traveller_id = _traveller(request, services)
    settings = services.settings
    async with answer_within(
        settings.request_timeout_s, reserve_s=settings.request_reply_reserve_s
    ):
        result = await services.engine.handle(
            text=body.text, session_id=body.session_id, channel="chat", traveller_id=traveller_id
        )
    return ChatResponse(
        session_id=result.session_id,
        reply=result.reply,
        intent=result.intent,
        slots=result.slots,
        data=result.data,
    )


def _traveller(request: Request, services: ServicesDep) -> str | None:
    """The signed-in traveller (the same token as /v1/bookings), or None for a guest. An
    agent's token is refused: in a conversation a "yes" moves money, and an agent may not say
    it for the traveller."""
    return optional_traveller(
        request.headers.get("authorization"),
        secret=services.settings.secret_key.get_secret_value(),
        agents="agents act through the MCP tools, not the traveller's chat",
    )
