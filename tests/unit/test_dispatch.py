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


async def test_listeners_and_follow_ups_reach_every_matching_handler() -> None:
    from dataclasses import dataclass

    @dataclass
    class Sent:
        text: str

    seen: list[str] = []
    dp = Dispatcher()
    a, b = dp.include(Router("a")), dp.include(Router("b"))

    @a.on(IncomingMessage)()
    async def answer(m: IncomingMessage, c: Context) -> None:
        seen.append("answer")
        c.emit(Sent(m.text))

    @b.on(IncomingMessage)()
    async def second_handler(m: IncomingMessage, c: Context) -> None:
        seen.append("never: the first handler took it")

    @b.on(IncomingMessage).listen()
    async def audit(m: IncomingMessage, c: Context) -> None:
        seen.append("audit")

    @a.on(Sent).listen()
    async def after_a(e: Sent, c: Context) -> None:
        seen.append(f"a:{e.text}")

    @b.on(Sent)()
    async def after_b(e: Sent, c: Context) -> None:
        seen.append(f"b:{e.text}")

    assert await dp.feed(_msg("hi"), _ctx()) is Handled.DONE
    assert seen == ["answer", "audit", "a:hi", "b:hi"]


async def test_only_listeners_leave_the_update_ignored() -> None:
    dp = Dispatcher()
    heard: list[str] = []

    @dp.on(IncomingMessage).listen()
    async def audit(m: IncomingMessage, c: Context) -> None:
        heard.append(m.text)

    assert await dp.feed(_msg("x"), _ctx()) is Handled.IGNORED
    assert heard == ["x"]


async def test_pipeline_stages_run_in_order_and_flows_skip_or_stop() -> None:
    from b24claude.dispatch import STAGES, Flow, MessageContext, Pipeline

    ran: list[str] = []
    pipeline = Pipeline()

    def step(name: str, flow: Flow | None = None) -> Any:
        async def run(turn: MessageContext) -> Flow | None:
            ran.append(name)
            return flow if turn.msg.text == "rule" or (flow is Flow.STOP and turn.msg.text == "stop") else None

        return run

    for stage in reversed(STAGES):  # registration order across stages does not matter
        pipeline.register(stage, step(stage), name=stage)
    pipeline.register("prefilter", step("canned", Flow.SEND), name="canned")
    pipeline.register("route", step("handoff", Flow.STOP), name="handoff")
    assert pipeline.steps("classify") == ["classify"]

    await pipeline.run(MessageContext(msg=_msg("question"), ctx=_ctx(), language="ru"))
    assert ran == [
        "prefilter", "canned", "pseudonymise", "classify", "route", "handoff", "context", "answer", "moderate",
        "send",
    ]
    ran.clear()
    await pipeline.run(MessageContext(msg=_msg("rule"), ctx=_ctx(), language="ru"))
    assert ran == ["prefilter", "canned", "pseudonymise", "send"]  # nothing is sent unmasked
    ran.clear()
    await pipeline.run(MessageContext(msg=_msg("stop"), ctx=_ctx(), language="ru"))
    assert ran == ["prefilter", "canned", "pseudonymise", "classify", "route", "handoff"]
    ran.clear()
    await pipeline.run(MessageContext(msg=_msg("q"), ctx=_ctx(), language="ru", resumed=True))
    assert ran == ["pseudonymise", "send"]
