"""Dependency checks shared by `/readyz` and `yatri doctor`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from pydantic import BaseModel

from bookings.temporal import TemporalClient, temporal_health
from core.airports import AirportDirectory
from core.errors import YatriError
from core.redis_conn import RedisClient, redis_health
from core.telemetry import DEPENDENCY_UP
from rag.embeddings import EmbeddingPool
from rag.store import VectorStore

CHECK_TIMEOUT_S = 3.0


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
        vector = await embeddings.embed(["readiness probe"])
        if vector.shape != (1, embeddings.embedder.dimension):
            return Check(status="fail", detail="the embedding model gave a wrong shape")
        detail += f"; embeddings: {embeddings.embedder.model_id}"
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
