"""Building the Redis client: one place decides standalone or cluster."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, TypeAlias

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.exceptions import RedisError

from core.errors import DependencyUnavailableError

RedisClient: TypeAlias = "Redis | RedisCluster"

CLUSTER_SCHEME = "redis+cluster://"


def connect_redis(url: str, *, max_connections: int = 256) -> RedisClient:
    """A client for ``url``. ``redis+cluster://host:port`` connects to a Redis Cluster.
    Past ``max_connections``, a caller waits for a free connection (up to 5 s) instead of
    failing at once, which matters when hundreds of coroutines miss the cache together."""
    if url.startswith(CLUSTER_SCHEME):
        return RedisCluster.from_url(
            "redis://" + url.removeprefix(CLUSTER_SCHEME), max_connections=max_connections
        )
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        socket_timeout=5,
        socket_connect_timeout=5,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


@dataclass(frozen=True, slots=True)
class RedisHealth:
    version: str
    latency_ms: float


async def redis_health(redis: RedisClient) -> RedisHealth:
    started = time.perf_counter()
    try:
        await redis.ping()
        info: dict[str, Any] = await redis.info("server")
    except RedisError as e:
        raise DependencyUnavailableError(f"Redis is not answering ({type(e).__name__})") from e
    if "valkey_version" in info:
        version = f"valkey {info['valkey_version']}"
    else:
        version = f"redis {info.get('redis_version', 'unknown')}"
    return RedisHealth(version=version, latency_ms=(time.perf_counter() - started) * 1000)
