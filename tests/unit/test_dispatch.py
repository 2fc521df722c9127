from __future__ import annotations

from typing import Any

from b24claude.dispatch import Context, Dispatcher, Handled, Router
from b24claude.events.models import BotJoined, IncomingMessage, UnknownEvent
from b24claude.ports.bitrix import PortalAuth
from b24claude.ports.store import Portal


def _ctx() -> Context:
    return Context(portal=Portal("m1", "d", PortalAuth("m1", "https://d/rest/")), inbox_id=1)


def _msg(text: str) -> IncomingMessage:
    return IncomingMessage("m1", 5, "v1", 1, "chat1", 1, "L", 9, text, author_is_connector=True)


async def test_first_matching_handler_runs_through_middlewares_in_order() -> None:
    seen: list[str] = []
    dp = Dispatcher()
    child = dp.include(Router("child"))

    async def outer(nxt: Any, upd: Any, ctx: Context) -> None:
        seen.append("outer>")
        await nxt(upd, ctx)
        seen.append("<outer")

    async def inner(nxt: Any, upd: Any, ctx: Context) -> None:
        seen.append("inner>")
        await nxt(upd, ctx)

    dp.outer.append(outer)
    obs = child.on(IncomingMessage)
    obs.inner.append(inner)

    @obs(lambda m, c: "заказ" in m.text)
    async def about_order(m: IncomingMessage, c: Context) -> None:
        seen.append("order")

    @obs()
    async def anything(m: IncomingMessage, c: Context) -> None:
        seen.append("any")

    assert await dp.feed(_msg("где заказ"), _ctx()) is Handled.DONE
    assert seen == ["outer>", "inner>", "order", "<outer"]
    seen.clear()
    assert await dp.feed(_msg("привет"), _ctx()) is Handled.DONE
    assert seen == ["outer>", "inner>", "any", "<outer"]


async def test_unrouted_updates_are_ignored() -> None:
    dp = Dispatcher()
    dp.on(IncomingMessage)(lambda m, c: False)

    async def never(m: IncomingMessage, c: Context) -> None:
        raise AssertionError("filtered out")

    dp.on(IncomingMessage).register(never, lambda m, c: False)
    assert await dp.feed(_msg("x"), _ctx()) is Handled.IGNORED
    assert await dp.feed(UnknownEvent("m1", "ONSOMETHING"), _ctx()) is Handled.IGNORED
    assert await dp.feed(BotJoined("m1", 5, "v1", "chat1", "L", 9), _ctx()) is Handled.IGNORED
