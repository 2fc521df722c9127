"""The events the domains handle, whatever API generation or transport brought them."""

from __future__ import annotations

from dataclasses import dataclass, field

from b24claude.ports.bitrix import BotApi, ChatFile, CrmRefs


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A message in a chat where our bot takes part (ONIMBOTMESSAGEADD / ONIMBOTV2MESSAGEADD)."""

    member_id: str
    bot_id: int
    bot_api: BotApi
    message_id: int
    dialog_id: str  # the reply target: "chat<id>" or a user id for private chats
    chat_id: int | None
    chat_type: str  # "L" Open Lines, "P" private, "C" group, ...
    author_id: int
    text: str
    is_system: bool = False
    author_is_bot: bool = False
    author_is_connector: bool = False  # an external Open Lines customer
    author_name: str = ""
    author_first_name: str = ""
    language: str = ""
    entity_type: str = ""  # "LINES" for Open Lines
    entity_id: str = ""
    crm_refs: CrmRefs = field(default_factory=CrmRefs)
    session_id: int | None = None
    files: tuple[ChatFile, ...] = ()  # photos and documents sent with the message (kit.files)

    @property
    def is_open_line(self) -> bool:
        return self.chat_type == "L" or self.entity_type == "LINES"

    @property
    def line_id(self) -> int | None:
        """The Open Line of the chat: ``CHAT_ENTITY_ID`` is ``connector|LINE_ID|chat|user``."""
        parts = self.entity_id.split("|")
        if not self.is_open_line or len(parts) < 2 or not parts[1].isdigit():
            return None
        return int(parts[1]) or None

    @property
    def dialog_key(self) -> str:
        return dialog_key(self.dialog_id)


def dialog_key(dialog_id: str) -> str:
    """The per-dialogue key used for serialisation, history and caches."""
    return f"dlg:{dialog_id}"


@dataclass(frozen=True, slots=True)
class CommandInvoked:
    """A command of our bot: typed (``/operator``) or a keyboard button pressed (ONIMCOMMANDADD /
    ONIMBOTV2COMMANDADD). ``msg`` is the chat it came from, as for a message (its text is the command line
    as the portal put it, e.g. ``/rate up 12``; for a button, ``msg.message_id`` is the message that carried
    the keyboard)."""

    msg: IncomingMessage
    command: str  # without the slash, lower case: "operator"
    params: str = ""
    context: str = "textarea"  # textarea | keyboard | menu
    command_id: int = 0

    @property
    def member_id(self) -> str:
        return self.msg.member_id

    @property
    def dialog_key(self) -> str:
        return self.msg.dialog_key


@dataclass(frozen=True, slots=True)
class BotJoined:
    member_id: str
    bot_id: int
    bot_api: BotApi
    dialog_id: str
    chat_type: str
    user_id: int
    language: str = ""


@dataclass(frozen=True, slots=True)
class AppInstalled:
    member_id: str
    language: str = ""


@dataclass(frozen=True, slots=True)
class AppUninstalled:
    member_id: str
    clean: bool = False


@dataclass(frozen=True, slots=True)
class BotDeleted:
    member_id: str
    bot_id: int


@dataclass(frozen=True, slots=True)
class CrmChanged:
    """A CRM record changed in the portal (an offline event, ONCRMCONTACTUPDATE etc.)."""

    member_id: str
    entity: str  # "contact" | "lead" | "company"
    entity_id: int
    action: str  # "add" | "update" | "delete"


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    member_id: str
    kind: str


Update = (
    IncomingMessage
    | CommandInvoked
    | BotJoined
    | AppInstalled
    | AppUninstalled
    | BotDeleted
    | CrmChanged
    | UnknownEvent
)
