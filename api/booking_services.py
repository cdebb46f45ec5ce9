"""The booking side as the API serves it, over the backends `yatri serve` and `yatri worker`
share (`api/booking_backends.py`): the booking service that starts and queries the Temporal
workflows, traveller profiles, and what lets an LLM agent act for a traveller safely — the
audit log, the per-agent rate limit, approval codes sent to the traveller, and agent quotes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from api.booking_backends import open_audit_log, open_profiles
from bookings.agents import AgentBookings
from bookings.audit import AuditLog
from bookings.consent import AgentGate, ApprovalCodes
from bookings.pricing import FareServicePricer
from bookings.profiles import SANDBOX_PROFILES, ProfileStore
from bookings.quotes import AgentRateLimit, RedisBookingQuotes, RedisChangeQuotes, SandboxSmsOutbox
from bookings.redis_approvals import RedisApprovalStore
from bookings.service import BookingService
from bookings.store import BookingStore
from bookings.temporal import TemporalClient
from core.redis_conn import RedisClient
from core.settings import Settings
from fares.service import FareService


@dataclass(frozen=True, slots=True)
class BookingServices:
    bookings: BookingService
    profiles: ProfileStore
    audit: AuditLog
    agent_gate: AgentGate
    approvals: ApprovalCodes
    agent_bookings: AgentBookings
    sms_outbox: SandboxSmsOutbox


@asynccontextmanager
async def booking_services(
    settings: Settings,
    *,
    store: BookingStore,
    temporal: TemporalClient,
    redis: RedisClient,
    fares: FareService,
) -> AsyncIterator[BookingServices]:
    """The audit log and profiles follow the booking record's choice (PostgreSQL at
    `YATRI_DATABASE_URL`, else SQLite in the data directory) and close on the way out."""
    ns = settings.redis_namespace
    async with AsyncExitStack() as stack:
        bookings = BookingService(
            store=store,
            temporal=temporal,
            task_queue=settings.temporal_task_queue,
            pricer=FareServicePricer(fares),
            quotes=RedisChangeQuotes(redis=redis, namespace=ns),
            hold_ttl_s=settings.booking_hold_ttl_s,
            wait_s=settings.booking_wait_s,
            quote_ttl_s=settings.quote_ttl_s,
        )
        audit = await open_audit_log(settings)
        stack.push_async_callback(audit.close)
        profiles = await open_profiles(settings)
        stack.push_async_callback(profiles.close)
        if settings.sandbox_profiles:
            await profiles.seed(SANDBOX_PROFILES)
        sms = SandboxSmsOutbox(redis=redis, namespace=ns)
        approvals = ApprovalCodes(
            store=RedisApprovalStore(redis=redis, namespace=ns),
            secret=settings.secret_key.get_secret_value().encode(),
            notifier=sms,
            per_day=settings.approval_codes_per_day,
            ttl_s=settings.quote_ttl_s,
        )
        per_minute = settings.agent_rate_per_minute
        gate = AgentGate(
            limit=AgentRateLimit(redis=redis, namespace=ns, per_minute=per_minute),
            audit=audit,
            per_minute=per_minute,
        )
        yield BookingServices(
            bookings=bookings,
            profiles=profiles,
            audit=audit,
            agent_gate=gate,
            approvals=approvals,
            agent_bookings=AgentBookings(
                fares=fares,
                bookings=bookings,
                approvals=approvals,
                quotes=RedisBookingQuotes(redis=redis, namespace=ns),
            ),
            sms_outbox=sms,
        )
