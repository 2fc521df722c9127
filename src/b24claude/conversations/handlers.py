"""The conversations domain on the dispatcher: the handler that runs a customer message through the
answer pipeline, and this domain's steps on it (the customer's turn, history, the answer, the send)."""

from __future__ import annotations

from collections.abc import Collection

from b24claude.conversations.app_settings import BotSettings
from b24claude.conversations.service import AnswerService
from b24claude.dispatch import Context, MessageContext, Pipeline, ReplySent, Router
from b24claude.events.models import CommandInvoked, IncomingMessage
from b24claude.kit.text import language_of


def should_answer(msg: IncomingMessage, ctx: Context) -> bool:
    """Our own messages, other bots, system messages, empty messages (no text, no file) and operators in
    Open Lines are not answered."""
    if msg.is_system or msg.author_is_bot or not (msg.text.strip() or msg.files):
        return False
    if msg.author_id == msg.bot_id or (ctx.portal.bot_id and msg.author_id == ctx.portal.bot_id):
        return False
    if msg.is_open_line and not BotSettings.from_settings(ctx.portal.settings).answers_line(msg.line_id):
        return False  # a line the portal's admin did not give the bot
    return not (msg.is_open_line and not msg.author_is_connector)


def register_steps(pipeline: Pipeline, answers: AnswerService) -> None:
    pipeline.register("pseudonymise", answers.record_user_turn, name="conversations.user_turn")
    pipeline.register("pseudonymise", answers.screen, name="conversations.screen")
    pipeline.register("context", answers.load_history, name="conversations.history")
    pipeline.register("answer", answers.generate, name="conversations.generate")
    pipeline.register("send", answers.send, name="conversations.send")


def conversations_router(
    pipeline: Pipeline, answers: AnswerService, *, commands: Collection[str] = ()
) -> Router:
    """``commands``: the customers' commands that run through the pipeline (``/operator``)."""
    router = Router("conversations")
    pipeline_commands = frozenset(commands)
    default_language = answers.config.default_language

    @router.on(IncomingMessage)(should_answer)
    async def on_message(msg: IncomingMessage, ctx: Context) -> None:
        await answer(msg, ctx, command="")

    def customer_command(cmd: CommandInvoked, ctx: Context) -> bool:
        return cmd.command in pipeline_commands and should_answer(cmd.msg, ctx)

    @router.on(CommandInvoked)(customer_command)
    async def on_command(cmd: CommandInvoked, ctx: Context) -> None:
        # A customer's command (/operator) goes through the pipeline like a message: its steps decide.
        await answer(cmd.msg, ctx, command=cmd.command)

    async def answer(msg: IncomingMessage, ctx: Context, *, command: str) -> None:
        # The portal admin's reply language (the app page) before the service-wide default.
        bot_settings = BotSettings.from_settings(ctx.portal.settings)
        fallback = bot_settings.default_language or default_language
        # A burst (inbox.coalesce): the customer's earlier messages, answered with this one.
        earlier = tuple(m for m in ctx.earlier if isinstance(m, IncomingMessage) and should_answer(m, ctx))
        turn = MessageContext(msg=msg, ctx=ctx, language=fallback, command=command, earlier=earlier)
        turn.language = language_of(turn.text, fallback) if not command else fallback
        effect = await ctx.row_effects().get("reply")
        if effect is not None and effect.status == "done":
            # Answered before a crash; the reply's history turn, a handoff or the CRM write after the
            # reply may still be owed. The turn must be in place before this row is marked done: the
            # dialogue's next message is built from the history.
            await answers.restore_reply_turn(turn, effect.payload, effect.result)
            turn.mask = await ctx.mask()
            turn.masked = turn.mask.mask(turn.text)
            ctx.emit(ReplySent(turn, replayed=True))
            return
        if effect is not None:  # intent recorded, result unknown: send the recorded text (or find it sent)
            turn.resumed = True
            turn.reply = str(effect.payload.get("text", ""))
            turn.citations = tuple(str(c) for c in effect.payload.get("citations") or ())
            turn.reply_kind = "resumed"
        await pipeline.run(turn)

    return router
