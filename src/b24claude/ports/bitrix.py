"""The Bitrix24 ports: the CRM and chat operations the domains need, in our own types.

The adapter implements them over the REST client (batching reads so one answered message costs
about one REST call); the domains never see a Bitrix24 payload shape here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from b24claude.kit.files import ChatFile as ChatFile
from b24claude.kit.openlines import CrmBindings

BotApi = Literal["v1", "v2"]


# The CRM bindings of a dialogue (ids, None = none). Defined next to the Open Lines parsers in
# ``kit`` (the lowest layer) so that parsers, adapters and domains share one type.
CrmRefs = CrmBindings


@dataclass(frozen=True, slots=True)
class DealInfo:
    id: int
    title: str
    stage: str
    amount: float | None = None
    currency: str | None = None
    closed: bool = False


@dataclass(frozen=True, slots=True)
class ClientCard:
    """What the CRM knows about the customer behind a chat."""

    refs: CrmRefs
    kind: Literal["contact", "lead", "company", "unknown"] = "unknown"
    name: str = ""
    first_name: str = ""
    company: str = ""
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    position: str = ""
    assigned_user_id: int | None = None
    open_deals: tuple[DealInfo, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PortalAuth:
    """How to call one portal: OAuth tokens or an incoming webhook URL."""

    member_id: str
    client_endpoint: str  # e.g. https://acme.bitrix24.ru/rest/  (webhook: https://.../rest/1/code/)
    access_token: str = ""
    refresh_token: str = ""
    expires_at: float = 0.0
    server_endpoint: str = ""  # OAuth server, e.g. https://oauth.bitrix.info/rest/
    webhook: bool = False


class TokenStore(Protocol):
    async def load_auth(self, member_id: str) -> PortalAuth:
        """Current credentials of a portal; raises PortalNotInstalled."""
        ...

    async def save_tokens(
        self, member_id: str, *, access_token: str, refresh_token: str, expires_at: float
    ) -> None:
        """Persist a rotated token pair atomically (both or neither)."""
        ...


@dataclass(frozen=True, slots=True)
class BotIdentity:
    bot_id: int
    code: str
    api: BotApi


@dataclass(frozen=True, slots=True)
class BotCommand:
    """A slash command of our bot (``imbot.command.register`` / ``imbot.v2.Command.register``)."""

    name: str  # latin letters and digits, no slash: "operator"
    titles: Mapping[str, str]  # language -> title shown in the command list
    hidden: bool = False  # keyboard-only commands (ratings, moderation buttons)
    common: bool = False  # works in any chat, not only where the bot is a member


@dataclass(frozen=True, slots=True)
class Button:
    """A keyboard button under a bot message: a command (fires ONIMCOMMANDADD) or text put into the
    input field (``ACTION=PUT``)."""

    text: str
    command: str = ""
    params: str = ""
    put: str = ""
    block: bool = False  # disabled after the first press (``BLOCK=Y``, command buttons only)


@dataclass(frozen=True, slots=True)
class FetchedEvent:
    event_id: int
    type: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class FetchedEvents:
    events: Sequence[FetchedEvent]
    next_offset: int | None
    has_more: bool


@dataclass(frozen=True, slots=True)
class OfflineEvent:
    """One record of the portal's offline events queue (``event.offline.get``)."""

    id: int  # the record's ID: unique in the portal's queue (our inbox key)
    name: str  # EVENT_NAME, e.g. ONCRMCONTACTUPDATE
    data: Mapping[str, Any]  # EVENT_DATA, e.g. {"FIELDS": {"ID": "123"}}
    message_id: str  # MESSAGE_ID = md5(EVENT_NAME|json(EVENT_DATA)): the same for the same object
    timestamp: str = ""


@dataclass(frozen=True, slots=True)
class OfflineBatch:
    process_id: str | None  # the batch is reserved under it until cleared (clear=0)
    events: Sequence[OfflineEvent]


class OfflineEventQueue(Protocol):
    """The portal's offline events (reference/bitrix24.md §2.3): bound once, read with ``clear=0``
    (reserved under a ``process_id``), cleared only after what was read is stored."""

    async def bind_offline(self, member_id: str, *, events: Sequence[str], notify_url: str) -> int:
        """Bind ``events`` as offline events and ``ONOFFLINEEVENT`` to ``notify_url`` where
        missing (``event.get`` first); returns how many bindings were added."""
        ...

    async def offline_get(self, member_id: str, *, process_id: str = "", limit: int = 50) -> OfflineBatch:
        """``event.offline.get {clear: 0}``: the next batch reserved, or the batch ``process_id``."""
        ...

    async def offline_reserved(self, member_id: str, *, max_pages: int = 20) -> Sequence[str]:
        """Process ids of batches still reserved (``event.offline.list``): left by a crash."""
        ...

    async def offline_clear(self, member_id: str, process_id: str) -> None: ...

    async def offline_error(self, member_id: str, process_id: str, message_ids: Sequence[str]) -> None: ...


@dataclass(frozen=True, slots=True)
class ChatMessage:
    id: int
    author_id: int  # 0: a system message
    text: str
    author_name: str = ""
    author_is_bot: bool = False
    author_is_connector: bool = False  # an external customer (Open Lines connector user)
    files: tuple[ChatFile, ...] = ()


class CrmGateway(Protocol):
    async def load_client(self, member_id: str, refs: CrmRefs) -> ClientCard:
        """Card and open deals of the bound client, in one round trip where possible."""
        ...

    async def find_by_comm(
        self, member_id: str, *, phone: str | None = None, email: str | None = None
    ) -> CrmRefs:
        """Look a customer up by phone or e-mail (``crm.duplicate.findbycomm``)."""
        ...

    async def openlines_refs(self, member_id: str, chat_id: int) -> CrmRefs:
        """CRM bindings of an Open Lines chat from ``imopenlines.dialog.get``."""
        ...

    async def add_contact_details(
        self, member_id: str, refs: CrmRefs, *, phones: Sequence[str] = (), emails: Sequence[str] = ()
    ) -> str:
        """Add phones/e-mails to the bound contact (else lead); returns "contact:<id>", "lead:<id>" or ""."""
        ...

    async def add_timeline_comment(self, member_id: str, refs: CrmRefs, *, text: str) -> str:
        """A comment in the timeline of the bound deal (else lead, contact, company), via
        ``crm.timeline.comment.add``; returns "deal:<id>"... or "" when nothing is bound."""
        ...

    async def set_entity_field(self, member_id: str, refs: CrmRefs, *, field: str, value: str) -> str:
        """Write one field (e.g. a ``UF_CRM_*`` the admin mapped) of the bound deal (else lead, contact,
        company); returns the entity written ("deal:<id>"...) or ""."""
        ...


class ChatGateway(Protocol):
    async def register_bot(
        self, member_id: str, *, api: BotApi, code: str, name: str, handler_url: str | None
    ) -> BotIdentity:
        """Register the bot (idempotent: an existing bot with this code is reused)."""
        ...

    async def send_message(
        self, member_id: str, bot: BotIdentity, *, dialog_id: str, text: str, keyboard: Sequence[Button] = ()
    ) -> int:
        """Post a message as the bot (with a keyboard under its last part); returns the Bitrix24 message id."""
        ...

    async def register_command(
        self, member_id: str, bot: BotIdentity, command: BotCommand, *, handler_url: str | None
    ) -> int:
        """Register one command of the bot (v1 needs ``handler_url`` for ONIMCOMMANDADD; v2 fetch mode
        queues the event); returns the command id. Idempotent for the same command."""
        ...

    async def recent_messages(
        self, member_id: str, bot: BotIdentity, *, dialog_id: str, limit: int = 20
    ) -> Sequence[ChatMessage]:
        """Latest messages of a dialogue (to check whether an unrecorded send already happened)."""
        ...

    async def messages_after(
        self, member_id: str, bot: BotIdentity, *, dialog_id: str, first_id: int, limit: int = 50
    ) -> Sequence[ChatMessage]:
        """Up to ``limit`` (≤ 50) messages of a dialogue newer than ``first_id``, oldest first
        (``im.dialog.messages.get`` with ``FIRST_ID``: reconciling what a classic bot missed)."""
        ...

    async def fetch_events(
        self, member_id: str, bot: BotIdentity, *, offset: int | None, limit: int = 100
    ) -> FetchedEvents:
        """imbot.v2.Event.get; passing ``offset`` acknowledges every event below it."""
        ...

    async def hand_to_operator(self, member_id: str, *, chat_id: int) -> None:
        """Pass an Open Lines dialogue the bot holds to a free operator of its line
        (``imopenlines.bot.session.operator``)."""
        ...

    async def notify_user(self, member_id: str, *, user_id: int, text: str, tag: str = "") -> None:
        """A system notification to an employee (``im.notify.system.add``; app context only)."""
        ...


@dataclass(frozen=True, slots=True)
class Employee:
    id: int
    name: str
    position: str = ""
    departments: tuple[int, ...] = ()
    active: bool = True


@dataclass(frozen=True, slots=True)
class Department:
    id: int
    name: str
    parent_id: int = 0
    head_id: int = 0


class OperatorGateway(Protocol):
    """Open Lines operators, queues and escalation (reference/bitrix24.md §5, §6 "Users, structure, tasks")."""

    async def transfer(
        self, member_id: str, *, chat_id: int, user_id: int | None = None, queue_id: int | None = None
    ) -> None:
        """``imopenlines.bot.session.transfer`` to an employee or to a line's queue (``QUEUE_ID`` = line id)."""
        ...

    async def employees(self, member_id: str) -> Sequence[Employee]:
        """Active employees (``user.get``, all pages)."""
        ...

    async def departments(self, member_id: str) -> Sequence[Department]:
        """The company structure (``department.get``)."""
        ...

    async def line_queue(self, member_id: str, line_id: int) -> Sequence[int]:
        """The operators of an Open Line's queue (``imopenlines.config.get`` ``QUEUE``)."""
        ...

    async def add_task(
        self,
        member_id: str,
        *,
        title: str,
        description: str,
        responsible_id: int,
        crm: Sequence[str] = (),
        high_priority: bool = True,
    ) -> int:
        """``tasks.task.add``; ``crm`` as ``UF_CRM_TASK`` codes ("C_907", "L_4", "D_482"); the task id."""
        ...


@dataclass(frozen=True, slots=True)
class FrameUser:
    """The Bitrix24 user behind an app frame, as the portal itself told us."""

    user_id: int
    is_admin: bool
    name: str = ""  # "First Last" as user.current has it ("" when the portal gave none)


class PortalUsers(Protocol):
    async def verify_frame_user(self, member_id: str, auth_id: str) -> FrameUser:
        """Ask the portal who holds the user access token ``auth_id`` (``user.current``) and whether
        they may manage applications (``user.admin``).

        The call goes to the client endpoint stored at install, with ``auth_id`` as the only
        credential (no refresh, no fallback to the app's own tokens); a refused token raises
        :class:`~b24claude.errors.Bitrix24AuthError`.
        """
        ...


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What the OAuth server answered to a refresh (fixture oauth_token_refresh_response.json).

    The server, not the caller, vouches for ``member_id`` and ``client_endpoint``: it is the only
    party that knows which portal a refresh token of our ``client_id`` belongs to.
    """

    access_token: str
    refresh_token: str
    expires_at: float
    member_id: str
    client_endpoint: str
    server_endpoint: str = ""
    user_id: int = 0


@dataclass(frozen=True, slots=True)
class AppInfo:
    """``app.info`` as a portal answered it under an app token (api-reference/common/system/app-info.md)."""

    code: str
    installed: bool
    status: str = ""


class InstallVerifier(Protocol):
    """The two calls that prove an ONAPPINSTALL came from a portal where our app is installed."""

    async def exchange_refresh_token(self, refresh_token: str, *, member_id: str) -> TokenGrant:
        """Refresh at the configured OAuth server (client secret in the POST body); raises
        :class:`~b24claude.errors.Bitrix24AuthError` when the server refuses the token."""
        ...

    async def app_info(self, client_endpoint: str, access_token: str, *, member_id: str) -> AppInfo:
        """``app.info`` at ``client_endpoint`` (already checked by the caller) with ``access_token``;
        no refresh, no retry on an auth error."""
        ...


@dataclass(frozen=True, slots=True)
class Widget:
    """A ``placement.bind`` of ours: where, which page, its title in each language."""

    placement: str  # LEFT_MENU, CONTACT_CENTER, ...
    handler: str
    titles: Mapping[str, str]  # language -> title; "ru" is the default TITLE
    descriptions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventHandler:
    """An ``event.bind`` of ours."""

    event: str
    handler: str


class AppSetup(Protocol):
    """What the installer page does on a portal with the installing admin's fresh token, before the
    portal is stored (the caller has confirmed the endpoint with the OAuth server)."""

    async def is_admin(self, client_endpoint: str, access_token: str, *, member_id: str) -> bool:
        """``user.admin`` under that token."""
        ...

    async def bind(
        self,
        client_endpoint: str,
        access_token: str,
        *,
        member_id: str,
        widgets: Sequence[Widget],
        events: Sequence[EventHandler],
    ) -> None:
        """Bind what is missing (``placement.get``/``event.get`` first); idempotent."""
        ...


@dataclass(frozen=True, slots=True)
class OpenLine:
    id: int
    name: str
    active: bool = True


class OpenLinesDirectory(Protocol):
    async def open_lines(self, member_id: str) -> Sequence[OpenLine]:
        """The portal's Open Lines (``imopenlines.config.list.get``)."""
        ...
