"""The sandbox stack: both emulators and the app on loopback, the app installed into the portal.

Used by ``b24claude demo``, the end-to-end tests and the benchmarks, so all three exercise exactly
the same wiring as ``b24claude serve`` (the real clients over real HTTP).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from b24claude.adapters.crypto import new_key
from b24claude.api.app import create_app
from b24claude.bootstrap import Container, build
from b24claude.cli.runtime import free_port
from b24claude.kit.clock import Clock
from b24claude.sandbox.claude import ClaudeState, create_claude_app
from b24claude.sandbox.portal import PortalConfig, PortalState, create_portal_app
from b24claude.sandbox.server import ServerHandle
from b24claude.settings import Settings

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "sandbox" / "data" / "knowledge"
DEMO_CLIENT_ID = "local.b24claude0demo.00000001"
DEMO_CLIENT_SECRET = "sandbox-client-secret"
DEMO_API_KEY = "sk-ant-sandbox"
SCOPES = ["crm", "imbot", "imopenlines", "im", "user", "department", "task", "placement", "disk", "landing"]


@dataclass
class SandboxStack:
    bot_api: str = "v2"
    rate_limit_per_s: float = 2.0
    burst: int = 50
    database_url: str | None = None
    settings_overrides: dict[str, Any] = field(default_factory=dict)
    portal_config: dict[str, Any] = field(default_factory=dict)
    claude: ClaudeState = field(default_factory=ClaudeState)
    clock: Clock | None = None  # shared by the app and the portal emulator (e.g. a ScaledClock)
    portal: PortalState = field(init=False)
    container: Container | None = field(init=False, default=None)
    settings: Settings = field(init=False)
    _servers: list[ServerHandle] = field(init=False, default_factory=list)
    _app_server: ServerHandle | None = field(init=False, default=None)
    _tmp: tempfile.TemporaryDirectory[str] | None = field(init=False, default=None)
    member_id: str = field(init=False, default="")

    async def start(self, *, install: bool = True) -> SandboxStack:
        config = PortalConfig(rate_limit_per_s=self.rate_limit_per_s, burst=self.burst, **self.portal_config)
        if self.clock is not None:
            config.clock = self.clock.now
        self.portal = PortalState(config)
        claude_srv = ServerHandle(create_claude_app(self.claude))
        portal_srv = ServerHandle(create_portal_app(self.portal))
        await claude_srv.start()
        await portal_srv.start()
        self.portal.config.public_base_url = portal_srv.base_url
        self._servers = [claude_srv, portal_srv]
        if self.database_url is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="b24claude-")
            self.database_url = f"sqlite+aiosqlite:///{self._tmp.name}/b24claude.db"
        port = free_port()
        values: dict[str, Any] = {
            "public_url": f"http://127.0.0.1:{port}",
            "port": port,
            "database_url": self.database_url,
            "b24_client_id": DEMO_CLIENT_ID,
            "b24_client_secret": DEMO_CLIENT_SECRET,
            "b24_oauth_url": portal_srv.base_url,
            # The emulators listen on http://127.0.0.1: only the sandbox lets loopback through.
            "sandbox": True,
            "b24_rate_limit_per_s": self.rate_limit_per_s,
            "b24_rate_burst": self.burst,
            "anthropic_api_key": DEMO_API_KEY,
            "anthropic_base_url": claude_srv.base_url,
            "bot_api": self.bot_api,
            "company_name": "ООО «КофеТех»",
            "knowledge_dir": str(KNOWLEDGE_DIR),
            "v2_poll_interval_s": 0.5,
            "llm_max_retry_after_s": 2.0,
            # Tests wait for each reply before the next message; a quiet window would only slow them.
            # Rows already waiting together are still answered together (coalescing stays on).
            "coalesce_window_s": 0.0,
            # A key of this stack only: no key file is written (into the working directory, say).
            # Tests that reopen a database in a second stack pass the first stack's keys.
            "secret_keys": new_key(),
        }
        values.update(self.settings_overrides)
        self.settings = Settings(_env_file=None, **values)
        await self.start_app()
        if install:
            await self.install()
        return self

    @property
    def app_url(self) -> str:
        return self.settings.public_url

    async def start_app(self) -> Container:
        """(Re)start the app process part: container + HTTP server on the same port and database."""
        self.container = await build(self.settings, clock=self.clock)
        self._app_server = ServerHandle(create_app(self.container), port=self.settings.port)
        await self._app_server.start()
        return self.container

    async def stop_app(self) -> None:
        if self._app_server is not None:
            await self._app_server.stop()  # lifespan stops the container
            self._app_server = None

    async def install(self, timeout: float = 20.0) -> int:
        """Install the app into the emulated portal, wait for our bot, attach it to every Open Line.

        Waits on the portal's side (the bot appears there), so it works as well when the app runs
        in another process.
        """
        result = await self.portal.install_app(
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
            install_url=f"{self.app_url}/b24/install",
            scopes=SCOPES,
        )
        if result.handler_status != 200:
            raise RuntimeError(f"install handler answered {result.handler_status}: {result.handler_error}")
        self.member_id = result.member_id
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            bots = [b for b in self.portal.bots.values() if b.client_id == DEMO_CLIENT_ID]
            if bots:
                break
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the bot was not registered after install")
            await asyncio.sleep(0.05)
        # What the admin does in the line's settings: route new dialogues to the bot first.
        for line in self.portal.lines.values():
            line.welcome_bot_enable = True
            line.welcome_bot_id = bots[0].id
        return bots[0].id

    async def add_app_with_ui(self) -> None:
        """Add the app as an admin adds a local app *with* an interface ("Uses API only" unticked):
        handler path ``/app``, initial installation path ``/b24/install``. Nothing is posted; the
        install happens when the admin opens the app (the installer page) and it calls
        ``BX24.installFinish()`` (``/_sandbox/ui/app/<client_id>`` in a browser)."""
        await self.portal.install_app(
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
            install_url=f"{self.app_url}/b24/install",
            handler_url=f"{self.app_url}/app",
            scopes=SCOPES,
            with_ui=True,
        )
        self.member_id = self.portal.config.member_id

    async def ask(self, text: str, customer: str | dict[str, Any], *, timeout: float = 30.0) -> str:
        """The customer writes; returns the bot's reply as the customer saw it."""
        msg = await self.portal.customer_writes(text, customer)
        return await self.wait_reply(msg.chat_id, after_id=msg.id, timeout=timeout)

    async def wait_reply(self, chat_id: int, *, after_id: int, timeout: float = 30.0) -> str:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            replies = [m for m in self.portal.customer_view(chat_id) if m["id"] > after_id and self.is_bot(m)]
            if replies:
                return str(replies[0]["text"])
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no reply in chat {chat_id} after message {after_id}")
            await asyncio.sleep(0.02)

    def is_bot(self, message: dict[str, Any]) -> bool:
        user = self.portal.users.get(int(message["author_id"]), {})
        return bool(user.get("_BOT"))

    def app_env(self) -> dict[str, str]:
        """The ``B24C_*`` environment that makes ``b24claude serve`` this stack's app."""
        s = self.settings
        return {
            "B24C_PUBLIC_URL": s.public_url,
            "B24C_PORT": str(s.port),
            "B24C_DATABASE_URL": s.database_url,
            "B24C_B24_CLIENT_ID": s.b24_client_id,
            "B24C_B24_CLIENT_SECRET": s.b24_client_secret.get_secret_value(),
            "B24C_B24_OAUTH_URL": s.b24_oauth_url,
            "B24C_SANDBOX": "true" if s.sandbox else "false",
            "B24C_B24_RATE_LIMIT_PER_S": str(s.b24_rate_limit_per_s),
            "B24C_B24_RATE_BURST": str(s.b24_rate_burst),
            "B24C_ANTHROPIC_API_KEY": s.anthropic_api_key.get_secret_value(),
            "B24C_ANTHROPIC_BASE_URL": s.anthropic_base_url,
            "B24C_BOT_API": s.bot_api,
            "B24C_KNOWLEDGE_DIR": s.knowledge_dir,
            "B24C_V2_POLL_INTERVAL_S": str(s.v2_poll_interval_s),
            "B24C_SECRET_KEYS": s.secret_keys.get_secret_value(),
            "B24C_LOG_LEVEL": "WARNING",
            "B24C_LLM_MAX_RETRY_AFTER_S": str(s.llm_max_retry_after_s),
            "B24C_WORKER_CONCURRENCY": str(s.worker_concurrency),
            "B24C_COALESCE_WINDOW_S": str(s.coalesce_window_s),
            "B24C_COALESCE_MAX_MESSAGES": str(s.coalesce_max_messages),
            # scale-out (empty: embedded)
            "B24C_BROKER_URL": s.broker_url,
            "B24C_BROKER_QUEUE": s.broker_queue,
            "B24C_REDIS_URL": s.redis_url,
            "B24C_REDIS_PREFIX": s.redis_prefix,
            "B24C_LEASE_S": str(s.lease_s),
            "B24C_DRAIN_TIMEOUT_S": str(s.drain_timeout_s),
            "B24C_FEEDER_INTERVAL_S": str(s.feeder_interval_s),
            "B24C_PRIORITY_AGING_S": str(s.priority_aging_s),
            "B24C_VIP_USER_IDS": json.dumps(s.vip_user_ids),
            "B24C_VIP_CRM": json.dumps(s.vip_crm),
            "B24C_URGENT_WORDS": json.dumps(s.urgent_words, ensure_ascii=False),
        }

    def spawn_app_process(self, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Run the app as a separate OS process (``b24claude serve``), e.g. to kill it or load it."""
        return subprocess.Popen(
            [sys.executable, "-m", "b24claude.cli.main", "serve"],
            env={**os.environ, **self.app_env(), **(extra_env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def spawn_worker_process(self, *, log: Path | None = None) -> subprocess.Popen[bytes]:
        """Run ``b24claude worker`` as a separate OS process (scale-out: needs a broker_url)."""
        out = open(log, "ab") if log is not None else subprocess.DEVNULL
        return subprocess.Popen(
            [sys.executable, "-m", "b24claude.cli.main", "worker"],
            env={**os.environ, **self.app_env()},
            stdout=out,
            stderr=out,
        )

    async def wait_app_http(self, timeout: float = 30.0) -> None:
        async with httpx.AsyncClient() as http:
            for _ in range(int(timeout / 0.1)):
                try:
                    if (await http.get(f"{self.app_url}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.app_url} did not come up")

    async def stop(self) -> None:
        await self.stop_app()
        for srv in reversed(self._servers):
            await srv.stop()
        await self.portal.aclose()
        if self._tmp is not None:
            self._tmp.cleanup()

    async def __aenter__(self) -> SandboxStack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
