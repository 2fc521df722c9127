"""A local emulator of a Bitrix24 cloud portal: REST, OAuth server, event delivery, Open Lines, CRM.

Typical use (tests, demo)::

    state = PortalState(PortalConfig(clock=ManualClock()))
    async with ServerHandle(create_portal_app(state)) as server:   # b24claude.sandbox.server
        state.config.public_base_url = server.base_url
        installed = await state.install_app(client_id=..., client_secret=..., install_url=...)
        await state.customer_writes("Здравствуйте!", customer="anna")
"""

from .app import create_portal_app
from .auth import FramePost, InstallResult
from .base import Caller, Paged, RestError
from .state import (
    Bot,
    Chat,
    CrmWrite,
    DeliveryRecord,
    Line,
    ManualClock,
    Message,
    PortalConfig,
    PortalState,
    Session,
    Stats,
)

__all__ = [
    "Bot",
    "Caller",
    "Chat",
    "CrmWrite",
    "DeliveryRecord",
    "FramePost",
    "InstallResult",
    "Line",
    "ManualClock",
    "Message",
    "Paged",
    "PortalConfig",
    "PortalState",
    "RestError",
    "Session",
    "Stats",
    "create_portal_app",
]
