"""Redis for what the processes of a scale-out deployment share: caches and rate-limit counters."""

from b24claude.adapters.redis.cache import RedisCache
from b24claude.adapters.redis.connection import check_redis, redis_client
from b24claude.adapters.redis.throttle import RedisPortalThrottle

__all__ = ["RedisCache", "RedisPortalThrottle", "check_redis", "redis_client"]
