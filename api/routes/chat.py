"""The chat turn: typed text in, Yatri's reply, understanding and data out."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ServicesDep
from api.problems import PROBLEM_RESPONSES
from core.errors import DeadlineExceededError

router = APIRouter(prefix="/v1", tags=["conversation"])

SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"


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
async def chat(body: ChatRequest, services: ServicesDep) -> ChatResponse:
    try:
        async with asyncio.timeout(services.settings.request_timeout_s):
            result = await services.engine.handle(
                text=body.text, session_id=body.session_id, channel="chat"
            )
    except TimeoutError as e:
        raise DeadlineExceededError(
            f"no answer within {services.settings.request_timeout_s:g} s"
        ) from e
    return ChatResponse(
        session_id=result.session_id,
        reply=result.reply,
        intent=result.intent,
        slots=result.slots,
        data=result.data,
    )
