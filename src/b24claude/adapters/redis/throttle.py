"""The per-portal leaky bucket of ``adapters/bitrix24/throttle.py``, shared through Redis.

Bitrix24 counts a portal's requests whoever sends them, so every process of a scale-out deployment
must fill one bucket. The same rules as the in-memory bucket, kept atomic by Lua scripts on Redis'
own clock: a request in flight counts a full 1 (a member of a sorted set, which expires after
``hold_s`` so a killed process cannot hold the bucket for ever); a finished one is added to the
level at its response time and drains ``rate`` per second from then on. ``release`` and
``mark_full`` keep the in-memory interface (synchronous) and run in the background.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict, deque

from redis.asyncio import Redis
from redis.exceptions import RedisError

from b24claude.adapters.bitrix24.throttle import DEFAULT_MARGIN
from b24claude.errors import CacheError
from b24claude.kit.clock import Clock

log = logging.getLogger("b24claude.throttle")

_MIN_WAIT_S = 0.01

# Shared head of the scripts: drain the level to Redis' now and forget expired in-flight members.
_DRAIN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local level = tonumber(redis.call('HGET', KEYS[1], 'level') or '0')
local updated = tonumber(redis.call('HGET', KEYS[1], 'updated') or tostring(now))
if now > updated then
  level = math.max(0, level - (now - updated) * rate)
  updated = now
end
"""

# ARGV: rate, capacity, token, hold_s, ttl_s → "0" (taken) or the seconds to wait.
_ACQUIRE = (
    _DRAIN
    + """
local capacity = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'level', level, 'updated', updated)
redis.call('EXPIRE', KEYS[1], ARGV[5])
local excess = level + redis.call('ZCARD', KEYS[2]) + 1 - capacity
if excess > 0.000001 then
  return tostring(excess / rate)
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return '0'
"""
)

# ARGV: rate, token, ttl_s.
_RELEASE = (
    _DRAIN
    + """
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[1], 'level', level + 1, 'updated', updated)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
)

# ARGV: rate, capacity, ttl_s.
_FILL = (
    _DRAIN
    + """
redis.call('HSET', KEYS[1], 'level', math.max(level, tonumber(ARGV[2])), 'updated', updated)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
)


class RedisPortalThrottle:
    """Same interface as ``PortalThrottle``; waits on the injected clock, counts in Redis."""

    def __init__(
        self,
        client: Redis,
        clock: Clock,
        *,
        rate_per_s: float,
        burst: int,
        margin: int = DEFAULT_MARGIN,
        hold_s: float = 60.0,
        prefix: str = "b24c:rl:",
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self._redis = client
        self._clock = clock
        self.rate_per_s = rate_per_s
        self.capacity = float(max(1, burst - margin))
        self._hold_s = hold_s
        # Idle buckets drain to zero within capacity/rate seconds; keep keys a little longer.
        self._ttl_s = int(self.capacity / rate_per_s + hold_s) + 60
        self._prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._fill = client.register_script(_FILL)
        self._queues: dict[str, asyncio.Lock] = {}
        self._tokens: defaultdict[str, deque[str]] = defaultdict(deque)
        self._background: set[asyncio.Task[None]] = set()

    def _keys(self, key: str) -> list[str]:
        return [f"{self._prefix}{key}:bucket", f"{self._prefix}{key}:inflight"]

    async def acquire(self, key: str) -> float:
        """Wait until one more request to portal ``key`` fits (across all processes)."""
        waited = 0.0
        token = uuid.uuid4().hex
        async with self._queues.setdefault(key, asyncio.Lock()):
            while True:
                try:
                    answer = await self._acquire(
                        keys=self._keys(key),
                        args=[self.rate_per_s, self.capacity, token, self._hold_s, self._ttl_s],
                    )
                except (RedisError, OSError) as exc:
                    raise CacheError(f"rate-limit counter: {type(exc).__name__}") from exc
                wait = float(answer)
                if wait <= 0:
                    break
                wait = max(wait, _MIN_WAIT_S)
                await self._clock.sleep(wait)
                waited += wait
        self._tokens[key].append(token)
        return waited

    def release(self, key: str) -> None:
        tokens = self._tokens[key]
        if not tokens:
            return
        token = tokens.popleft()
        self._spawn(self._release(keys=self._keys(key), args=[self.rate_per_s, token, self._ttl_s]))

    def mark_full(self, key: str) -> None:
        self._spawn(self._fill(keys=self._keys(key), args=[self.rate_per_s, self.capacity, self._ttl_s]))

    def _spawn(self, call: object) -> None:
        async def run() -> None:
            try:
                await call  # type: ignore[misc]
            except (RedisError, OSError) as exc:
                # The in-flight member expires after hold_s: the bucket over-counts until then.
                log.warning("throttle.redis.update_failed", extra={"error": type(exc).__name__})

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def level(self, key: str) -> float:
        """Finished requests still counted plus those in flight (tests, metrics)."""
        bucket, inflight = self._keys(key)
        level = float(await self._redis.hget(bucket, "level") or 0.0)
        return level + float(await self._redis.zcard(inflight))

    async def aclose(self) -> None:
        """Let the background updates finish."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
