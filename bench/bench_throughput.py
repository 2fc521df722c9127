"""Messages answered per second end to end, with each part in its own process, against a baseline
of everything in one process, side by side in one run.

Each scenario: ``--dialogues`` customers each write one message at the same moment (then, with
``--rounds`` > 1, their next one once answered); the Claude emulator answers every request after
``--latency`` seconds (a slow, busy hour). The portal's REST limit is raised to ``--portal-rate`` so
that it is not what is measured (and said so). Measured: answered messages per second from the
first write to the last reply, the reply time each customer saw (p50/p95: from their message to
the bot's reply in the chat), the CPU each process used per wall second (``/proc/<pid>/stat``: to
show what bounds the rate — waiting on Claude, or a CPU), the app's CPU per answer, and the REST
requests the app made per answer (portal side, a ``batch`` is one request; polls apart).

Scenarios: ``baseline 1-process`` (the emulators, the app on SQLite with its in-process worker and
the customers all in this process, as the bench measured before); ``embedded cN`` (the Claude
emulator and ``b24claude serve`` each their own process, ``B24C_WORKER_CONCURRENCY`` N: the sweep
shows where concurrency stops being the limit); ``scale-out xN`` (the ingress and N
``b24claude worker`` processes over PostgreSQL, Redis and RabbitMQ). The portal emulator and the
customers stay in this process.

A second measure, ``--rest``: REST calls per answered message with ``--dialogues`` dialogues of 1
and of 4 messages against the portal's real default of 2 req/s (burst 50), polls included, on a
clock 20x faster than the wall (portal and app share it), Claude latency 0.

The run fails (exit 1, no figures) when any message was not answered exactly once in time, any
inbox row ended failed, or the portal refused a request: a rate of errors is not a rate.

    .venv/bin/python -m bench.bench_throughput [--dialogues 200] [--latency 3] [--workers 1,2,4]
        [--sweep 8,50,200] [--bot-api v2|v1] [--poll-interval 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from b24claude.adapters.sql import SqlStore, migrate
from b24claude.cli.runtime import free_port
from b24claude.cli.stack import SandboxStack
from b24claude.kit.clock import ScaledClock
from bench.common import machine, percentile

PG_URL = os.environ.get("B24C_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("B24C_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("B24C_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


# The app's REST requests that are polls (imbot.v2 fetch, the offline-events queue) or set-up.
POLLS = frozenset({"imbot.v2.event.get", "event.offline.get", "event.offline.list", "event.offline.clear"})
SETUP = frozenset({"imbot.register", "imbot.bot.list", "imbot.v2.bot.register", "event.get", "event.bind"})


class Refused(Exception):
    """The run cannot give a figure."""


@dataclass
class Result:
    name: str
    answered: int = 0
    elapsed_s: float = 0.0
    reply_s: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.answered / self.elapsed_s if self.elapsed_s else 0.0


async def _admin(sql: str) -> None:
    engine = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5})
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def _drive(
    stack: SandboxStack,
    name: str,
    dialogues: int,
    rounds: int,
    timeout: float,
    *,
    claude_url: str = "",
    database_url: str = "",
) -> Result:
    """All customers write at once; each next round once their previous message is answered.
    ``claude_url``: the Claude emulator runs in its own process (scripted over its control API);
    ``database_url``: the app runs in its own process(es) (its inbox read from the database)."""
    customers = [{"key": f"tp-{uuid.uuid4().hex[:6]}-{d}", "name": f"Клиент{d}"} for d in range(dialogues)]
    if claude_url:
        async with httpx.AsyncClient(base_url=claude_url, trust_env=False) as http:
            for d in range(dialogues):
                for m in range(rounds):
                    r = await http.post(
                        "/_sandbox/scripted", json={"match": f"[t{d}r{m}]", "reply": f"Ответ [t{d}r{m}]"}
                    )
                    r.raise_for_status()
    else:
        for d in range(dialogues):
            for m in range(rounds):
                stack.claude.script(f"[t{d}r{m}]", f"Ответ [t{d}r{m}]")
    rest0 = stack.portal.stats.rest_calls
    by_method0 = dict(stack.portal.stats.by_method)
    result = Result(name)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    t_start = time.perf_counter()

    # One watcher for every chat (cheap: the bench must not be what eats the CPU): the newest
    # message of each awaited chat, checked every 20 ms; a bot message there is the reply.
    waiting: dict[int, tuple[int, float, asyncio.Future[str]]] = {}
    portal = stack.portal

    async def watch() -> None:
        while True:
            for chat_id, (after_id, t0, fut) in list(waiting.items()):
                ids = portal.chat_index.get(chat_id, [])
                if ids and ids[-1] > after_id:
                    msg = next(
                        (
                            portal.messages[i]
                            for i in ids
                            if i > after_id and portal.messages[i].author_id != portal_customer[chat_id]
                        ),
                        None,
                    )
                    if msg is not None:
                        del waiting[chat_id]
                        result.reply_s.append(time.perf_counter() - t0)
                        fut.set_result(msg.text)
            await asyncio.sleep(0.02)

    portal_customer: dict[int, int] = {}

    async def customer(d: int) -> None:
        for m in range(rounds):
            msg = await portal.customer_writes(f"Вопрос [t{d}r{m}]", customers[d])
            portal_customer[msg.chat_id] = msg.author_id
            fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            waiting[msg.chat_id] = (msg.id, time.perf_counter(), fut)
            reply = await asyncio.wait_for(fut, timeout)
            if reply != f"Ответ [t{d}r{m}]":
                raise Refused(f"{name}: dialogue {d} got {reply!r} for message {m}")

    watcher = asyncio.create_task(watch())
    try:
        await asyncio.gather(*(customer(d) for d in range(dialogues)))
    except TimeoutError:
        raise Refused(f"{name}: {len(waiting)} message(s) unanswered after {timeout:g} s") from None
    finally:
        watcher.cancel()
    result.elapsed_s = time.perf_counter() - t_start
    result.answered = dialogues * rounds
    await asyncio.sleep(1.0)  # a doubled answer would show up now
    for c in customers:
        chat = stack.portal.find_chat(c)
        assert chat is not None
        bot = [m for m in stack.portal.customer_view(chat.id) if stack.is_bot(m)]
        if len(bot) != rounds:
            raise Refused(f"{name}: a dialogue has {len(bot)} replies for {rounds} messages")
    if database_url:
        store = await SqlStore.open(database_url)
        try:
            counts = await store.inbox.counts()
        finally:
            await store.close()
    else:
        assert stack.container is not None
        counts = await stack.container.store.inbox.counts()
    refused = stack.portal.stats.rejected_rate_limit + stack.portal.stats.rejected_operating_limit
    if counts["failed"] or refused:
        raise Refused(f"{name}: failed rows {counts['failed']}, portal refusals {refused}")
    result.cpu_s = time.process_time() - cpu0
    result.extra["wall_s"] = time.perf_counter() - wall0
    result.extra["bench_cpu_s"] = result.cpu_s  # this process: the portal emulator and the customers
    # REST calls the app made (portal side; a batch is one request), polls apart.
    by_method = stack.portal.stats.by_method
    delta: dict[str, int] = {}
    for method, count in by_method.items():
        key = method.lower()
        delta[key] = delta.get(key, 0) + count - by_method0.get(method, 0)
    polls = sum(n for name, n in delta.items() if name in POLLS)
    setup = sum(n for name, n in delta.items() if name in SETUP)
    result.extra["rest_answer"] = (stack.portal.stats.rest_calls - rest0 - polls - setup) / result.answered
    result.extra["rest_polls"] = polls / result.answered
    return result


async def embedded(args: argparse.Namespace) -> Result:
    stack = SandboxStack(
        bot_api=args.bot_api,
        rate_limit_per_s=args.portal_rate,
        burst=args.portal_burst,
        settings_overrides={"worker_concurrency": args.concurrency, "v2_poll_interval_s": args.poll_interval},
    )
    await stack.start()
    try:
        stack.claude.latency = args.latency
        return await _drive(stack, "embedded", args.dialogues, args.rounds, args.timeout)
    finally:
        await stack.stop()


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a live process has used so far (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _wait_http(url: str, timeout: float = 30.0) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        for _ in range(int(timeout / 0.1)):
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise Refused(f"{url} did not come up")


def _spawn_claude(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "b24claude.sandbox.claude", "--port", str(port), "--any-key"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def separate(args: argparse.Namespace, *, workers: int, concurrency: int) -> Result:
    """Each part in its own OS process: the Claude emulator (``python -m b24claude.sandbox.claude``),
    the app (``b24claude serve``; with ``workers`` > 0 the ingress plus that many ``b24claude worker``
    processes over PostgreSQL, Redis and RabbitMQ), and this process (the portal emulator and the
    customers). CPU is measured per process."""
    claude_port = free_port()
    claude_url = f"http://127.0.0.1:{claude_port}"
    claude = _spawn_claude(claude_port)
    name = f"{'embedded' if not workers else f'scale-out x{workers}'} c{concurrency}"
    overrides: dict[str, Any] = {
        "anthropic_base_url": claude_url,
        "worker_concurrency": concurrency if not workers else max(1, concurrency // workers),
        "v2_poll_interval_s": args.poll_interval,
    }
    database = ""
    stack: SandboxStack | None = None
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await _wait_http(f"{claude_url}/_sandbox/health")
        async with httpx.AsyncClient(base_url=claude_url, trust_env=False) as http:
            (await http.post("/_sandbox/config", json={"latency": args.latency})).raise_for_status()
        db_url = ""
        if workers:
            database = f"b24c_bench_{uuid.uuid4().hex[:10]}"
            await _admin(f'CREATE DATABASE "{database}"')
            db_url = make_url(PG_URL).set(database=database).render_as_string(hide_password=False)
            await migrate(db_url)
            overrides.update(
                broker_url=AMQP_URL,
                broker_queue=f"b24c-bench-{uuid.uuid4().hex[:8]}",
                redis_url=REDIS_URL,
                redis_prefix=f"b24c-bench-{uuid.uuid4().hex[:8]}:",
            )
        stack = SandboxStack(
            bot_api=args.bot_api,
            database_url=db_url or None,
            rate_limit_per_s=args.portal_rate,
            burst=args.portal_burst,
            settings_overrides=overrides,
        )
        await stack.start(install=False)
        await stack.stop_app()  # the in-process app only created the database: the real one is a process
        assert stack.database_url is not None
        app = stack.spawn_app_process()
        procs.append(app)
        await stack.wait_app_http()
        procs += [stack.spawn_worker_process() for _ in range(workers)]
        await stack.install(timeout=60.0)
        await asyncio.sleep(1.0)  # start-up work (offline events bound, first polls) out of the figure
        cpu0 = {p.pid: _proc_cpu(p.pid) for p in [claude, *procs]}
        result = await _drive(
            stack,
            name,
            args.dialogues,
            args.rounds,
            args.timeout,
            claude_url=claude_url,
            database_url=stack.database_url,
        )
        app_cpu = _proc_cpu(app.pid) - cpu0[app.pid]
        worker_cpu = [_proc_cpu(p.pid) - cpu0[p.pid] for p in procs[1:]]
        claude_cpu = _proc_cpu(claude.pid) - cpu0[claude.pid]
        result.extra["cpu"] = {
            "bench+portal": result.extra["bench_cpu_s"],
            "claude": claude_cpu,
            "ingress" if workers else "app": app_cpu,
            **({f"worker{i + 1}": c for i, c in enumerate(worker_cpu)}),
        }
        result.cpu_s = result.extra["bench_cpu_s"] + claude_cpu + app_cpu + sum(worker_cpu)
        result.extra["app_cpu_s"] = app_cpu + sum(worker_cpu)
        return result
    finally:
        for p in [*procs, claude]:
            if p.poll() is None:
                p.terminate()
        for p in [*procs, claude]:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        if stack is not None:
            await stack.stop()
        if database:
            await _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def rest_per_message(args: argparse.Namespace, rounds: int) -> Result:
    """REST calls per answered message at the portal's real limit (2 req/s, burst 50), polls
    included, counted on the portal's side (a ``batch`` is one request); clock 20x faster."""
    clock = ScaledClock(20.0)
    stack = SandboxStack(
        clock=clock,
        rate_limit_per_s=2.0,
        burst=50,
        settings_overrides={"worker_concurrency": args.concurrency, "v2_poll_interval_s": args.poll_interval},
    )
    await stack.start()
    try:
        return await _drive(stack, f"rest x{rounds}", args.dialogues, rounds, args.timeout * 4)
    finally:
        await stack.stop()


def line(r: Result, baseline: Result | None) -> str:
    ratio = f", {r.rate / baseline.rate:.2f}x baseline" if baseline is not None and r is not baseline else ""
    out = (
        f"  {r.name:<20} {r.rate:6.1f} answered/s{ratio}; reply p50 {percentile(r.reply_s, 0.5):.2f} s, "
        f"p95 {percentile(r.reply_s, 0.95):.2f} s; CPU {r.cpu_s / r.elapsed_s:.2f} s per wall second"
    )
    cpu = r.extra.get("cpu")
    if cpu:
        per = ", ".join(f"{k} {v / r.elapsed_s:.2f}" for k, v in cpu.items())
        out += f" ({per}); app CPU {1000 * r.extra['app_cpu_s'] / r.answered:.1f} ms per answer"
    out += (
        f"; REST {r.extra['rest_answer']:.2f} + {r.extra['rest_polls']:.2f} polls per answer"
        f" ({r.answered} messages in {r.elapsed_s:.1f} s)"
    )
    return out


async def main(args: argparse.Namespace) -> int:
    results: list[Result] = []
    try:
        base = await embedded(args)
        base.name = "baseline 1-process"
        results.append(base)
        for c in args.sweep:
            results.append(await separate(args, workers=0, concurrency=c))
        for n in args.workers:
            results.append(await separate(args, workers=n, concurrency=args.concurrency))
        rest = [await rest_per_message(args, r) for r in (1, 4)] if args.rest else []
    except Refused as exc:
        print(f"bench_throughput: FAILED, no figures: {exc}", file=sys.stderr)
        return 1
    print(f"bench_throughput: {machine()}")
    print(
        f"  conditions: bot API {args.bot_api}, {args.dialogues} dialogues writing at once, "
        f"{args.rounds} message(s) each; Claude emulator latency {args.latency:g} s per request; "
        f"portal limit lifted to {args.portal_rate:g} req/s burst {args.portal_burst}; "
        f"imbot.v2 idle poll {args.poll_interval:g} s. baseline: the emulators, the app and the customers "
        f"in this one process, B24C_WORKER_CONCURRENCY {args.concurrency}; the others: Claude emulator, "
        f"app (serve; + workers for scale-out) each their own process, portal emulator + customers here, "
        f"cN = B24C_WORKER_CONCURRENCY per deployment (split across the workers)"
    )
    for r in results:
        print(line(r, results[0]))
    for r in rest:
        answer, polls = r.extra["rest_answer"], r.extra["rest_polls"]
        print(
            f"  REST calls per answered message, {args.dialogues} dialogues x {r.answered // args.dialogues} "
            f"message(s) at the portal's 2 req/s (burst 50, clock x20, B24C_WORKER_CONCURRENCY "
            f"{args.concurrency}): {answer:.2f} on the answer path + {polls:.2f} polls (imbot.v2.Event.get, "
            f"event.offline.*) = {answer + polls:.2f}; refused 0"
        )
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--dialogues", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--latency", type=float, default=3.0, help="Claude emulator latency, s (2-5)")
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--workers", default="1,2,4", help="scale-out worker process counts, '' for none")
    ap.add_argument(
        "--sweep", default="8,50,200", help="embedded (own process) runs at these B24C_WORKER_CONCURRENCY"
    )
    ap.add_argument("--poll-interval", type=float, default=2.0, help="B24C_V2_POLL_INTERVAL_S (default 2)")
    ap.add_argument("--portal-rate", type=float, default=1000.0)
    ap.add_argument("--portal-burst", type=int, default=2000)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--rest", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument(
        "--bot-api", default="v2", choices=["v2", "v1"], help="v2: fetch mode (polls); v1: pushed"
    )
    a = ap.parse_args()
    a.workers = [int(x) for x in a.workers.split(",") if x.strip()]
    a.sweep = [int(x) for x in a.sweep.split(",") if x.strip()]
    raise SystemExit(asyncio.run(main(a)))
