"""The answer pipeline: the steps of DESIGN.md §2 that one customer message goes through.

    prefilter → pseudonymise → classify → route → context → answer → moderate → send

Each stage is a *slot*; domains hang their steps on it in the composition root (``bootstrap.py``),
each with its own ``handlers.py``::

    pipeline.register("classify", triage_step, name="triage.classify")

A step is ``async def step(turn: MessageContext) -> Flow | None``: it reads and fills the typed
per-message context (:class:`MessageContext`) and returns ``None`` (go on), ``Flow.SEND`` (a reply is
ready: skip to the send stage, e.g. a prefilter rule's canned answer or a prepared failover reply) or
``Flow.STOP`` (nothing more for this message, e.g. it was handed to a human). A reply decided in the
prefilter still goes through the pseudonymise stage before it is sent. Steps of one stage run
in registration order. An empty stage does nothing — in particular **classify**: with no classifier
configured (or triage turned off) the message goes on unclassified (``turn.classification is None``)
and routing falls back to its rules.

What happens after the reply reaches the customer is not a step: the send step emits a
:class:`ReplySent` follow-up event, and any domain may listen to it on the dispatcher
(``router.on(ReplySent).listen()``): the pending handoff, the CRM contact capture...

A replay of a row whose reply intent was recorded before a crash (``turn.resumed``) runs only the
``pseudonymise`` and ``send`` stages: the reply's text is the recorded one, nothing is generated again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, get_args

from b24claude.dispatch.router import Context
from b24claude.errors import LLMError
from b24claude.events.models import IncomingMessage
from b24claude.ports.bitrix import Button, ChatFile, ClientCard
from b24claude.ports.knowledge import Passage
from b24claude.ports.memory import ClientFact
from b24claude.ports.privacy import Mask
from b24claude.ports.store import Turn

log = logging.getLogger("b24claude.pipeline")

Stage = Literal["prefilter", "pseudonymise", "classify", "route", "context", "answer", "moderate", "send"]
STAGES: tuple[Stage, ...] = get_args(Stage)
RESUMED_STAGES: tuple[Stage, ...] = ("pseudonymise", "send")


class Flow(Enum):
    SEND = "send"  # the reply is ready: skip to the send stage
    STOP = "stop"  # nothing more for this message


@dataclass(frozen=True, slots=True)
class Classification:
    """What the classify slot found out about the request (filled by a classifier, when one is hung
    there; ``None`` otherwise). Values: type support|sales|complaint|consultation|spam|smalltalk,
    urgency low|normal|high|critical, sentiment positive|neutral|negative."""

    type: str = ""
    urgency: str = "normal"
    sentiment: str = "neutral"
    needs_human: bool = False
    topic: str = ""
    confidence: float = 0.0
    abstained: bool = False  # confidence under the portal's threshold: a human should answer
    fresh: bool = True  # labels from this message; False: the dialogue's earlier labels (already acted on)


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    """A step's decision that a human takes the dialogue over (carried out by routing)."""

    reason: str  # one of routing.schemas.HandoffReason
    urgent: bool = False  # escalate to a supervisor as well


@dataclass(slots=True)
class MessageContext:
    """Everything the steps know about one customer message, typed (no extras dict)."""

    msg: IncomingMessage
    ctx: Context
    language: str
    # More messages coalesced into this one (the earlier ones of a burst), oldest first.
    earlier: tuple[IncomingMessage, ...] = ()
    resumed: bool = False  # a reply intent was recorded before a crash: resend it, generate nothing
    command: str = ""  # the bot command that brought this message (``/operator``: events.CommandInvoked)
    # pseudonymise
    mask: Mask | None = None
    masked: str = ""  # the customer's text(s) with placeholders: what is stored and sent to Claude
    # classify / route
    classification: Classification | None = None
    handoff: HandoffRequest | None = None
    # context
    card: ClientCard | None = None
    history: Sequence[Turn] = ()
    passages: Sequence[Passage] = ()
    memory: Sequence[ClientFact] = ()  # what earlier dialogues taught about the client
    # answer
    model: str | None = None  # the answer model (usage's routing and budget); None: the configured one
    reply: str | None = None  # masked
    citations: tuple[str, ...] = ()
    llm_error: LLMError | None = None
    reply_kind: str = "answer"  # answer | rule | prepared | resumed | handoff | cached
    keyboard: tuple[Button, ...] = ()  # buttons under the reply (e.g. the customer's rating)
    # send
    message_id: int | None = None
    notes: list[str] = field(default_factory=list)  # short step labels, for logs and tests

    @property
    def member_id(self) -> str:
        return self.msg.member_id

    @property
    def dialog_key(self) -> str:
        return self.msg.dialog_key

    @property
    def text(self) -> str:
        """The customer's own words (real values): every coalesced message, in order."""
        return "\n".join(m.text for m in (*self.earlier, self.msg) if m.text.strip())

    @property
    def files(self) -> tuple[ChatFile, ...]:
        """The photos and documents of every coalesced message, in order."""
        return tuple(f for m in (*self.earlier, self.msg) for f in m.files)

    def require_mask(self) -> Mask:
        if self.mask is None:
            raise RuntimeError("the pseudonymise stage has not run")
        return self.mask


@dataclass(frozen=True, slots=True)
class ReplySent:
    """Follow-up event: the reply of one message reached the chat (or had before a crash)."""

    turn: MessageContext
    replayed: bool = False  # the reply had been sent before a crash; only what follows it is resumed


Step = Callable[[MessageContext], Awaitable["Flow | None"]]


@dataclass(slots=True)
class _Hung:
    name: str
    step: Step


class Pipeline:
    """The stages and the steps hung on them."""

    def __init__(self) -> None:
        self._steps: dict[Stage, list[_Hung]] = {stage: [] for stage in STAGES}

    def register(self, stage: Stage, step: Step, *, name: str) -> None:
        """Hang ``step`` on ``stage`` (after the steps already there)."""
        if stage not in self._steps:
            raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
        self._steps[stage].append(_Hung(name, step))

    def steps(self, stage: Stage) -> list[str]:
        return [h.name for h in self._steps[stage]]

    async def run(self, turn: MessageContext) -> None:
        stages = RESUMED_STAGES if turn.resumed else STAGES
        i = 0
        while i < len(stages):
            for hung in self._steps[stages[i]]:
                flow = await hung.step(turn)
                if flow is Flow.STOP:
                    turn.notes.append(f"stop:{hung.name}")
                    return
                if flow is Flow.SEND and stages[i] != "send":
                    turn.notes.append(f"send:{hung.name}")
                    # Nothing leaves unmasked: a reply decided before the pseudonymise stage still
                    # goes through it (the customer's turn is masked and recorded), then to send.
                    if stages.index(stages[i]) < stages.index("pseudonymise") and not turn.resumed:
                        for later in self._steps["pseudonymise"]:
                            await later.step(turn)
                    i = stages.index("send") - 1
                    break
            i += 1
