"""The windows of ``adapters/anthropic/limits.py`` in Redis, so every process of a scale-out
deployment spends one per-model budget towards Claude (Anthropic counts per organisation, not per
process). One Lua script checks and takes atomically: the block, the window's requests and input
tokens, and the portal's share (the budget divided by the portals active in the window)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from b24claude.adapters.anthropic.limits import WINDOW, WINDOW_S
from b24claude.errors import CacheError

# KEYS: window hash (requests, tokens), window portals hash, block key.
# ARGV: member, tokens, rpm, tpm, now, ttl → "0" taken, "window", or seconds blocked.
_TAKE = """
local now = tonumber(ARGV[5])
local blocked = tonumber(redis.call('GET', KEYS[3]) or '0')
if blocked > now then return tostring(blocked - now) end
local tokens, rpm, tpm = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local req = tonumber(redis.call('HGET', KEYS[1], 'requests') or '0')
local used = tonumber(redis.call('HGET', KEYS[1], 'tokens') or '0')
if rpm > 0 and req + 1 > rpm then return 'window' end
if tpm > 0 and used > 0 and used + tokens > tpm then return 'window' end
if rpm > 0 then
  local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
  local active = redis.call('HLEN', KEYS[2])
  if mine == 0 then active = active + 1 end
  if mine + 1 > math.max(1, math.floor(rpm / active)) then return 'window' end
end
redis.call('HINCRBY', KEYS[1], 'requests', 1)
redis.call('HINCRBY', KEYS[1], 'tokens', tokens)
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return '0'
"""

# KEYS: block key. ARGV: until, ttl_ms. Only ever moves the block later.
_BLOCK = """
local upto = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if upto > current then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
"""


class RedisLimitCounters:
    def __init__(self, client: Redis, *, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._take = client.register_script(_TAKE)
        self._block = client.register_script(_BLOCK)

    def _keys(self, model: str, window: int) -> list[str]:
        base = f"{self._prefix}{model}:"
        return [f"{base}{window}", f"{base}{window}:portals", f"{base}blocked"]

    async def take(
        self, model: str, window: int, *, member_id: str, tokens: int, rpm: int, tpm: int, now: float
    ) -> float | str:
        try:
            answer = await self._take(
                keys=self._keys(model, window),
                args=[member_id, tokens, rpm, tpm, repr(now), int(WINDOW_S * 2)],
            )
        except RedisError as exc:
            raise CacheError(f"Redis: Claude limits unavailable: {type(exc).__name__}") from exc
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        if text == WINDOW:
            return WINDOW
        return float(text)

    async def adjust(self, model: str, window: int, *, tokens: int) -> None:
        key = self._keys(model, window)[0]
        try:
            await self._client.hincrby(key, "tokens", tokens)
        except RedisError as exc:
            raise CacheError(f"Redis: Claude limits unavailable: {type(exc).__name__}") from exc

    async def block(self, model: str, until: float) -> None:
        ttl_ms = 600_000  # a block never outlives ten minutes of silence
        try:
            await self._block(keys=[self._keys(model, 0)[2]], args=[repr(until), ttl_ms])
        except RedisError as exc:
            raise CacheError(f"Redis: Claude limits unavailable: {type(exc).__name__}") from exc
