"""The app factory: the composition root of an API process. Each capability is composed by
its own module — fares (`fare_backends`), policy knowledge (`knowledge_backends`), voice
(`voice_backends`), hotels (`hotel_backends`), bookings (`booking_backends`, shared with
`yatri worker`, and `booking_services`) — once, in the lifespan; this joins them into the
`Services` the routes are given, and builds the FastAPI app around the routers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.routing import Route

from api.booking_backends import booking_backends, running_worker
from api.booking_services import booking_services
from api.deps import Knowledge, Services
from api.fare_backends import build_fares, running_fares
from api.hotel_backends import build_hotels, running_hotels
from api.knowledge_backends import open_knowledge
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
from api.voice_backends import open_voice_engines
from api.voice_backends import voice_access as voice_access_for
from bookings.temporal import connect_temporal
from core.airports import AirportDirectory, load_airports
from core.embedded import Endpoints
from core.idempotency import Idempotency
from core.logging import get_logger
from core.redis_conn import RedisClient, connect_redis
from core.redis_idempotency import RedisIdempotencyStore
from core.redis_ratelimit import RedisRateLimiter
from core.settings import Settings
from intents.legacy import RuleParser
from rag.catalog import EmbeddingCache
from sessions.engine import TurnEngine
from sessions.llm_commands import LlmCommandProposer
from sessions.redis_store import RedisSessionStore
from voice.engines import VoiceEngines

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


@asynccontextmanager
async def _services(
    settings: Settings,
    endpoints: Endpoints,
    engines: VoiceEngines | None,
    *,
    airports: AirportDirectory,
) -> AsyncIterator[Services]:
    """Each capability composed by its own module; this joins them. The order out is the
    reverse of the order in: the worker and background work stop before the clients close."""
    redis = connect_redis(endpoints.redis_url)
    try:
        async with (
            open_knowledge(settings, endpoints, redis=redis) as knowledge,
            contextlib.AsyncExitStack() as stack,
        ):
            yield await _compose(settings, endpoints, engines, airports=airports, redis=redis,
                                 knowledge=knowledge, stack=stack)  # fmt: skip
    finally:
        await redis.aclose()


async def _compose(
    settings: Settings,
    endpoints: Endpoints,
    engines: VoiceEngines | None,
    *,
    airports: AirportDirectory,
    redis: RedisClient,
    knowledge: Knowledge,
    stack: contextlib.AsyncExitStack,
) -> Services:
    temporal = await connect_temporal(
        endpoints.temporal_address, namespace=settings.temporal_namespace
    )
    fare_side = build_fares(settings, redis=redis, airports=airports)
    engine = TurnEngine(
        store=RedisSessionStore(redis=redis, ttl_s=settings.session_ttl_s),
        parser=RuleParser(airports),
        fares=fare_side.service,
        airports=airports,
        history_turns=settings.session_history_turns,
    )
    access = voice_access_for(settings, redis=redis, engines=engines, airports=airports)
    services = Services(
        settings=settings, endpoints=endpoints, airports=airports, redis=redis,
        temporal=temporal, fares=fare_side.service, fare_cache=fare_side.cache, engine=engine,
        knowledge=knowledge, calls=access.calls, webhook_deliveries=access.webhook_deliveries,
        stream_admission=access.stream_admission, stream_tokens=access.stream_tokens,
        normalise_transcript=access.normalise_transcript, voice=engines,
        idempotency=Idempotency(RedisIdempotencyStore(redis), namespace=settings.redis_namespace),
    )  # fmt: skip
    services.intent_parser = await stack.enter_async_context(
        intent_parser(
            policies=knowledge.store,
            edge_root=endpoints.qdrant_path.with_name("qdrant-edge"),
            collection=f"{settings.qdrant_collection}-intents",
            embeddings=knowledge.embeddings,
            airports=airports,
            policy_probe=knowledge.answers.confidence,
            vector_cache=EmbeddingCache(redis, model_id=knowledge.embeddings.embedder.model_id),
        )
    )
    services.extras["airline"] = fare_side.supplier
    services.extras["fare_events"] = fare_side.events
    await stack.enter_async_context(running_fares(settings, fare_side))
    hotel_side = None
    if settings.hotels_enabled:
        hotel_side = build_hotels(settings, redis=redis)
        services.hotels, services.hotel_sync = hotel_side.service, hotel_side.sync
        services.hotel_pushes, services.hotel_network = hotel_side.pushes, hotel_side.network
        await stack.enter_async_context(running_hotels(settings, hotel_side))
    # Checkout sells from the same supplier inventory the sync mirrors, and a sale reaches
    # the store the way any change does: through the supplier's own channel.
    backends = await stack.enter_async_context(booking_backends(
        settings, fares=fare_side.supplier,
        catalogue=hotel_side.catalogue if hotel_side else None,
        inventory=hotel_side.inventory if hotel_side else None,
        record_change=hotel_side.network.change if hotel_side else None,
    ))  # fmt: skip
    side = await stack.enter_async_context(booking_services(
        settings, store=backends.store, temporal=temporal, redis=redis, fares=fare_side.service
    ))  # fmt: skip
    services.bookings, services.profiles, services.audit = side.bookings, side.profiles, side.audit
    services.agent_gate, services.approvals = side.agent_gate, side.approvals
    services.agent_bookings, services.sms_outbox = side.agent_bookings, side.sms_outbox
    proposer = None
    if settings.llm_base_url:  # a second reader for turns the parser cannot place
        proposer = LlmCommandProposer(
            base_url=settings.llm_base_url, model=settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value(), airports=airports,
            timeout_s=settings.llm_command_timeout_s,
        )  # fmt: skip
        stack.push_async_callback(proposer.aclose)
    if settings.rate_limit_enabled:
        services.rate_limits = rate_limits(settings, limiter=RedisRateLimiter(redis))
    engine.connect(bookings=side.bookings, answers=knowledge.answers,
                   parser=services.intent_parser, proposer=proposer, profiles=side.profiles,
                   codes=side.approvals, hotels=services.hotels)  # fmt: skip
    services.extras["sandbox_ledger"] = backends.ledger
    services.extras["booking_activities"] = backends.activities
    if settings.run_worker:  # entered last, so it stops first
        services.worker_task = await stack.enter_async_context(
            running_worker(temporal, settings, backends.activities)
        )
    return services


def create_app(
    settings: Settings, *, endpoints: Endpoints, voice_engines: VoiceEngines | None = None
) -> FastAPI:
    """The app; `voice_engines` shares speech models loaded elsewhere (tests load them once)."""
    agent_tools = AgentTools(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        airports = await asyncio.to_thread(load_airports)  # once: voice and services share it
        async with (
            open_voice_engines(settings, voice_engines, airports=airports) as engines,
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
