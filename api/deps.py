"""What the routers need, built once in the lifespan and injected per request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from bookings.agents import AgentBookings
from bookings.audit import AuditLog
from bookings.consent import AgentGate, ApprovalCodes
from bookings.profiles import ProfileStore
from bookings.quotes import SandboxSmsOutbox
from bookings.service import BookingService
from bookings.temporal import TemporalClient
from core.airports import AirportDirectory
from core.embedded import Endpoints
from core.idempotency import Idempotency
from core.ratelimit import RateLimits
from core.redis_conn import RedisClient
from core.settings import Settings
from fares.cache import FareCache
from fares.service import FareService
from hotels.pushes import PushReceiver
from hotels.service import HotelService
from hotels.suppliers.sandbox import SandboxHotelNetwork
from hotels.sync import HotelSync
from ingest.pipeline import IngestService
from intents.parser import RetrievalIntentParser
from rag.answers import AnswerService
from rag.catalog import DocumentCatalog
from rag.embeddings import EmbeddingPool
from rag.replica import IndexReplica
from rag.retrieval import Retriever
from rag.store import VectorStore
from sessions.engine import TurnEngine
from sessions.store import CallDirectory
from voice.admission import StreamAdmission
from voice.call import VoiceEngines
from voice.stream_tokens import StreamTokenStore
from voice.webhooks import DeliveryRecords


@dataclass(slots=True)
class Knowledge:
    store: VectorStore
    catalog: DocumentCatalog
    embeddings: EmbeddingPool
    ingest: IngestService
    retriever: Retriever
    answers: AnswerService
    replica: IndexReplica | None = None  # the embedded index follows the shared catalog


@dataclass(slots=True)
class Services:
    settings: Settings
    endpoints: Endpoints
    airports: AirportDirectory
    redis: RedisClient
    temporal: TemporalClient
    fares: FareService
    fare_cache: FareCache
    engine: TurnEngine
    knowledge: Knowledge
    calls: CallDirectory
    webhook_deliveries: DeliveryRecords
    stream_admission: StreamAdmission
    stream_tokens: StreamTokenStore
    normalise_transcript: Callable[[str], str]
    idempotency: Idempotency
    voice: VoiceEngines | None = None
    intent_parser: RetrievalIntentParser | None = None
    bookings: BookingService | None = None
    audit: AuditLog | None = None
    agent_gate: AgentGate | None = None
    approvals: ApprovalCodes | None = None
    agent_bookings: AgentBookings | None = None
    profiles: ProfileStore | None = None
    sms_outbox: SandboxSmsOutbox | None = None  # the sandbox SMS gateway (its inbox is readable)
    rate_limits: RateLimits | None = None  # None: YATRI_RATE_LIMIT_ENABLED=false
    hotels: HotelService | None = None  # None: YATRI_HOTELS_ENABLED=false
    hotel_sync: HotelSync | None = None
    hotel_pushes: PushReceiver | None = None
    hotel_network: SandboxHotelNetwork | None = None  # the sandbox suppliers (development)
    worker_task: asyncio.Task[None] | None = None
    extras: dict[str, object] = field(default_factory=dict)


def get_services(request: Request) -> Services:
    services = request.app.state.services
    if not isinstance(services, Services):  # only before start-up finished
        raise RuntimeError("services are not initialised")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
