"""``/readyz`` over the real services, and the graceful drain of a worker on SIGTERM.

Readiness names what the process needs: PostgreSQL, RabbitMQ and Redis; a broker connection that
is gone makes the process unready (a load balancer stops sending it events) while ``/healthz``
still says alive. The drain: a ``b24claude worker`` told SIGTERM with rows in flight finishes them
within its deadline, records and acks them, and exits 0; with a deadline shorter than the work,
the rows it still holds are released to ``pending`` at once (no attempt counted), and a peer
answers each exactly once.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import httpx

from b24claude.cli.stack import SandboxStack
from tests.e2e.conftest import bot_replies
from tests.integration.test_scale_out_processes import answered, stop, wait_for


def scale_out(
    pg_url: str, redis_url: str, redis_prefix: str, queue_name: str, **settings: object
) -> SandboxStack:
    return SandboxStack(
        database_url=pg_url,
        rate_limit_per_s=40.0,
        burst=200,
        settings_overrides={
            "broker_url": "amqp://guest:guest@127.0.0.1:5672/",
            "broker_queue": queue_name,
            "redis_url": redis_url,
            "redis_prefix": redis_prefix,
            "feeder_interval_s": 0.5,
            **settings,
        },
    )


async def test_readyz_names_the_database_the_broker_and_redis(
    pg_url: str, redis_url: str, redis_prefix: str, queue_name: str
) -> None:
    stack = scale_out(pg_url, redis_url, redis_prefix, queue_name)
    await stack.start(install=False)
    try:
        assert stack.container is not None and stack.container.role == "ingress"
        async with httpx.AsyncClient(base_url=stack.app_url) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": "ok", "queue": "ok", "redis": "ok"}
            await stack.container.queue.shutdown()  # the broker connection is gone
            unready = await http.get("/readyz")
            assert unready.status_code == 503
            assert unready.json()["checks"] == {"database": "ok", "queue": "unavailable", "redis": "ok"}
            assert (await http.get("/healthz")).status_code == 200  # alive, only not ready
    finally:
        await stack.stop()


async def _drain_run(
    stack: SandboxStack, tmp_path: Path, *, latency: float, dialogues: int
) -> tuple[int, list[str]]:
    """Start one worker, let it take rows, SIGTERM it; returns its exit code and the customers' keys."""
    await stack.start(install=False)
    log = tmp_path / "worker.log"
    proc = stack.spawn_worker_process(log=log)
    try:
        await stack.install(timeout=30.0)
        customers = [
            {"key": f"drain-{uuid.uuid4().hex[:6]}-{d}", "name": f"Клиент{d}"} for d in range(dialogues)
        ]
        for d in range(dialogues):
            stack.claude.script(f"[w{d}]", f"Ответ [w{d}]")
        stack.claude.latency = latency
        for d, c in enumerate(customers):
            await stack.portal.customer_writes(f"Вопрос [w{d}]", c)
        assert stack.container is not None
        inbox = stack.container.store.inbox
        await wait_for_processing(inbox, dialogues)
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.get_running_loop().run_in_executor(None, proc.wait, 30)
        return code, [c["key"] for c in customers]
    finally:
        stop(proc)


async def wait_for_processing(inbox: object, count: int) -> None:
    """Until the worker holds ``count`` customer messages (not just any rows: a chat's join event is a
    row too, and counting it let a SIGTERM land before the last message was claimed)."""
    for _ in range(800):
        held = await inbox.list_items(statuses=["processing"], limit=200)  # type: ignore[attr-defined]
        if sum(1 for r in held if r.kind.endswith("MESSAGEADD")) >= count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the worker never held the rows")


async def test_sigterm_lets_rows_in_flight_finish_then_the_worker_exits(
    pg_url: str, redis_url: str, redis_prefix: str, queue_name: str, tmp_path: Path
) -> None:
    stack = scale_out(pg_url, redis_url, redis_prefix, queue_name, drain_timeout_s=20.0, worker_concurrency=6)
    try:
        code, keys = await _drain_run(stack, tmp_path, latency=1.5, dialogues=4)
        assert code == 0
        # Finished before the exit, not left for a peer: each answered once, nothing held or pending.
        assert answered(stack, [{"key": k} for k in keys]) == 4
        assert stack.container is not None
        counts = await stack.container.store.inbox.counts()
        assert counts["processing"] == counts["pending"] == counts["failed"] == 0, counts
    finally:
        await stack.stop()


async def test_sigterm_past_the_deadline_releases_rows_to_a_peer_at_once(
    pg_url: str, redis_url: str, redis_prefix: str, queue_name: str, tmp_path: Path
) -> None:
    # A long lease: without the release, a peer would wait a minute for these rows.
    stack = scale_out(
        pg_url, redis_url, redis_prefix, queue_name, drain_timeout_s=0.3, lease_s=60.0, worker_concurrency=6
    )
    peer = None
    try:
        code, keys = await _drain_run(stack, tmp_path, latency=3.0, dialogues=3)
        assert code == 0
        assert stack.container is not None
        inbox = stack.container.store.inbox
        counts = await inbox.counts()
        assert counts["processing"] == 0 and counts["pending"] == 3, counts
        rows = await inbox.list_items(statuses=["pending"])
        assert all(r.last_error.startswith("released") and r.attempts == 0 for r in rows), rows
        stack.claude.latency = 0.0
        peer = stack.spawn_worker_process(log=tmp_path / "peer.log")
        customers = [{"key": k} for k in keys]
        await wait_for(lambda: answered(stack, customers) >= 3, timeout=30, what="the peer's answers")
        await asyncio.sleep(1.0)  # a doubled answer would show up now
        for k in keys:
            chat = stack.portal.find_chat({"key": k})
            assert chat is not None and len(bot_replies(stack, chat.id)) == 1, k
    finally:
        if peer is not None:
            stop(peer)
        await stack.stop()
