"""The supervision domain on the dispatcher.

- stage "context" (after knowledge): operators' corrections of similar answers, as the first passages;
- stage "moderate": in moderation mode the model's answer is held as a draft for a moderator
  (``supervision.hold``, stops the message there); otherwise rating buttons go under it;
- ``CommandInvoked`` handlers: a moderator's /approve, /reject, /edit; a customer's /rate; an operator's
  /flag.
"""

from __future__ import annotations

from b24claude.dispatch import Context, Pipeline, Router
from b24claude.events.models import CommandInvoked
from b24claude.supervision.schemas import FLAG, MODERATOR_COMMANDS, RATE
from b24claude.supervision.service import SupervisionService


def register_steps(pipeline: Pipeline, service: SupervisionService) -> None:
    pipeline.register("context", service.corrections, name="supervision.corrections")
    pipeline.register("moderate", service.hold, name="supervision.hold")
    pipeline.register("moderate", service.rating_keyboard, name="supervision.rating_keyboard")


def supervision_router(service: SupervisionService) -> Router:
    router = Router("supervision")

    @router.on(CommandInvoked)(lambda cmd, ctx: cmd.command in MODERATOR_COMMANDS)
    async def on_decision(cmd: CommandInvoked, ctx: Context) -> None:
        await service.decide(cmd, ctx)

    @router.on(CommandInvoked)(lambda cmd, ctx: cmd.command == RATE and cmd.msg.author_is_connector)
    async def on_rating(cmd: CommandInvoked, ctx: Context) -> None:
        await service.rate(cmd, ctx)

    @router.on(CommandInvoked)(lambda cmd, ctx: cmd.command == FLAG)
    async def on_flag(cmd: CommandInvoked, ctx: Context) -> None:
        await service.flag(cmd, ctx)

    return router
