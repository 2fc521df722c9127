"""Middleware time and Bitrix24 REST calls per answered message, on the whole loop.

Both emulators and the app on loopback (in one process, emulator latency 0), the app installed,
N customers each holding a dialogue of M messages (asked one after another, each waiting for its
reply), portal limit 2 req/s burst 50. Middleware time = the handler's wall time for the message
minus the time spent waiting for Claude (the SDK call, as the client measured it); it includes
the REST calls to the portal, the database and the prompt building.

    .venv/bin/python -m bench.bench_answer [--customers 30] [--messages 4] [--bot-api v2|v1]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from b24claude.cli.demo import rest_calls
from b24claude.cli.stack import SandboxStack
from b24claude.dispatch import Context
from b24claude.events.models import IncomingMessage
from bench.common import machine, percentile

DIALOGUE = (
    "Здравствуйте! Сколько стоит доставка по Москве?",
    "А оплатить картой Мир можно?",
    "Если не подойдёт, как вернуть?",
    "Какая гарантия на кофемашину?",
    "Спасибо!",
    "А самовывоз у вас где?",
)


async def main(
    customers: int, messages: int, bot_api: str, rate: float, burst: int, parallel: int
) -> dict[str, Any]:
    stack = SandboxStack(bot_api=bot_api, rate_limit_per_s=rate, burst=burst)
    await stack.start()
    middleware_ms: list[float] = []
    e2e_ms: list[float] = []

    async def timing(nxt: Any, update: Any, ctx: Context) -> None:
        t0 = time.perf_counter()
        await nxt(update, ctx)
        if isinstance(update, IncomingMessage) and ctx.timings.llm_calls:
            middleware_ms.append((time.perf_counter() - t0 - ctx.timings.llm_s) * 1000)

    try:
        assert stack.container is not None
        stack.container.dispatcher.outer.append(timing)
        before_answer, before_polls = rest_calls(stack)
        t_start = time.perf_counter()

        async def dialogue(i: int) -> None:
            who = {"key": f"bench-{i}", "name": f"Клиент{i}", "last_name": "Тестов", "phone": f"+7 901 000-{i:04d}"}
            for text in DIALOGUE[:messages]:
                t0 = time.perf_counter()
                await stack.ask(text, who, timeout=120)
                e2e_ms.append((time.perf_counter() - t0) * 1000)

        sem = asyncio.Semaphore(parallel)

        async def limited(i: int) -> None:
            async with sem:
                await dialogue(i)

        await asyncio.gather(*(limited(i) for i in range(customers)))
        elapsed = time.perf_counter() - t_start
        answer_calls, polls = rest_calls(stack)
        answered = customers * messages
        return {
            "answered": answered,
            "middleware_p50_ms": percentile(middleware_ms, 0.5),
            "middleware_p90_ms": percentile(middleware_ms, 0.9),
            "e2e_p50_ms": percentile(e2e_ms, 0.5),
            "rest_per_msg": (answer_calls - before_answer) / answered,
            "polls_per_msg": (polls - before_polls) / answered,
            "query_limit_rejections": stack.portal.stats.rejected_rate_limit,
            "elapsed_s": elapsed,
            "throttle_wait_s": stack.container.bitrix.stats.throttle_wait_s,
        }
    finally:
        await stack.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=30)
    ap.add_argument("--messages", type=int, default=4)
    ap.add_argument("--bot-api", default="v2", choices=["v2", "v1"])
    ap.add_argument("--rate", type=float, default=2.0, help="portal limit, requests/s")
    ap.add_argument("--burst", type=int, default=50)
    ap.add_argument("--parallel", type=int, default=5, help="dialogues in progress at a time")
    a = ap.parse_args()
    r = asyncio.run(main(a.customers, a.messages, a.bot_api, a.rate, a.burst, a.parallel))
    print(f"bench_answer: {machine()}")
    print(
        f"  conditions: one process (app + both emulators), bot API {a.bot_api}, {a.customers} dialogues x "
        f"{a.messages} messages, {a.parallel} dialogue(s) at a time, "
        f"portal limit {a.rate:g} req/s burst {a.burst}, emulator latency 0"
    )
    print(
        f"  middleware time per answered message (excl. Claude): median {r['middleware_p50_ms']:.1f} ms, "
        f"p90 {r['middleware_p90_ms']:.1f} ms; customer-visible reply time median {r['e2e_p50_ms']:.0f} ms"
    )
    print(
        f"  Bitrix24 REST calls per answered message: {r['rest_per_msg']:.2f} on the answer path"
        + (f" + {r['polls_per_msg']:.2f} imbot.v2.Event.get polls" if a.bot_api == "v2" else "")
        + f"; QUERY_LIMIT_EXCEEDED: {r['query_limit_rejections']}; {r['answered']} answered in {r['elapsed_s']:.1f} s; "
        f"time spent waiting for the portal's rate limit: {r['throttle_wait_s']:.1f} s"
    )
