"""What the CLI commands run: the service, the emulators as servers, inbox tools."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from typing import Any, cast

import uvicorn

from b24claude.ports.store import InboxItem, InboxStatus
from b24claude.settings import Settings


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve_app(settings: Settings, *, host: str, port: int) -> uvicorn.Config:
    """A uvicorn config whose app builds the container on start-up (migrations, worker, puller)."""
    from b24claude.adapters.logs import configure_logging
    from b24claude.api.app import create_app
    from b24claude.bootstrap import build
    from b24claude.errors import B24ClaudeError

    class _Lazy:
        """ASGI app that builds the container inside uvicorn's own event loop."""

        def __init__(self) -> None:
            self._app: Any = None

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if self._app is None:
                try:
                    container = await build(settings)
                except B24ClaudeError as exc:
                    # What the checks could not see beforehand (a key file replaced meanwhile, the
                    # database gone): one line with the reason, no traceback, and uvicorn exits.
                    if scope["type"] != "lifespan":
                        raise
                    await receive()  # lifespan.startup
                    message = f"start-up refused / запуск отменён: [{exc.code}] {exc.message}"
                    await send({"type": "lifespan.startup.failed", "message": message})
                    return
                # Now the portals' choices are known: text in logs only where an admin allowed it, masked.
                configure_logging(
                    settings, text_allowed=container.log_text.allows, mask=container.log_text.mask
                )
                self._app = create_app(container)
            await self._app(scope, receive, send)

    # log_config=None: uvicorn's records go to the root logger, through the redacting chain of
    # adapters/logs.py, instead of uvicorn's own plain-text handlers.
    return uvicorn.Config(
        _Lazy(),
        host=host,
        port=port,
        lifespan="on",
        # uvicorn's own start/stop chatter is held at WARNING (adapters/logs.QUIET_LOGGERS); the
        # access log is ours (api/access_log.py), with the portal and no query strings.
        log_level="warning",
        access_log=False,
        log_config=None,
    )


async def run_worker(settings: Settings) -> None:
    """A ``b24claude worker`` process: the queue's consumer and the inbox feeder, until SIGTERM or
    SIGINT; then in-flight rows are cancelled unacked (the broker redelivers them, and their
    leases expire)."""
    import signal

    from b24claude.adapters.logs import configure_logging
    from b24claude.bootstrap import build

    container = await build(settings, role="worker")
    configure_logging(settings, text_allowed=container.log_text.allows, mask=container.log_text.mask)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await container.start()
    try:
        await stopping.wait()
    finally:
        await container.stop()


async def run_portal_sandbox(*, host: str, port: int, rate: float, burst: int) -> None:
    from b24claude.sandbox.portal import PortalConfig, PortalState, create_portal_app
    from b24claude.sandbox.server import ServerHandle

    state = PortalState(PortalConfig(rate_limit_per_s=rate, burst=burst))
    async with ServerHandle(create_portal_app(state), host=host, port=port, log_level="info") as server:
        state.config.public_base_url = server.base_url
        print(
            f"Bitrix24 portal emulator / эмулятор портала: {server.base_url}  (control: {server.base_url}/_sandbox)"
        )
        await asyncio.Event().wait()


async def run_claude_sandbox(*, host: str, port: int) -> None:
    from b24claude.sandbox.claude import ClaudeState, create_claude_app
    from b24claude.sandbox.server import ServerHandle

    state = ClaudeState()
    async with ServerHandle(create_claude_app(state), host=host, port=port, log_level="info") as server:
        print(
            f"Claude API emulator / эмулятор Claude API: {server.base_url}  (control: {server.base_url}/_sandbox)"
        )
        await asyncio.Event().wait()


async def inbox_rows(settings: Settings, *, statuses: list[str], limit: int) -> list[InboxItem]:
    from b24claude.adapters.sql import SqlStore

    store = await SqlStore.open(settings.database_url)
    try:
        return await store.inbox.list_items(statuses=cast(list[InboxStatus], statuses), limit=limit)
    finally:
        await store.close()


async def inbox_replay(settings: Settings, *, ids: list[int], all_failed: bool) -> int:
    from b24claude.adapters.sql import SqlStore

    store = await SqlStore.open(settings.database_url)
    try:
        return await store.inbox.replay(ids or None, statuses=["failed"] if all_failed and not ids else [])
    finally:
        await store.close()


async def inbox_counts(settings: Settings) -> Mapping[str, int]:
    from b24claude.adapters.sql import SqlStore

    store = await SqlStore.open(settings.database_url)
    try:
        return await store.inbox.counts()
    finally:
        await store.close()
