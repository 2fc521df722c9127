"""Per-row effect idempotency (DESIGN.md §7): every effect is recorded against the inbox row that
caused it, as an intent before it is performed and done after, so a replay of the row repeats none.

The outer :func:`effects_middleware` binds a :class:`RowEffects` to the context of every update;
steps and handlers ask it, not the repository, so they all see the same row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from b24claude.dispatch.router import Context, Handler, Middleware
from b24claude.ports.store import Effect, EffectRepository


class RowEffects:
    """The effects of one inbox row."""

    def __init__(self, repo: EffectRepository, inbox_id: int) -> None:
        self._repo = repo
        self.inbox_id = inbox_id

    async def get(self, kind: str) -> Effect | None:
        return await self._repo.get(self.inbox_id, kind)

    async def is_done(self, kind: str) -> bool:
        effect = await self._repo.get(self.inbox_id, kind)
        return effect is not None and effect.status == "done"

    async def intent(self, kind: str, payload: Mapping[str, Any]) -> None:
        """Record that the effect is about to happen (idempotent for the same kind)."""
        await self._repo.record_intent(self.inbox_id, kind, payload)

    async def done(self, kind: str, result: Mapping[str, Any]) -> None:
        await self._repo.record_done(self.inbox_id, kind, result)

    async def once(
        self, kind: str, payload: Mapping[str, Any], run: Callable[[], Awaitable[Mapping[str, Any]]]
    ) -> bool:
        """Perform an effect at most once per row: skipped when done; ``True`` when it ran now.

        Only for effects that are safe to repeat when a crash falls between the effect and its record
        (a notification with a tag, a transfer to the same place); a chat message needs the reply's
        check against the chat instead (conversations.service).
        """
        if await self.is_done(kind):
            return False
        await self.intent(kind, payload)
        await self.done(kind, await run())
        return True


def effects_middleware(repo: EffectRepository) -> Middleware:
    """Outer middleware: ``ctx.effects`` is the row's :class:`RowEffects`."""

    async def bind(nxt: Handler, update: Any, ctx: Context) -> None:
        if ctx.effects is None:
            ctx.effects = RowEffects(repo, ctx.inbox_id)
        await nxt(update, ctx)

    return bind
