"""The rate-limit store on Redis: one key per allowance, updated by one Lua script, so that a
take is atomic across every process that shares the Redis (or the cluster node of the key)."""

from __future__ import annotations

from redis.exceptions import RedisError

from core.errors import DependencyUnavailableError
from core.ratelimit import Allowance, Verdict
from core.redis_conn import RedisClient

# GCRA on the server's clock (TIME), so that processes whose clocks differ agree. The key
# holds the theoretical arrival time (ms) of the next request and expires when it is reached,
# so an idle caller costs nothing. A refused take writes nothing.
_TAKE = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local next_tat = tat + interval
local wait = next_tat - tolerance - now
if wait > 0 then
  return {0, wait, 0}
end
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now)
return {1, 0, math.floor((tolerance - (next_tat - now)) / interval)}
"""


class RedisRateLimiter:
    def __init__(self, redis: RedisClient) -> None:
        self._script = redis.register_script(_TAKE)

    async def take(self, key: str, *, allowance: Allowance) -> Verdict:
        interval = allowance.interval_ms
        try:
            allowed, wait_ms, remaining = await self._script(
                keys=[key], args=[interval, interval * allowance.limit]
            )
        except RedisError as e:
            raise DependencyUnavailableError("the rate-limit store is unavailable") from e
        return Verdict(allowed=bool(allowed), retry_after_ms=int(wait_ms), remaining=int(remaining))
