"""The Cache port on Redis: what every process of a scale-out deployment must see alike.

Values cross processes, so they are serialised, never pickled (whoever can write to Redis must not
be able to run code in a worker): JSON for plain values, and for the dataclasses named at
construction (e.g. ``ClientCard``) pydantic's JSON of that type, read back into the same type.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from b24claude.errors import CacheError

_PLAIN = "json"


class RedisCache:
    def __init__(self, client: Redis, *, prefix: str = "b24c:cache:", types: Sequence[type] = ()) -> None:
        self._redis = client
        self._prefix = prefix
        self._types: dict[str, tuple[type, TypeAdapter[Any]]] = {
            t.__name__: (t, TypeAdapter(t)) for t in types
        }

    async def get(self, key: str) -> Any | None:
        try:
            raw = await self._redis.get(self._prefix + key)
        except (RedisError, OSError) as exc:
            raise CacheError(f"cache get: {type(exc).__name__}") from exc
        if raw is None:
            return None
        data = raw.encode() if isinstance(raw, str) else bytes(raw)
        kind, _, body = data.partition(b"\n")
        if kind.decode() == _PLAIN:
            return json.loads(body)
        known = self._types.get(kind.decode())
        return None if known is None else known[1].validate_json(body)

    async def set(self, key: str, value: Any, *, ttl_s: float) -> None:
        known = self._types.get(type(value).__name__)
        if known is not None and type(value) is known[0]:
            data = type(value).__name__.encode() + b"\n" + known[1].dump_json(value)
        else:
            data = _PLAIN.encode() + b"\n" + json.dumps(value, ensure_ascii=False).encode()
        try:
            await self._redis.set(self._prefix + key, data, px=max(1, int(ttl_s * 1000)))
        except (RedisError, OSError) as exc:
            raise CacheError(f"cache set: {type(exc).__name__}") from exc

    async def delete(self, key: str) -> None:
        try:
            await self._redis.delete(self._prefix + key)
        except (RedisError, OSError) as exc:
            raise CacheError(f"cache delete: {type(exc).__name__}") from exc
