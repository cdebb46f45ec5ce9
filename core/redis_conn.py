"""Building the Redis client: one place decides standalone or cluster."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, TypeAlias

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import RedisError

from core.errors import DependencyUnavailableError

RedisClient: TypeAlias = "Redis | RedisCluster"

CLUSTER_SCHEME = "redis+cluster://"


def connect_redis(url: str) -> RedisClient:
    """A client for ``url``. ``redis+cluster://host:port`` connects to a Redis Cluster."""
    if url.startswith(CLUSTER_SCHEME):
        return RedisCluster.from_url("redis://" + url.removeprefix(CLUSTER_SCHEME))
    return Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)


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
