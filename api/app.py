"""The app factory: builds settings-driven clients once in the lifespan and injects them."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.routing import Route

from api.booking_backends import booking_backends, open_audit_log, open_profiles
from api.deps import Knowledge, Services
from api.hotel_backends import build_hotels, running_hotels
from api.mcp_server import MCP_PATH, AgentTools
from api.middleware import LoadShedMiddleware, RequestContextMiddleware
from api.openapi import install_openapi, mount_docs
from api.problems import install_problem_handlers
from api.rate_limits import rate_limited, rate_limits
from api.routes import (
    asr,
    bookings,
    chat,
    fares,
    health,
    hotels,
    knowledge,
    problems,
    travellers,
    voice,
    voice_access,
    web,
)
from api.routes import intents as intent_routes
from api.understanding import intent_parser
from bookings.agents import AgentBookings
from bookings.consent import AgentGate, ApprovalCodes
from bookings.pricing import FareServicePricer
from bookings.profiles import SANDBOX_PROFILES
from bookings.quotes import AgentRateLimit, RedisBookingQuotes, RedisChangeQuotes, SandboxSmsOutbox
from bookings.service import BookingService
from bookings.temporal import connect_temporal
from bookings.worker import build_worker
from core.airports import AirportDirectory, load_airports
from core.embedded import Endpoints
from core.errors import DependencyUnavailableError
from core.logging import get_logger
from core.redis_conn import RedisClient, connect_redis
from core.redis_ratelimit import RedisRateLimiter
from core.settings import Settings
from fares.cache import CachePolicy, FareCache
from fares.events import FareChangeEvent, L1Broadcast, RedisFareEvents
from fares.service import FareService, SupplierGuard
from fares.suppliers.sandbox import SandboxAirline, SandboxFaults
from fares.warming import parse_routes, warm
from ingest.limits import UploadLimits
from ingest.pipeline import IngestService
from intents.legacy import RuleParser
from rag.answers import AnswerService, load_llm_writer
from rag.catalog import DocumentCatalog, EmbeddingCache
from rag.edge import EdgeStore
from rag.embeddings import EmbeddingPool, load_embedder
from rag.qdrant import QdrantStore
from rag.retrieval import Retriever
from rag.store import VectorStore
from sessions.engine import TurnEngine
from sessions.llm_commands import LlmCommandProposer
from sessions.redis_store import RedisCallDirectory, RedisSessionStore
from voice.admission import AdmissionLimits, StreamAdmission
from voice.call import VoiceEngines
from voice.espeak import EspeakTts
from voice.faster_whisper import WhisperStt
from voice.language import LanguageRoutedStt
from voice.piper import PiperTts
from voice.places import SpokenPlaces
from voice.scheduler import CapacityConfig
from voice.silero import SileroVad
from voice.smart_turn import SmartTurn
from voice.stream_tokens import StreamTokens
from voice.stt import SpeechToText
from voice.tts import TextToSpeech
from voice.webhooks import WebhookDeliveries
from voice.whisper_base import load_whisper_base

log = get_logger("yatri.app")

DESCRIPTION = """\
Yatri is the conversational backend of a travel marketplace. Every error is an
[RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) `application/problem+json` body whose `type`
resolves under `/problems`. Every response carries an `x-request-id` header.
"""


BOOKINGS_DOC = """\
Bookings run as durable Temporal workflows with compensation. Send a traveller's JWT
(`scope: bookings`) or an agent's (`scope: bookings:agent`, `act_for`: the traveller), and an
`Idempotency-Key` on every change (400 without; the stored response replayed for a repeat; 409
while the first is running; 422 for the same key with another body; keys expire after 24 h).

**MCP** (for LLM agents): `POST /mcp`, streamable HTTP, agent token required. Tools:
`search_flights`, `quote_booking` (returns an opaque `quote_id`; the traveller receives a
confirmation code out of band), `confirm_booking(quote_id, confirmation)`, `get_booking`,
`modify_booking`, `cancel_booking` (both move money, so the traveller approves them with a code
too: the first call answers `confirmation_required`); rate-limited per agent; every call
audited.
"""


def transcript_normaliser(airports: AirportDirectory) -> SpokenPlaces:
    """Spoken forms rewritten, then misheard Indian city names corrected (both transports and
    the ASR webhooks use this as a function of the text; the streams also score places)."""
    return SpokenPlaces.from_airports(airports)


def load_voice_engines(settings: Settings, *, airports: AirportDirectory) -> VoiceEngines:
    """Load the speech models (seconds): call once at start-up, share across calls."""
    english = WhisperStt.load(
        model_dir=settings.voice_stt_model_dir,
        threads=settings.voice_stt_threads,
        window_s=settings.voice_stt_window_s,
    )
    stt: SpeechToText = english
    if settings.voice_hindi:
        base = load_whisper_base(
            threads=settings.voice_stt_threads, window_s=settings.voice_stt_window_s
        )
        stt = LanguageRoutedStt(english=english, multilingual=base)
    vad = SileroVad.load()
    tts: TextToSpeech = (
        PiperTts.load() if settings.voice_tts_engine == "piper" else EspeakTts.load()
    )
    places = transcript_normaliser(airports)
    turns = SmartTurn.load() if settings.voice_turn_model == "smart-turn" else None
    capacity = CapacityConfig(final_budget_s=settings.voice_final_budget_ms / 1000,
                              max_calls=settings.voice_max_streams)  # fmt: skip
    return VoiceEngines(stt=stt, new_vad=vad.new_stream, tts=tts, normalise=places, places=places,
                        turn_detector=turns, capacity=capacity)  # fmt: skip


@asynccontextmanager
async def _voice(
    settings: Settings, given: VoiceEngines | None, *, airports: AirportDirectory
) -> AsyncIterator[VoiceEngines | None]:
    """The given engines (kept open), or ones loaded here and closed at shutdown, or none."""
    if given is not None or not settings.voice_enabled:
        yield given
        return
    engines = await asyncio.to_thread(load_voice_engines, settings, airports=airports)
    try:
        yield engines
    finally:
        engines.close()


@asynccontextmanager
async def _services(
    settings: Settings,
    endpoints: Endpoints,
    voice_engines: VoiceEngines | None,
    *,
    airports: AirportDirectory,
) -> AsyncIterator[Services]:
    embedder = await asyncio.to_thread(load_embedder, settings.embedding_engine)
    redis = connect_redis(endpoints.redis_url)
    store = await asyncio.to_thread(open_vector_store, settings, endpoints)
    embeddings = EmbeddingPool(embedder)
    stack = contextlib.AsyncExitStack()
    try:
        temporal = await connect_temporal(
            endpoints.temporal_address, namespace=settings.temporal_namespace
        )
        ns = settings.redis_namespace
        events = RedisFareEvents(
            redis=redis,
            consumer=f"{socket.gethostname()}-{os.getpid()}",
            stream=f"{ns}:fares:events",
            dlq_stream=f"{ns}:fares:events:dlq",
        )
        broadcast = L1Broadcast(redis=redis, channel=f"{ns}:fares:l1-invalidate")

        async def announce_price_move(origin: str, destination: str, date: dt.date) -> None:
            await events.publish(
                FareChangeEvent.new(
                    origin=origin, destination=destination, date=date, reason="price moved"
                )
            )

        supplier = SandboxAirline(
            airports=airports,
            seed=settings.supplier_seed,
            faults=SandboxFaults(
                latency_ms=settings.supplier_latency_ms, error_rate=settings.supplier_error_rate
            ),
            on_price_move=announce_price_move,
        )
        fare_cache = FareCache(
            redis=redis,
            policy=CachePolicy(
                fresh_s=settings.fare_fresh_s,
                hard_max_age_s=settings.fare_hard_max_age_s,
                l1_max_entries=settings.fare_l1_max_entries,
                l1_max_bytes=settings.fare_l1_max_mb * 2**20,
            ),
            namespace=settings.redis_namespace,
        )
        fare_service = FareService(
            supplier=supplier,
            airports=airports,
            guard=SupplierGuard.for_supplier(
                supplier.name,
                timeout_s=settings.supplier_timeout_s,
                max_concurrent=settings.supplier_max_concurrent,
                max_attempts=settings.supplier_max_attempts,
                failure_threshold=settings.breaker_failure_threshold,
                reset_timeout_s=settings.breaker_reset_s,
            ),
            cache=fare_cache,
            deadline_s=settings.request_timeout_s,
            booking_fresh_s=settings.fare_booking_fresh_s,
            cutoff_min=settings.booking_cutoff_min,
        )
        engine = TurnEngine(
            store=RedisSessionStore(redis=redis, ttl_s=settings.session_ttl_s),
            parser=RuleParser(airports),
            fares=fare_service,
            airports=airports,
            history_turns=settings.session_history_turns,
        )
        await store.ensure_collection(dense_dim=embedder.dimension)
        knowledge = build_knowledge(
            settings=settings, store=store, redis=redis, embeddings=embeddings
        )
        services = Services(
            settings=settings,
            endpoints=endpoints,
            airports=airports,
            redis=redis,
            temporal=temporal,
            fares=fare_service,
            fare_cache=fare_cache,
            engine=engine,
            knowledge=knowledge,
            calls=RedisCallDirectory(
                redis=redis, ttl_s=settings.session_ttl_s, prefix=f"{ns}:call:"
            ),
            webhook_deliveries=WebhookDeliveries(redis=redis, namespace=ns),
            stream_admission=StreamAdmission(
                AdmissionLimits(
                    total=settings.voice_max_streams,
                    per_source=settings.voice_max_streams_per_source,
                    new_caller_share=settings.voice_new_caller_share,
                    anonymous_share=settings.voice_anonymous_share,
                ),
                capacity=voice_engines.scheduler if voice_engines else None,
            ),  # fmt: skip
            stream_tokens=StreamTokens(redis=redis, ttl_s=settings.voice_token_ttl_s, namespace=ns),
            normalise_transcript=(
                voice_engines.normalise if voice_engines else transcript_normaliser(airports)
            ),
            voice=voice_engines,
        )
        services.intent_parser = await stack.enter_async_context(
            intent_parser(
                policies=store,
                edge_root=endpoints.qdrant_path.with_name("qdrant-edge"),
                collection=f"{settings.qdrant_collection}-intents",
                embeddings=embeddings,
                airports=airports,
                policy_probe=knowledge.answers.confidence,
                vector_cache=EmbeddingCache(redis, model_id=embeddings.embedder.model_id),
            )
        )
        services.extras["airline"] = supplier
        services.extras["fare_events"] = events

        async def apply_fare_change(event: FareChangeEvent) -> None:
            await fare_cache.invalidate(
                origin=event.origin,
                destination=event.destination,
                date=event.date.isoformat() if event.date else None,
            )
            await broadcast.publish(event.route_key)

        stop = asyncio.Event()

        async def watch_event_stream() -> None:
            while not stop.is_set():
                with contextlib.suppress(Exception):  # a metric must never take the app down
                    await events.lag()
                    await events.dlq_size()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=5)

        try:
            await events.ensure_group()
        except DependencyUnavailableError:
            # Start anyway: /readyz reports Redis, and the consumer creates the group later.
            log.warning("fare event group not created at start-up")
        background = [
            asyncio.create_task(events.run(apply_fare_change, stop=stop), name="fare-events"),
            asyncio.create_task(watch_event_stream(), name="fare-events-metrics"),
            asyncio.create_task(
                broadcast.run(fare_cache.drop_route_key, stop=stop), name="fare-l1-broadcast"
            ),
            asyncio.create_task(
                warm(
                    fare_service,
                    routes=parse_routes(settings.fare_warm_routes),
                    days=settings.fare_warm_days,
                    interval_s=settings.fare_warm_interval_s,
                    stop=stop,
                ),
                name="fare-warming",
            ),
        ]
        hotel_side = None
        if settings.hotels_enabled:
            hotel_side = build_hotels(settings, redis=redis)
            services.hotels, services.hotel_sync = hotel_side.service, hotel_side.sync
            services.hotel_pushes, services.hotel_network = hotel_side.pushes, hotel_side.network
            await stack.enter_async_context(running_hotels(settings, hotel_side))
        # Checkout sells from the same supplier inventory the sync mirrors, and a sale reaches
        # the store the way any change does: through the supplier's own channel.
        backends = await stack.enter_async_context(booking_backends(
            settings, fares=supplier,
            catalogue=hotel_side.catalogue if hotel_side else None,
            inventory=hotel_side.inventory if hotel_side else None,
            record_change=hotel_side.network.change if hotel_side else None,
        ))  # fmt: skip
        services.bookings = BookingService(
            store=backends.store,
            temporal=temporal,
            task_queue=settings.temporal_task_queue,
            pricer=FareServicePricer(fare_service),
            quotes=RedisChangeQuotes(redis=redis, namespace=settings.redis_namespace),
            hold_ttl_s=settings.booking_hold_ttl_s,
            wait_s=settings.booking_wait_s,
            quote_ttl_s=settings.quote_ttl_s,
        )
        audit = await open_audit_log(settings)
        stack.push_async_callback(audit.close)
        services.audit = audit
        services.agent_gate = AgentGate(
            limit=AgentRateLimit(redis=redis, namespace=settings.redis_namespace,
                                 per_minute=settings.agent_rate_per_minute),
            audit=audit, per_minute=settings.agent_rate_per_minute,
        )  # fmt: skip
        sms = services.sms_outbox = SandboxSmsOutbox(
            redis=redis, namespace=settings.redis_namespace
        )
        services.approvals = ApprovalCodes(
            redis=redis, namespace=settings.redis_namespace,
            secret=settings.secret_key.get_secret_value().encode(),
            notifier=sms,
            per_day=settings.approval_codes_per_day, ttl_s=settings.quote_ttl_s,
        )  # fmt: skip
        services.agent_bookings = AgentBookings(
            fares=fare_service, bookings=services.bookings, approvals=services.approvals,
            quotes=RedisBookingQuotes(redis=redis, namespace=settings.redis_namespace),
        )  # fmt: skip
        proposer = None
        if settings.llm_base_url:  # a second reader for turns the parser cannot place
            proposer = LlmCommandProposer(
                base_url=settings.llm_base_url, model=settings.llm_model,
                api_key=settings.llm_api_key.get_secret_value(), airports=airports,
                timeout_s=settings.llm_command_timeout_s,
            )  # fmt: skip
            stack.push_async_callback(proposer.aclose)
        profiles = await open_profiles(settings)
        stack.push_async_callback(profiles.close)
        if settings.sandbox_profiles:
            await profiles.seed(SANDBOX_PROFILES)
        services.profiles = profiles
        if settings.rate_limit_enabled:
            services.rate_limits = rate_limits(settings, limiter=RedisRateLimiter(redis))
        engine.connect(bookings=services.bookings, answers=knowledge.answers,
                       parser=services.intent_parser, proposer=proposer,
                       profiles=profiles, codes=services.approvals,
                       hotels=services.hotels)  # fmt: skip
        services.extras["sandbox_ledger"] = backends.ledger
        services.extras["booking_activities"] = backends.activities
        worker = None
        if settings.run_worker:
            worker = build_worker(
                temporal, task_queue=settings.temporal_task_queue, bookings=backends.activities
            )
            services.worker_task = asyncio.create_task(worker.run(), name="temporal-worker")
        try:
            yield services
        finally:
            if worker is not None and services.worker_task is not None:
                if not services.worker_task.done():
                    await worker.shutdown()
                with contextlib.suppress(Exception):
                    await services.worker_task
            stop.set()
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await fare_cache.close()
            await knowledge.ingest.drain()
            knowledge.ingest.close()
    finally:
        await stack.aclose()
        await store.close()
        await redis.aclose()
        embeddings.close()


def open_vector_store(settings: Settings, endpoints: Endpoints) -> VectorStore:
    """A Qdrant server when a URL is set; otherwise the embedded engine the settings name."""
    if endpoints.qdrant_url or settings.vector_engine == "qdrant-local":
        return QdrantStore.open(
            url=endpoints.qdrant_url,
            path=endpoints.qdrant_path,
            api_key=settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None,
            collection=settings.qdrant_collection,
        )
    return EdgeStore.open(
        endpoints.qdrant_path.with_name("qdrant-edge"), collection=settings.qdrant_collection
    )


def build_knowledge(
    *, settings: Settings, store: VectorStore, redis: RedisClient, embeddings: EmbeddingPool
) -> Knowledge:
    catalog = DocumentCatalog(redis, namespace=settings.redis_namespace)
    cache = EmbeddingCache(redis, model_id=embeddings.embedder.model_id)
    retriever = Retriever(store=store, catalog=catalog, embeddings=embeddings, cache=cache)
    return Knowledge(
        store=store,
        catalog=catalog,
        embeddings=embeddings,
        ingest=IngestService(
            store=store,
            catalog=catalog,
            embeddings=embeddings,
            cache=cache,
            limits=UploadLimits(
                max_bytes=settings.upload_max_bytes,
                max_expanded_bytes=settings.upload_max_expanded_bytes,
                max_pdf_pages=settings.upload_max_pdf_pages,
            ),
            retire_grace_s=settings.retire_grace_s,
        ),
        retriever=retriever,
        answers=AnswerService(
            retriever=retriever,
            embeddings=embeddings,
            confidence_floor=settings.answer_confidence_floor,
            writer=load_llm_writer(
                base_url=settings.llm_base_url,
                model=settings.llm_model,
                api_key=settings.llm_api_key.get_secret_value(),
                embeddings=embeddings,
            )
            if settings.llm_base_url
            else None,
        ),
    )


def create_app(
    settings: Settings, *, endpoints: Endpoints, voice_engines: VoiceEngines | None = None
) -> FastAPI:
    """The app; `voice_engines` shares speech models loaded elsewhere (tests load them once)."""
    agent_tools = AgentTools(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        airports = await asyncio.to_thread(load_airports)  # once: voice and services share it
        async with (
            _voice(settings, voice_engines, airports=airports) as engines,
            _services(settings, endpoints, engines, airports=airports) as services,
            agent_tools.serving(services),
        ):
            app.state.services = services
            log.info("yatri ready", redis=endpoints.redis_url, temporal=endpoints.temporal_address)
            yield
            log.info("yatri stopping")

    app = FastAPI(
        title="Yatri",
        version="0.1.0",
        description=DESCRIPTION,
        # Websocket routes have no OpenAPI operations; their protocol is documented here.
        openapi_tags=[
            {"name": "voice", "description": voice.APP_STREAM_DOC + "\n" + voice.TELEPHONY_DOC},
            {"name": "bookings", "description": BOOKINGS_DOC},
        ],
        lifespan=lifespan,
        # Served by api/openapi.py from local files, never from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(chat.router, dependencies=[Depends(rate_limited("chat"))])
    app.include_router(knowledge.router, dependencies=[Depends(rate_limited("answers"))])
    app.include_router(intent_routes.router, dependencies=[Depends(rate_limited("intents"))])
    app.include_router(fares.router, dependencies=[Depends(rate_limited("fares"))])
    app.include_router(voice.router)
    app.include_router(voice_access.router, dependencies=[Depends(rate_limited("voice-tokens"))])
    app.include_router(
        voice_access.webhook_router, dependencies=[Depends(rate_limited("webhooks"))]
    )
    app.include_router(asr.router, dependencies=[Depends(rate_limited("webhooks"))])
    app.include_router(bookings.router, dependencies=[Depends(rate_limited("bookings"))])
    app.include_router(hotels.router, dependencies=[Depends(rate_limited("hotels"))])
    app.include_router(hotels.pushes, dependencies=[Depends(rate_limited("webhooks"))])
    app.include_router(travellers.router, dependencies=[Depends(rate_limited("travellers"))])
    app.include_router(problems.router)
    app.include_router(web.router)
    # A plain route, not a mount: the MCP transport answers at exactly /mcp.
    app.router.routes.append(Route(MCP_PATH, agent_tools, include_in_schema=False))
    mount_docs(app)
    install_openapi(app)
    app.add_middleware(LoadShedMiddleware, max_in_flight=settings.max_in_flight)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes,
                       body_timeout_s=settings.body_timeout_s,
                       body_limits=knowledge.upload_body_limit(settings.upload_max_bytes))  # fmt: skip
    origins = [o.strip() for o in settings.widget_origins.split(",") if o.strip()]
    if origins:  # outermost: a preflight is answered before anything else runs
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                           allow_headers=["authorization", "content-type", "idempotency-key"],
                           expose_headers=["x-request-id", "x-trace-id"], max_age=600)  # fmt: skip
    return app
