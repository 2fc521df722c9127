"""Typed inbound events: Bitrix24's classic form events and imbot.v2 events, normalised."""

from b24claude.events.models import (
    AppInstalled,
    AppUninstalled,
    BotDeleted,
    BotJoined,
    CommandInvoked,
    CrmChanged,
    IncomingMessage,
    UnknownEvent,
    Update,
)
from b24claude.events.parse import (
    ClassicEnvelope,
    inbox_key_for_classic,
    inbox_key_for_v2,
    parse_classic_envelope,
    update_from_payload,
)

__all__ = [
    "AppInstalled",
    "AppUninstalled",
    "BotDeleted",
    "BotJoined",
    "ClassicEnvelope",
    "CommandInvoked",
    "CrmChanged",
    "IncomingMessage",
    "UnknownEvent",
    "Update",
    "inbox_key_for_classic",
    "inbox_key_for_v2",
    "parse_classic_envelope",
    "update_from_payload",
]
