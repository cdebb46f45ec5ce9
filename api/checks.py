"""Dependency checks shared by `/readyz` and `yatri doctor`. A check never queues behind the
work it checks: the models check runs the embedding model on the pool's own probe lane, not
behind ingest or travellers' queries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from pydantic import BaseModel

from bookings.temporal import TemporalClient, temporal_health
from core.airports import AirportDirectory
from core.errors import DependencyUnavailableError, YatriError
from core.redis_conn import RedisClient, redis_health
from core.telemetry import DEPENDENCY_UP
from rag.embeddings import EmbeddingPool
from rag.store import VectorStore

CHECK_TIMEOUT_S = 3.0
# Temporal's frontend closes every client connection after a maximum age (5 minutes by default,
# with jitter) and the client moves to a new one; a call caught in the switch is cancelled
# ("operation was canceled") though the server is fine. One more try after this pause, on the
# new connection, tells that from an outage.
TEMPORAL_RETRY_PAUSE_S = 0.05


class Check(BaseModel):
    status: Literal["ok", "fail"]
    latency_ms: float | None = None
    version: str | None = None
    detail: str | None = None


async def check_redis(redis: RedisClient) -> Check:
    health = await redis_health(redis)
    return Check(status="ok", latency_ms=round(health.latency_ms, 2), version=health.version)


async def check_qdrant(qdrant: VectorStore) -> Check:
    health = await qdrant.health()
    return Check(
        status="ok",
        latency_ms=round(health.latency_ms, 2),
        version=health.version,
        detail=f"{health.mode}, {health.collections} collections",
    )


async def check_temporal(
    client: TemporalClient, *, worker_task: asyncio.Task[None] | None, in_process: bool
) -> Check:
    try:
        health = await temporal_health(client)
    except DependencyUnavailableError:
        await asyncio.sleep(TEMPORAL_RETRY_PAUSE_S)
        health = await temporal_health(client)
    if in_process and (worker_task is None or worker_task.done()):
        return Check(status="fail", detail="the in-process worker has stopped")
    return Check(
        status="ok",
        latency_ms=round(health.latency_ms, 2),
        version=f"server {health.server_version}",
        detail="worker running in-process" if in_process else "worker runs elsewhere",
    )


async def check_models(airports: AirportDirectory, embeddings: EmbeddingPool | None) -> Check:
    started = time.perf_counter()
    count = len(airports.by_code)
    if count == 0:
        return Check(status="fail", detail="airport gazetteer is empty")
    detail = f"airport gazetteer: {count} airports"
    if embeddings is not None:
        try:
            await embeddings.probe()
        except RuntimeError:
            return Check(status="fail", detail="the embedding model gave a wrong shape")
        lanes = embeddings.waiting()
        waiting = f"query {lanes['query']}, bulk {lanes['bulk']}"
        detail += f"; embeddings: {embeddings.embedder.model_id} (waiting: {waiting})"
    return Check(
        status="ok", latency_ms=round((time.perf_counter() - started) * 1000, 2), detail=detail
    )


async def run_check(name: str, check: Callable[[], Awaitable[Check]]) -> tuple[str, Check]:
    """Run one check within the timeout; a failure becomes a failed check, never an exception."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            result = await check()
    except TimeoutError:
        result = Check(status="fail", detail=f"no answer within {CHECK_TIMEOUT_S:.0f}s")
    except YatriError as e:
        result = Check(status="fail", detail=e.detail)
    DEPENDENCY_UP.labels(name).set(1 if result.status == "ok" else 0)
    return name, result
