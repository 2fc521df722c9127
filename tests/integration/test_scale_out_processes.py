"""The scale-out deployment as it runs: ingress + two ``b24claude worker`` OS processes over real
PostgreSQL, Redis and RabbitMQ, against the portal and Claude emulators.

Many customers write several messages each; one worker is killed with SIGKILL mid-run and started
again, twice. What the customers saw must show every message answered exactly once and the replies
of each dialogue in the order of its messages.

CI runs 40 dialogues x 4 messages (~20 s); the issue's full size, 200 dialogues x 5 messages, is
``B24C_SCALE_DIALOGUES=200 B24C_SCALE_MESSAGES=5`` (README "Scale-out" gives its last run).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from pathlib import Path

from sqlalchemy import text

from b24claude.cli.stack import SandboxStack
from tests.e2e.conftest import bot_replies, customer_messages

DIALOGUES = int(os.environ.get("B24C_SCALE_DIALOGUES", "40"))
MESSAGES = int(os.environ.get("B24C_SCALE_MESSAGES", "4"))


def tag(d: int, m: int) -> str:
    return f"[q{d}x{m}]"  # brackets: "[q1x1]" is no substring of "[q11x1]"


def answered(stack: SandboxStack, customers: list[dict[str, str]]) -> int:
    """Bot replies the customers saw so far. Polled while the run goes on, in the process that also
    runs the emulators and the ingress: read the emulator's messages as they are (no per-message
    dict copies, the chats found once), or the poll itself becomes the bottleneck at full size."""
    state = stack.portal
    chats = _chats.setdefault(id(customers), {})
    total = 0
    for c in customers:
        chat_id = chats.get(c["key"])
        if chat_id is None:
            chat = state.find_chat(c)
            if chat is None:
                continue
            chat_id = chats[c["key"]] = chat.id
        for mid in state.chat_index.get(chat_id, []):
            m = state.messages[mid]
            if m.deleted or m.system or m.params.get("SKIP_CONNECTOR") == "Y":
                continue
            if state.users.get(m.author_id, {}).get("_BOT"):
                total += 1
    return total


_chats: dict[int, dict[str, int]] = {}


async def wait_for(predicate: object, *, timeout: float, what: str, progress: object = lambda: "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what} ({progress()})")  # type: ignore[operator]
        await asyncio.sleep(0.25)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


async def test_two_workers_answer_each_message_once_and_in_order_through_a_sigkill(
    pg_url: str, redis_url: str, redis_prefix: str, queue_name: str, tmp_path: Path
) -> None:
    stack = SandboxStack(
        database_url=pg_url,
        # The portal's own limit, shared by both workers through Redis.
        rate_limit_per_s=40.0,
        burst=200,
        settings_overrides={
            "broker_url": "amqp://guest:guest@127.0.0.1:5672/",
            "broker_queue": queue_name,
            "redis_url": redis_url,
            "redis_prefix": redis_prefix,
            "lease_s": 3.0,  # a killed worker's rows come back after 3 s
            "feeder_interval_s": 0.5,
            "priority_aging_s": 2.0,
            "worker_concurrency": 6,
            # Each message is answered on its own here (a reply per message, in order); coalescing
            # of quick messages has its own tests (tests/e2e/test_coalescing.py).
            "coalesce_max_messages": 1,
        },
    )
    # The ingress (v2 puller) runs in this process: a broker is set, so no worker runs here.
    await stack.start(install=False)
    assert stack.container is not None and stack.container.role == "ingress"
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    workers = [stack.spawn_worker_process(log=logs[0]), stack.spawn_worker_process(log=logs[1])]
    customers = [
        {"key": f"scale-{uuid.uuid4().hex[:6]}-{d}", "name": f"Клиент{d}", "last_name": "Тестов"}
        for d in range(DIALOGUES)
    ]
    try:
        await stack.install(timeout=30.0)  # the bot is registered by a worker
        for d in range(DIALOGUES):
            for m in range(MESSAGES):
                stack.claude.script(tag(d, m), f"Ответ {tag(d, m)}")
        stack.claude.latency = 0.25  # rows are in flight when the kill comes
        for m in range(MESSAGES):
            for d, c in enumerate(customers):
                await stack.portal.customer_writes(f"Вопрос {tag(d, m)}", c)
        total = DIALOGUES * MESSAGES

        budget = 45 + total * 0.1  # generous: a loaded 2-CPU machine
        for share in (4, 2):  # killed once a quarter is answered, and again at a half
            await wait_for(
                lambda share=share: answered(stack, customers) >= total // share,  # type: ignore[misc]
                timeout=budget,
                what=f"1/{share} answered",
            )
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait(timeout=10)
            killed_at = answered(stack, customers)
            assert killed_at < total, "the kill came too late to prove anything"
            workers[0] = stack.spawn_worker_process(log=logs[0])

        await wait_for(
            lambda: answered(stack, customers) >= total,
            timeout=budget,
            what="every message answered",
            progress=lambda: f"{answered(stack, customers)} of {total}",
        )
        await asyncio.sleep(4.0)  # past a lease: a doubled answer would show up now

        for d, c in enumerate(customers):
            chat = stack.portal.find_chat(c)
            assert chat is not None
            assert customer_messages(stack, chat.id) == [f"Вопрос {tag(d, m)}" for m in range(MESSAGES)]
            # Exactly once each, in the order the customer wrote them.
            assert bot_replies(stack, chat.id) == [f"Ответ {tag(d, m)}" for m in range(MESSAGES)], d
        async with stack.container.store.engine.connect() as conn:
            resumed = (
                await conn.execute(text("SELECT count(*) FROM inbox WHERE last_error LIKE 'interrupted%'"))
            ).scalar_one()
        assert resumed >= 1, "no row was in flight in the killed worker: the kill proved nothing"
        counts = await stack.container.store.inbox.counts()
        assert counts["failed"] == counts["processing"] == counts["pending"] == 0, counts
        # Both processes kept under the portal's one bucket (a stray 503 is absorbed by back-off).
        assert stack.portal.stats.rejected_rate_limit <= 2
        assert all(w.poll() is None for w in workers), [p.read_text()[-2000:] for p in logs]
    finally:
        for w in workers:
            stop(w)
        await stack.stop()
