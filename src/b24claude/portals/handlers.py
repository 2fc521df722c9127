"""The portals domain on the dispatcher: install, uninstall, the bot deleted."""

from __future__ import annotations

from b24claude.dispatch import Context, Router
from b24claude.events.models import AppInstalled, AppUninstalled, BotDeleted
from b24claude.portals.service import PortalService


def portals_router(portals: PortalService) -> Router:
    router = Router("portals")

    @router.on(AppInstalled)()
    async def on_install(update: AppInstalled, ctx: Context) -> None:
        await portals.ensure_bot(update)

    @router.on(AppUninstalled)()
    async def on_uninstall(update: AppUninstalled, ctx: Context) -> None:
        await portals.uninstall(update)

    @router.on(BotDeleted)()
    async def on_bot_deleted(update: BotDeleted, ctx: Context) -> None:
        await portals.bot_deleted(update)

    return router
