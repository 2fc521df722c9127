"""In-memory state of the emulated portal: config knobs, clock, stores, write log, statistics.

Everything the HTTP layer and the test helpers touch lives on :class:`PortalState`; behaviour lives
in the sibling modules (``auth``, ``crm``, ``im``, ``events``), which the public helper methods on
the state delegate to.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .auth import FramePost, InstallResult
    from .events import Deliverer
    from .placements import Placement

Clock = Callable[[], float]
JSON = dict[str, Any]


class ManualClock:
    """A clock tests move by hand: ``clock.advance(3601)`` instead of sleeping."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class PortalConfig:
    domain: str = "sandbox.bitrix24.ru"
    member_id: str = "3f6c1b2e9a7d4c5e8b0a1f2d3c4b5a69"
    # Where the portal is reachable (client_endpoint = <base>/rest/); set by the server helper.
    public_base_url: str | None = None
    # OAuth server base for server_endpoint; default: the portal itself serves /oauth/token/.
    oauth_base_url: str | None = None
    rate_limit_per_s: float = 2.0
    burst: int = 50
    operating_limit_s: float = 480.0
    latency_s: float = 0.0
    token_lifetime: float = 3600.0
    refresh_token_lifetime: float = 180 * 86400.0
    rotate_refresh_tokens: bool = True
    auth_code_lifetime: float = 30.0
    # <1: probability of losing each event delivery; >=1: lose that many next deliveries.
    drop_event_deliveries: float = 0.0
    delivery_timeout_s: float = 10.0
    language: str = "ru"
    utc_offset_hours: int = 3
    seed: bool = True
    random_seed: int = 24
    max_bots_per_app: int = 5
    # Feature rest_offline_extended (event.offline.get with clear=0); without it: 403 WRONG_LICENSE.
    offline_extended: bool = True
    clock: Clock = field(default=time.time)


@dataclass
class Stats:
    http_requests: int = 0
    rest_calls: int = 0
    batch_subcalls: int = 0
    oauth_requests: int = 0
    # Requests to /oauth/token/ whose URL query carried client_secret (a client leaking its secret
    # into URLs, proxies and access logs), and every URL the OAuth server was called at.
    oauth_secret_in_query: int = 0
    oauth_urls: list[str] = field(default_factory=list)
    by_method: dict[str, int] = field(default_factory=dict)
    errors_by_code: dict[str, int] = field(default_factory=dict)
    rejected_rate_limit: int = 0
    rejected_operating_limit: int = 0
    faults_injected: int = 0

    def count_method(self, method: str) -> None:
        self.by_method[method] = self.by_method.get(method, 0) + 1

    def count_error(self, code: str) -> None:
        key = code or "<empty>"
        self.errors_by_code[key] = self.errors_by_code.get(key, 0) + 1

    def snapshot(self) -> JSON:
        return asdict(self)


@dataclass
class App:
    client_id: str
    client_secret: str
    application_token: str
    scopes: list[str]
    install_url: str | None
    language: str = "ru"
    installed: bool = True
    version: int = 1
    status: str = "L"
    # An app with an interface is "not fully installed" until its installer page calls
    # BX24.installFinish(): app.info INSTALLED false, no events, no widgets shown
    # (settings/app-installation/installation-finish.md). API-only apps are finished at once.
    finished: bool = True
    with_ui: bool = False
    # "Your handler path" / «Путь вашего обработчика»: the app's own page (apps with an interface).
    handler_url: str | None = None
    installed_by: int = 1  # the admin who added the app (the installer opens for them)


@dataclass
class Token:
    value: str
    client_id: str
    user_id: int
    scopes: list[str]
    expires_at: float


@dataclass
class RefreshToken:
    value: str
    client_id: str
    user_id: int
    scopes: list[str]
    expires_at: float
    used: bool = False


@dataclass
class Webhook:
    code: str
    user_id: int
    scopes: list[str]


@dataclass
class EventBinding:
    id: int
    client_id: str
    event: str
    handler: str
    auth_type: int
    offline: bool = False
    options: JSON = field(default_factory=dict)  # ONOFFLINEEVENT: {"minTimeout": seconds}


@dataclass
class Fault:
    method: str | None
    status: int
    error: str
    description: str
    times: int = 1


@dataclass
class CrmWrite:
    method: str
    entity: str
    id: int
    fields: JSON
    time: float
    author: str

    def to_dict(self) -> JSON:
        return asdict(self)


@dataclass
class DeliveryRecord:
    time: float
    event: str
    url: str
    kind: str
    status: int | None = None
    error: str | None = None
    dropped: bool = False

    def to_dict(self) -> JSON:
        return asdict(self)


@dataclass
class Bot:
    id: int
    code: str
    type: str  # v1: B/O/H/S; v2: bot/supervisor/personal/openline
    api: str  # "v1" | "v2"
    client_id: str
    handlers: dict[str, str] = field(default_factory=dict)
    openline: bool = False
    properties: JSON = field(default_factory=dict)
    event_mode: str = "fetch"
    webhook_url: str | None = None
    bot_token: str | None = None
    language: str = "ru"
    events: list[JSON] = field(default_factory=list)


@dataclass
class Chat:
    id: int
    type: str  # P private, C group, L Open Lines
    title: str
    owner_id: int
    author_id: int
    members: list[int] = field(default_factory=list)
    entity_type: str = ""
    entity_id: str = ""
    entity_data_1: str = ""
    entity_data_2: str = ""
    entity_data_3: str = ""
    line_id: int = 0
    connector: str = ""
    customer_id: int = 0
    session_id: int = 0
    color: str = "AZURE"
    date_create: float = 0.0


@dataclass
class Message:
    id: int
    chat_id: int
    author_id: int
    text: str
    system: bool
    date: float
    params: JSON = field(default_factory=dict)
    deleted: bool = False

    def to_dict(self) -> JSON:
        return asdict(self)


@dataclass
class Line:
    id: int
    name: str
    active: bool = True
    queue: list[int] = field(default_factory=list)
    welcome_bot_enable: bool = False
    welcome_bot_id: int = 0
    welcome_message: str = "Здравствуйте! Чем можем помочь?"


@dataclass
class Session:
    id: int
    chat_id: int
    line_id: int
    customer_id: int
    operator_id: int
    started: float
    crm: dict[str, int] = field(default_factory=lambda: {"LEAD": 0, "COMPANY": 0, "CONTACT": 0, "DEAL": 0})
    crm_entity_type: str = "NONE"
    crm_entity_id: int = 0
    finished: float | None = None


class PortalState:
    """The whole portal. Construct, optionally tweak ``config``, serve with ``create_portal_app``."""

    def __init__(self, config: PortalConfig | None = None) -> None:
        self.config = config or PortalConfig()
        self.seen_base_url: str | None = None
        self.stats = Stats()
        # Other emulated portals whose tokens this one's OAuth server also issues (Bitrix24 has one
        # OAuth server for every portal): ``link_oauth(other)`` makes this emulator that server.
        self.oauth_peers: list[PortalState] = []
        self.faults: list[Fault] = []
        # directory
        self.users: dict[int, JSON] = {}
        self.departments: dict[int, JSON] = {}
        # CRM: entityTypeId -> id -> legacy (UPPER_CASE) record
        self.crm: dict[int, dict[int, JSON]] = {1: {}, 2: {}, 3: {}, 4: {}}
        self.timeline_comments: list[JSON] = []
        self.activities: list[JSON] = []
        self.crm_writes: list[CrmWrite] = []
        # auth
        self.apps: dict[str, App] = {}
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.auth_codes: dict[str, tuple[str, int, float]] = {}
        self.webhooks: dict[str, Webhook] = {}
        self.event_bindings: list[EventBinding] = []
        from .offline import OfflineQueue

        self.offline = OfflineQueue()  # event.offline.*: the offline events queue (sandbox/portal/offline.py)
        self.placements: list[Placement] = []
        # chats
        self.bots: dict[int, Bot] = {}
        self.commands: dict[int, JSON] = {}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[int, Message] = {}
        # Files customers sent in chats (the Disk objects of a chat's folder), by id: sandbox/portal/im.py
        self.chat_files: dict[int, JSON] = {}
        self.chat_index: dict[int, list[int]] = {}
        self.lines: dict[int, Line] = {}
        self.sessions: dict[int, Session] = {}
        self.customers: dict[str, int] = {}
        self.customer_profiles: dict[str, JSON] = {}
        self.delivery_log: list[DeliveryRecord] = []
        # im.notify.system.add: what each employee was notified of (their bell), in order.
        self.notifications: list[JSON] = []
        self.tasks: list[JSON] = []  # tasks.task.add, in order
        # Disk (storages, folders, files) and Sites (knowledge bases): sandbox/portal/disk.py, landing.py
        from .disk import DiskState
        from .landing import LandingState

        self.disk = DiskState()
        self.disk.add_storage(self.now(), "Общий диск")  # the company's common storage, id 1
        self.landing = LandingState()
        self._counters: dict[str, int] = {}
        self._deliverer: Deliverer | None = None
        from .limits import Limiter

        self.limiter = Limiter(self)
        if self.config.seed:
            from .seed import populate

            populate(self)

    # ----- basics -------------------------------------------------------------------------------
    def now(self) -> float:
        return self.config.clock()

    def iso(self, ts: float | None = None) -> str:
        tz = timezone(timedelta(hours=self.config.utc_offset_hours))
        return datetime.fromtimestamp(self.now() if ts is None else ts, tz).isoformat(timespec="seconds")

    def next_id(self, name: str, start: int = 1) -> int:
        value = self._counters.get(name, start - 1) + 1
        self._counters[name] = value
        return value

    @property
    def base_url(self) -> str:
        base = self.config.public_base_url or self.seen_base_url or f"https://{self.config.domain}"
        return base.rstrip("/")

    @property
    def client_endpoint(self) -> str:
        return f"{self.base_url}/rest/"

    @property
    def server_endpoint(self) -> str:
        return f"{(self.config.oauth_base_url or self.base_url).rstrip('/')}/rest/"

    def link_oauth(self, other: PortalState) -> None:
        """Serve ``other``'s refresh tokens at this emulator's ``/oauth/token/`` and name this
        emulator as ``other``'s ``server_endpoint``, as one Bitrix24 OAuth server serves all portals."""
        self.oauth_peers.append(other)
        other.config.oauth_base_url = self.base_url

    def oauth_owner(self, refresh_token: str) -> PortalState:
        """The portal (this one or a linked one) that issued ``refresh_token``; self if none did."""
        if refresh_token in self.refresh_tokens:
            return self
        return next((p for p in self.oauth_peers if refresh_token in p.refresh_tokens), self)

    def configure(self, **changes: Any) -> None:
        """Change config knobs by name (rate_limit_per_s, burst, latency_s, token_lifetime, ...)."""
        for key, value in changes.items():
            if key == "clock" or not hasattr(self.config, key):
                raise ValueError(f"unknown config knob {key!r}")
            current = getattr(self.config, key)
            if isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, int) and not isinstance(current, bool):
                value = int(value)
            elif isinstance(current, float):
                value = float(value)
            setattr(self.config, key, value)

    # ----- auth knobs ---------------------------------------------------------------------------
    def create_webhook(self, user_id: int = 1, scopes: list[str] | None = None) -> str:
        from .auth import create_webhook

        return create_webhook(self, user_id, scopes)

    async def install_app(
        self,
        *,
        client_id: str,
        client_secret: str,
        install_url: str | None = None,
        scopes: list[str] | None = None,
        language: str = "ru",
        user_id: int = 1,
        with_ui: bool = False,
        handler_url: str | None = None,
    ) -> InstallResult:
        """``with_ui``: an app with an interface ("Uses API only" unticked): no ONAPPINSTALL POST;
        the admin's first open shows ``install_url`` in a frame until ``install_finish``, later
        opens show ``handler_url``."""
        from .auth import install_app

        return await install_app(
            self,
            client_id=client_id,
            client_secret=client_secret,
            install_url=install_url,
            scopes=scopes,
            language=language,
            user_id=user_id,
            with_ui=with_ui,
            handler_url=handler_url,
        )

    def install_finish(self, client_id: str) -> bool:
        """``BX24.installFinish()`` from the app's installer frame; False when it has no effect.

        The install is complete from now on: ONAPPINSTALL goes to the handlers the installer bound
        with ``event.bind`` (api-reference/common/events/on-app-install.md: "the handler of this
        event can be set in the app's install script"; no events before the install is finished).
        """
        from .auth import app_installed_body

        app = self.apps.get(client_id)
        if app is None or not app.installed or app.finished:
            return False
        app.finished = True
        for binding in [b for b in self.event_bindings if b.client_id == client_id]:
            if binding.event == "ONAPPINSTALL" and not binding.offline:
                body = app_installed_body(self, app, app.installed_by)
                body["event_handler_id"] = str(binding.id)
                self.deliverer.send_form(binding.handler, body, event="ONAPPINSTALL")
        return True

    def is_admin(self, user_id: int) -> bool:
        user = self.users.get(user_id)
        return bool(user and user.get("_ADMIN"))

    async def uninstall_app(self, client_id: str, *, clean: bool = True) -> int | None:
        from .auth import uninstall_app

        return await uninstall_app(self, client_id, clean=clean)

    def issue_auth_code(self, client_id: str, user_id: int = 1) -> str:
        from .auth import issue_auth_code

        return issue_auth_code(self, client_id, user_id)

    def open_app_frame(
        self,
        client_id: str,
        user_id: int = 1,
        *,
        placement: str = "DEFAULT",
        placement_options: JSON | None = None,
        lang: str | None = None,
    ) -> FramePost:
        """A user opens the app: fresh tokens of that user and the frame POST Bitrix24 would send."""
        from .auth import frame_post

        return frame_post(
            self, client_id, user_id, placement=placement, placement_options=placement_options, lang=lang
        )

    def add_employee(self, first: str, last: str = "", *, admin: bool = False) -> int:
        """A new employee of the portal (admin or not); returns the user id."""
        from .im import add_user

        return add_user(self, None, first, last, admin=admin)

    def expire_tokens(self) -> int:
        """Expire every access token now; returns how many."""
        now = self.now()
        for token in self.tokens.values():
            token.expires_at = min(token.expires_at, now - 1)
        return len(self.tokens)

    def inject_fault(
        self,
        method: str | None = None,
        status: int = 500,
        error: str = "INTERNAL_SERVER_ERROR",
        description: str = "Internal server error",
        times: int = 1,
    ) -> Fault:
        fault = Fault(method.lower() if method else None, status, error, description, times)
        self.faults.append(fault)
        return fault

    # ----- customers and chats ------------------------------------------------------------------
    async def customer_writes(
        self,
        text: str,
        customer: str | JSON = "anna",
        *,
        line_id: int = 1,
        channel: str = "livechat",
        files: list[JSON] | None = None,
    ) -> Message:
        """``files``: what the customer attached, each ``{"name", "size"?, "type"?}`` (a photo: type
        "image"); the text may then be empty."""
        from .im import customer_writes

        return await customer_writes(self, text, customer, line_id=line_id, channel=channel, files=files)

    async def employee_writes(
        self, text: str, *, user_id: int = 1, bot_id: int | None = None, chat_id: int | None = None
    ) -> Message:
        from .im import employee_writes

        return await employee_writes(self, text, user_id=user_id, bot_id=bot_id, chat_id=chat_id)

    def chat_messages(self, chat_id: int) -> list[JSON]:
        return [
            self.messages[mid].to_dict()
            for mid in self.chat_index.get(chat_id, [])
            if not self.messages[mid].deleted
        ]

    def press_button(self, message_id: int, button: str | int, *, user_id: int) -> JSON:
        """A user presses a keyboard button under a message (by its text or index); see commands.py."""
        from .commands import press_button

        return press_button(self, message_id, button, user_id=user_id)

    def customer_view(self, chat_id: int) -> list[JSON]:
        """What the external customer saw: non-system messages not marked SKIP_CONNECTOR=Y."""
        return [
            m
            for m in self.chat_messages(chat_id)
            if not m["system"] and m["params"].get("SKIP_CONNECTOR") != "Y"
        ]

    def find_chat(self, customer: str | JSON, line_id: int | None = None) -> Chat | None:
        from .im import customer_key

        user_id = self.customers.get(customer_key(customer))
        if user_id is None:
            return None
        for chat in sorted(self.chats.values(), key=lambda c: -c.id):
            if chat.type == "L" and chat.customer_id == user_id and line_id in (None, chat.line_id):
                return chat
        return None

    # ----- deliveries ---------------------------------------------------------------------------
    @property
    def deliverer(self) -> Deliverer:
        if self._deliverer is None:
            from .events import Deliverer

            self._deliverer = Deliverer(self)
        return self._deliverer

    async def wait_deliveries(self, wait_s: float = 10.0) -> None:
        """Wait until every event delivery started so far has finished (tests)."""
        await self.deliverer.drain(wait_s)

    async def aclose(self) -> None:
        if self._deliverer is not None:
            await self._deliverer.aclose()
