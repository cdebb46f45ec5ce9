"""The spoken-intent API for other services: one utterance in, intent and slots out. Stateless."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ServicesDep
from api.problems import PROBLEM_RESPONSES
from core.errors import DependencyUnavailableError
from intents.models import Intent
from intents.parse import Parse, ParseContext

router = APIRouter(prefix="/v1/intents", tags=["understanding"])
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


class ContextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expecting: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^(?:confirmation|choice|traveller_details|otp|slot:[a-z_]{1,40})$",
        description="What the conversation awaits: `confirmation`, `choice`, "
        "`traveller_details`, `otp` or `slot:<name>`.",
    )
    known: dict[str, Any] = Field(default_factory=dict, description="Slots already filled.")
    offers_shown: int = Field(default=0, ge=0, le=100)
    intent: Intent | None = Field(default=None, description="The task under way.")


class ParseRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "flights from Delhi to Mumbai on 5 December for 2 adults"},
                {"text": "मुझे कल दिल्ली से मुंबई की फ्लाइट चाहिए", "locale": "hi-IN"},
                {"text": "the 6 am IndiGo one", "context": {"expecting": "choice"}},
            ]
        },
    )

    text: str = Field(min_length=1, max_length=10_000, description="What the traveller said.")
    locale: str | None = Field(
        default=None, pattern=r"^[a-z]{2}(?:-[A-Za-z]{2,4})?$", description="A hint; unused yet."
    )
    context: ContextIn | None = None


class SlotOut(BaseModel):
    name: str
    value: str = Field(description="The words it came from.")
    normalized: Any = Field(description="See the slot table in intents/parse.py.")
    start: int
    end: int
    confidence: float
    candidates: list[Any] = []


class AlternativeOut(BaseModel):
    intent: Intent
    confidence: float


class ParseResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "intent": "search_flights",
                    "confidence": 0.98,
                    "alternatives": [],
                    "language": "en",
                    "slots": [
                        {
                            "name": "origin",
                            "value": "Delhi",
                            "normalized": "DEL",
                            "start": 13,
                            "end": 18,
                            "confidence": 0.95,
                            "candidates": [],
                        },
                        {
                            "name": "destination",
                            "value": "Mobile",
                            "normalized": "BOM",
                            "start": 22,
                            "end": 28,
                            "confidence": 0.37,
                            "candidates": ["BOM"],
                        },
                    ],
                }  # fmt: skip
            ]
        }
    )

    intent: Intent
    confidence: float
    alternatives: list[AlternativeOut]
    slots: list[SlotOut]
    language: Literal["en", "hi", "hi-Latn"]


def _out(parse: Parse) -> ParseResponse:
    return ParseResponse(
        intent=parse.intent,
        confidence=parse.confidence,
        alternatives=[AlternativeOut(intent=i, confidence=c) for i, c in parse.alternatives],
        slots=[
            SlotOut(
                name=s.name,
                value=s.value,
                normalized=s.normalized,
                start=s.start,
                end=s.end,
                confidence=s.confidence,
                candidates=list(s.candidates),
            )  # fmt: skip
            for s in parse.slots
        ],
        language=parse.language,
    )


@router.post(
    "/parse",
    response_model=ParseResponse,
    responses=PROBLEM_RESPONSES,
    summary="Understand one utterance: intent, alternatives, slots with spans",
    description="Stateless. Dates resolve against today in India (the future by default); "
    '`context` says what the conversation awaits so that a bare "yes" or "the second one" '
    "is read in context. Text with no letters or digits is `out_of_scope`.",
)
async def parse(body: ParseRequest, services: ServicesDep) -> ParseResponse:
    parser = services.intent_parser
    if parser is None:
        raise DependencyUnavailableError("understanding is not loaded")
    context = None
    if body.context is not None:
        context = ParseContext(
            expecting=body.context.expecting,
            known=body.context.known,
            offers_shown=body.context.offers_shown,
            intent=body.context.intent,
        )
    today = dt.datetime.now(IST).date()
    return _out(await parser.parse(body.text, today=today, context=context))
