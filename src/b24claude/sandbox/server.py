"""Run an ASGI app (an emulator) on a real loopback port inside the current event loop.

Used by tests, the demo and benchmarks: `async with ServerHandle(app) as server: server.base_url`.
Port 0 asks the OS for a free port; the bound port is read back from uvicorn's listening socket.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from types import TracebackType
from typing import Any

import uvicorn


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the host's signal handlers alone and stops without polling delay."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def request_exit(self) -> None:
        self.should_exit = True
        self._wake.set()

    async def main_loop(self) -> None:
        # uvicorn polls `should_exit` every 0.1 s; wait on an event instead (ticks stay once a second,
        # which is when uvicorn refreshes its Date header).
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)


class ServerHandle:
    """A uvicorn server running as a task of the current event loop."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        startup_timeout: float = 10.0,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="auto",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = _QuietServer(self._config)
        self._task: asyncio.Task[None] | None = None
        self._startup_timeout = startup_timeout

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> str:
        """Start serving; return the base URL once the socket is listening."""
        if self.running:
            return self.base_url
        self._task = asyncio.create_task(self._server.serve(), name=f"uvicorn:{self.host}:{self.port}")
        deadline = asyncio.get_running_loop().time() + self._startup_timeout
        while not self._server.started:
            if self._task.done():
                self._task.result()  # re-raise the startup failure
                raise RuntimeError("uvicorn stopped during startup")
            if asyncio.get_running_loop().time() > deadline:
                await self.stop()
                raise TimeoutError("uvicorn did not start in time")
            await asyncio.sleep(0.005)
        sockets = self._server.servers[0].sockets
        self.port = int(sockets[0].getsockname()[1])
        return self.base_url

    async def stop(self) -> None:
        """Stop serving and wait for the task to finish (open connections are closed)."""
        if self._task is None:
            return
        self._server.request_exit()
        try:
            await self._task
        finally:
            self._task = None

    async def __aenter__(self) -> ServerHandle:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def serve_app(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> ServerHandle:
    """Start `app` on host:port (0 = any free port) and return the running handle."""
    handle = ServerHandle(app, host=host, port=port)
    await handle.start()
    return handle
