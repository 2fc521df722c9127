"""The human in the loop (issue 9 part 4).

**Moderation mode** (``Portal.settings["supervision"]["moderation"]``, e.g. for the first weeks): the
bot's answer in Open Lines is held as a *draft* and sent to the moderators' private chats with the bot,
with buttons to approve or reject and one that puts ``/edit <n> `` into the input field; the customer
sees nothing until someone decides. Approve sends the draft, edit sends the operator's text (and keeps
the pair as an example), reject tells the customer a specialist will answer and transfers the dialogue
to the operator who rejected.

Why the operator's private chat and not a keyboard in the Open Lines chat: everything the bot posts in
an Open Lines chat (keyboards included) is relayed to the customer's channel, and while the bot holds
the session no operator is a member of that chat; a private chat reaches the moderator wherever the
dialogue is, and a draft there never leaks to the customer.

Nothing is lost or doubled across restarts: the draft is a row (one per customer message, written
before anyone is told); a decision is a conditional update that exactly one command row wins (a second
"approve" finds it decided and sends nothing); the winner's send is an effect of its inbox row, checked
against the chat before a replay sends it again.

**Ratings**: buttons under each answer fire ``/rate up|down <row>`` (ONIMCOMMANDADD); **flags**: an
operator types ``/flag [why]`` in the Open Lines chat to mark the bot's last answer there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence

from b24claude.dispatch import Context, Flow, MessageContext, RowEffects
from b24claude.errors import Bitrix24Error
from b24claude.events.models import CommandInvoked
from b24claude.kit.clock import Clock
from b24claude.ports.bitrix import BotIdentity, Button, ChatGateway, OperatorGateway
from b24claude.ports.knowledge import Passage
from b24claude.ports.privacy import Mask
from b24claude.ports.store import DialogueRepository, Portal, Turn
from b24claude.ports.supervision import Decision, Draft, Feedback, NewDraft, SupervisionRepository
from b24claude.supervision.schemas import APPROVE, EDIT, RATE, REJECT, SupervisionSettings, text

log = logging.getLogger("b24claude.supervision")

MaskOpener = Callable[[Portal, str, int], Awaitable[Mask]]
_DECISIONS: dict[str, Decision] = {APPROVE: "approved", EDIT: "edited", REJECT: "rejected"}


class SupervisionService:
    def __init__(
        self,
        *,
        repo: SupervisionRepository,
        chat: ChatGateway,
        operators: OperatorGateway,
        dialogues: DialogueRepository,
        masks: MaskOpener,
        clock: Clock,
    ) -> None:
        self._repo = repo
        self._chat = chat
        self._operators = operators
        self._dialogues = dialogues
        self._masks = masks
        self._clock = clock

    # --- stage "moderate" -------------------------------------------------------------------------

    async def hold(self, turn: MessageContext) -> Flow | None:
        """In moderation mode, keep the model's answer as a draft for a moderator (the customer gets nothing
        yet); rule replies, handoff notices and prepared failover replies go out as they are."""
        settings = SupervisionSettings.from_settings(turn.ctx.portal.settings)
        msg = turn.msg
        if not (settings.moderation and msg.is_open_line and msg.chat_id):
            return None
        if turn.reply is None or turn.reply_kind != "answer" or turn.resumed:
            return None
        if not settings.moderators:
            log.warning("supervision.no_moderators", extra={"member_id": msg.member_id})
            return None
        draft = await self._repo.add_draft(
            NewDraft(
                member_id=msg.member_id,
                inbox_id=turn.ctx.inbox_id,
                dialog_key=msg.dialog_key,
                dialog_id=msg.dialog_id,
                chat_id=msg.chat_id,
                bot_id=msg.bot_id or (turn.ctx.portal.bot_id or 0),
                bot_api=msg.bot_api,
                customer_id=msg.author_id,
                language=turn.language,
                question=turn.masked,
                draft=turn.reply,
                citations=turn.citations,
                created_at=self._clock.now(),
            )
        )
        await turn.ctx.row_effects().once(
            "supervision.draft_notice",
            {"draft_id": draft.id},
            lambda: self._tell_moderators(turn, draft, settings.moderators),
        )
        turn.notes.append("held_for_moderation")
        log.info(
            "supervision.draft.held",
            extra={"member_id": msg.member_id, "dialog_key": msg.dialog_key, "draft_id": draft.id},
        )
        return Flow.STOP

    async def rating_keyboard(self, turn: MessageContext) -> Flow | None:
        """Rating buttons under the model's answers in Open Lines (unless the portal turned them off)."""
        settings = SupervisionSettings.from_settings(turn.ctx.portal.settings)
        if settings.ratings and turn.msg.is_open_line and turn.reply_kind == "answer" and turn.reply:
            turn.keyboard = rating_buttons(turn.ctx.inbox_id, turn.language)
        return None

    async def _tell_moderators(
        self, turn: MessageContext, draft: Draft, moderators: Sequence[int]
    ) -> dict[str, list[int]]:
        msg, mask = turn.msg, turn.require_mask()
        lang = turn.ctx.portal.language or "ru"
        notice = text(
            "draft",
            lang,
            id=draft.id,
            client=msg.author_name or msg.dialog_id,
            dialog=msg.dialog_id,
            question=turn.text[:1000],
            draft=mask.unmask(draft.draft, language=turn.language),
        )
        keyboard = (
            Button(text("approve", lang), command=APPROVE, params=str(draft.id), block=True),
            Button(text("edit", lang), put=f"/{EDIT} {draft.id} "),
            Button(text("reject", lang), command=REJECT, params=str(draft.id), block=True),
        )
        bot = BotIdentity(draft.bot_id, turn.ctx.portal.bot_code, msg.bot_api)
        told: list[int] = []
        for user_id in moderators:
            try:
                await self._chat.send_message(
                    msg.member_id, bot, dialog_id=str(user_id), text=notice, keyboard=keyboard
                )
                told.append(user_id)
            except Bitrix24Error as exc:
                log.error("supervision.notice.failed", extra={"member_id": msg.member_id, "code": exc.code})
        return {"told": told}

    # --- a moderator's decision ---------------------------------------------------------------------

    async def decide(self, cmd: CommandInvoked, ctx: Context) -> None:
        """``/approve <n>``, ``/reject <n>``, ``/edit <n> <text>`` from a moderator."""
        portal, msg = ctx.portal, cmd.msg
        settings = SupervisionSettings.from_settings(portal.settings)
        lang = portal.language or "ru"
        if msg.author_is_connector or (settings.moderators and msg.author_id not in settings.moderators):
            log.warning(
                "supervision.decision.refused",
                extra={"member_id": msg.member_id, "user_id": msg.author_id, "command": cmd.command},
            )
            return
        head, _, rest = cmd.params.partition(" ")
        draft_id = int(head) if head.isdigit() else 0
        draft = await self._repo.get_draft(msg.member_id, draft_id) if draft_id else None
        if draft is None:
            await self._ack(cmd, ctx, text("unknown", lang, id=head or "?"))
            return
        if cmd.command == EDIT and not rest.strip():
            await self._ack(cmd, ctx, text("edit_usage", lang, id=draft.id))
            return
        mask = await self._masks(portal, draft.dialog_key, draft.customer_id)
        status = _DECISIONS[cmd.command]
        final = {"approved": draft.draft, "edited": mask.mask(rest.strip()), "rejected": ""}[status]
        await mask.save()  # placeholders of the edit are durable before it is stored
        won = await self._repo.decide(
            msg.member_id,
            draft.id,
            status=status,
            final=final,
            by=msg.author_id,
            row=ctx.inbox_id,
            now=self._clock.now(),
        )
        if not won:
            current = await self._repo.get_draft(msg.member_id, draft.id)
            await self._ack(
                cmd, ctx, text("decided", lang, id=draft.id, status=current.status if current else "?")
            )
            return
        log.info(
            "supervision.draft.decided",
            extra={
                "member_id": msg.member_id,
                "draft_id": draft.id,
                "status": status,
                "user_id": msg.author_id,
            },
        )
        effects = ctx.row_effects()
        if status == "rejected":
            await self._deliver(effects, draft, text("to_human", draft.language), keyboard=())
            await effects.once(
                "supervision.transfer",
                {"user_id": msg.author_id},
                lambda: self._transfer(draft, msg.author_id),
            )
            await self._ack(cmd, ctx, text("rejected", lang, id=draft.id))
            return
        keyboard = rating_buttons(draft.inbox_id, draft.language) if settings.ratings else ()
        message_id = await self._deliver(
            effects, draft, mask.unmask(final, language=draft.language), keyboard=keyboard
        )
        await effects.once(
            "supervision.history",
            {"draft_id": draft.id},
            lambda: self._record(draft, final, message_id, cited=status == "approved"),
        )
        await self._ack(cmd, ctx, text("sent", lang, id=draft.id))

    async def _deliver(
        self, effects: RowEffects, draft: Draft, body: str, *, keyboard: Sequence[Button]
    ) -> int | None:
        """The customer's message, once per decision row: an intent recorded before a crash is checked
        against the chat before it is sent again."""
        bot = BotIdentity(draft.bot_id, "", "v2" if draft.bot_api == "v2" else "v1")
        effect = await effects.get("supervision.reply")
        if effect is not None and effect.status == "done":
            return int((effect.result or {}).get("message_id") or 0) or None
        if effect is not None:
            recent = await self._chat.recent_messages(
                draft.member_id, bot, dialog_id=draft.dialog_id, limit=20
            )
            sent = next(
                (m for m in recent if m.author_id == bot.bot_id and m.text.strip() == body.strip()), None
            )
            if sent is not None:
                await effects.done("supervision.reply", {"message_id": sent.id})
                await self._repo.mark_sent(
                    draft.member_id, draft.id, message_id=sent.id, now=self._clock.now()
                )
                return sent.id
        await effects.intent("supervision.reply", {"draft_id": draft.id})
        message_id = await self._chat.send_message(
            draft.member_id, bot, dialog_id=draft.dialog_id, text=body, keyboard=keyboard
        )
        await effects.done("supervision.reply", {"message_id": message_id})
        await self._repo.mark_sent(draft.member_id, draft.id, message_id=message_id, now=self._clock.now())
        return message_id

    async def _record(
        self, draft: Draft, final: str, message_id: int | None, *, cited: bool
    ) -> dict[str, int]:
        await self._dialogues.append(
            draft.member_id,
            draft.dialog_key,
            Turn(
                "assistant", final, message_id, self._clock.now(), citations=draft.citations if cited else ()
            ),
        )
        return {"message_id": message_id or 0}

    async def _transfer(self, draft: Draft, user_id: int) -> dict[str, bool]:
        try:
            await self._operators.transfer(draft.member_id, chat_id=draft.chat_id, user_id=user_id)
            return {"transferred": True}
        except Bitrix24Error as exc:
            log.error("supervision.transfer.failed", extra={"member_id": draft.member_id, "code": exc.code})
            return {"transferred": False}

    async def _ack(self, cmd: CommandInvoked, ctx: Context, body: str) -> None:
        """A short answer to the moderator in the chat the command came from (once per row)."""
        msg = cmd.msg
        bot = BotIdentity(msg.bot_id or (ctx.portal.bot_id or 0), ctx.portal.bot_code, msg.bot_api)

        async def send() -> dict[str, int]:
            return {
                "message_id": await self._chat.send_message(
                    msg.member_id, bot, dialog_id=msg.dialog_id, text=body
                )
            }

        try:
            await ctx.row_effects().once("supervision.ack", {"text": body[:200]}, send)
        except Bitrix24Error as exc:
            log.error("supervision.ack.failed", extra={"member_id": msg.member_id, "code": exc.code})

    # --- ratings and flags ----------------------------------------------------------------------------

    async def rate(self, cmd: CommandInvoked, ctx: Context) -> None:
        """A customer's button under an answer: ``/rate up|down <row>``."""
        head, _, row = cmd.params.partition(" ")
        score = {"up": 1, "down": -1}.get(head.lower())
        if score is None or not row.strip().isdigit():
            log.warning("supervision.rating.malformed", extra={"member_id": cmd.member_id})
            return
        await self._repo.add_feedback(
            Feedback(
                member_id=cmd.member_id,
                kind="rating",
                dialog_key=cmd.dialog_key,
                target=f"row:{int(row)}",
                user_id=cmd.msg.author_id,
                score=score,
                created_at=self._clock.now(),
            )
        )
        log.info(
            "supervision.rated",
            extra={"member_id": cmd.member_id, "dialog_key": cmd.dialog_key, "score": score},
        )

    async def flag(self, cmd: CommandInvoked, ctx: Context) -> None:
        """An operator's ``/flag [why]`` in a dialogue: the bot's last answer there is marked bad."""
        msg = cmd.msg
        if msg.author_is_connector or msg.author_is_bot:
            return
        turns = await self._dialogues.last_turns(msg.member_id, msg.dialog_key, limit=20)
        answers = [t for t in turns if t.role == "assistant"]
        if not answers:
            return
        last = answers[-1]
        await self._repo.add_feedback(
            Feedback(
                member_id=msg.member_id,
                kind="flag",
                dialog_key=msg.dialog_key,
                target=f"msg:{last.message_id or 0}",
                user_id=msg.author_id,
                score=-1,
                note=cmd.params[:1000],
                created_at=self._clock.now(),
            )
        )
        log.warning(
            "supervision.flagged",
            extra={"member_id": msg.member_id, "dialog_key": msg.dialog_key, "user_id": msg.author_id},
        )

        async def thank() -> dict[str, bool]:
            note = text("flagged", ctx.portal.language or "ru", dialog=msg.dialog_id)
            await self._chat.notify_user(
                msg.member_id, user_id=msg.author_id, text=note, tag=f"b24claude:flag:{msg.dialog_id}"
            )
            return {"notified": True}

        try:
            await ctx.row_effects().once("supervision.flag_ack", {}, thank)
        except Bitrix24Error as exc:
            log.error("supervision.notify.failed", extra={"member_id": msg.member_id, "code": exc.code})

    async def examples(self, member_id: str, *, limit: int = 20) -> Sequence[Draft]:
        """The operators' corrections of this portal, newest first."""
        return await self._repo.examples(member_id, limit=limit)

    # --- stage "context": the operators' corrections as the first knowledge passages -----------------

    async def corrections(self, turn: MessageContext) -> Flow | None:
        """An operator's edit of an earlier answer to a similar question goes to the model as a passage
        ranked above the documents (an operator's word outranks the base): the next customer who asks
        gets the corrected answer. Only examples without any client's placeholders are shared."""
        if not SupervisionSettings.from_settings(turn.ctx.portal.settings).examples or not turn.masked:
            return None
        asked = _stems(turn.masked)
        chosen: list[tuple[float, Draft]] = []
        for draft in await self._repo.examples(turn.member_id, limit=50):
            if not shareable(draft):
                continue
            theirs = _stems(draft.question)
            shared = len(asked & theirs)
            if shared >= 2 and shared >= 0.6 * len(theirs):
                chosen.append((shared / max(len(theirs), 1), draft))
        if not chosen:
            return None
        chosen.sort(key=lambda pair: (-pair[0], -pair[1].id))
        found = [
            Passage(
                id=f"x{d.id}",
                title=d.question[:200],
                text=d.final,
                score=1.0,
                source=f"operator-edit#{d.id}",
                coverage=share,
            )
            for share, d in chosen[:2]
        ]
        turn.passages = (*found, *[p for p in turn.passages if p.id not in {f.id for f in found}])
        turn.notes.append("operator_examples")
        return None


def rating_buttons(inbox_id: int, language: str) -> tuple[Button, ...]:
    return (
        Button(text("rate_up", language), command=RATE, params=f"up {inbox_id}", block=True),
        Button(text("rate_down", language), command=RATE, params=f"down {inbox_id}", block=True),
    )


_WORD = re.compile(r"[a-zа-яё0-9]{4,}", re.IGNORECASE)


def _stems(text: str) -> set[str]:
    return {w.lower().replace("ё", "е")[:5] for w in _WORD.findall(text)}


_PLACEHOLDER = re.compile(r"\[[A-ZА-ЯЁ_]+_\d+\]")


def shareable(draft: Draft) -> bool:
    """An example may reach another dialogue's prompt only if it carries no client's placeholders."""
    return not (_PLACEHOLDER.search(draft.question) or _PLACEHOLDER.search(draft.final))
