"""One asyncio Redis client per process, from ``B24C_REDIS_URL``."""

from __future__ import annotations

from redis.asyncio import Redis

from b24claude.errors import CacheError, ConfigurationError


def redis_client(url: str) -> Redis:
    """A client with bounded timeouts (a stalled Redis must fail a call, not hang a worker)."""
    try:
        return Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0, health_check_interval=30)
    except ValueError as exc:
        raise ConfigurationError(f"B24C_REDIS_URL is not valid: {exc}") from exc


async def check_redis(client: Redis) -> None:
    """Raise CacheError when the server does not answer (start-up check)."""
    try:
        await client.ping()
    except Exception as exc:  # redis-py raises its own tree plus OSError
        raise CacheError(f"Redis is not reachable: {type(exc).__name__}: {exc}") from exc
