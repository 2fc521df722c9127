"""Client memory: facts extracted from a dialogue once it has gone quiet, recalled in the client's later ones.

Extraction reads the masked turns (the model never sees a real phone or name), asks the cheap model for
facts as structured output, and keeps only short facts without placeholders or instructions. Facts are
stored under the client (the bound CRM contact, else the chat user) with an expiry; the dialogue's read
mark moves in the same transaction, so a crash never extracts the same turns twice.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from b24claude.client_memory.schemas import EXTRACTION_RULES, FACTS_SCHEMA, MemoryPolicy
from b24claude.errors import B24ClaudeError
from b24claude.kit.clock import Clock
from b24claude.ports.llm import LLM, ChatTurn, LLMRequest
from b24claude.ports.memory import FACT_KINDS, ClientFact, FactKind, MemoryRepository
from b24claude.ports.privacy import SubjectRepository
from b24claude.ports.store import PortalRepository
from b24claude.safety.injection import directs_reply, findings

log = logging.getLogger(__name__)

MAX_FACTS = 10  # per extraction
MAX_FACT_CHARS = 200
TRANSCRIPT_TURNS = 40
_PLACEHOLDER = re.compile(r"\[[A-ZА-ЯЁ]+(?:_[A-ZА-ЯЁ]+)*_\d+\]")


@dataclass(frozen=True, slots=True)
class SweepReport:
    dialogues: int = 0
    facts: int = 0
    failed: int = 0


def client_keys(*, author_id: int, contact_id: int | None) -> list[str]:
    """The keys a client's facts may be stored under (consents use the same)."""
    keys = []
    if contact_id:
        keys.append(f"contact:{contact_id}")
    if author_id:
        keys.append(f"user:{author_id}")
    return keys


def clean_fact(kind: object, text: object) -> tuple[FactKind, str] | None:
    """A fact as the model returned it, or ``None`` when it must not be kept."""
    if not isinstance(text, str):
        return None
    text = " ".join(text.split())
    if not text or _PLACEHOLDER.search(text):
        return None
    if findings(text) or directs_reply(text):  # safety/: an instruction to the bot is not a fact
        return None
    if len(text) > MAX_FACT_CHARS:
        text = text[: MAX_FACT_CHARS - 1].rstrip() + "…"
    fact_kind: FactKind = kind if kind in FACT_KINDS else "other"
    return fact_kind, text


class ClientMemoryService:
    def __init__(
        self,
        *,
        repo: MemoryRepository,
        subjects: SubjectRepository,
        portals: PortalRepository,
        llm: LLM,
        clock: Clock,
        model: str | None,
        idle_s: float,
        lookback_s: float = 14 * 86_400.0,
        dialogues_lifetime: Callable[[Mapping[str, Any] | None], float | None] = lambda _: None,
    ) -> None:
        """``dialogues_lifetime`` reads how long the portal keeps dialogues from its settings (the privacy
        policy's, given by the composition root): no fact outlives the dialogues it came from."""
        self._repo = repo
        self._subjects = subjects
        self._portals = portals
        self._llm = llm
        self._clock = clock
        self._model = model
        self._idle_s = idle_s
        self._lookback_s = lookback_s
        self._dialogues_lifetime = dialogues_lifetime
        self._stopping = asyncio.Event()

    async def _policies(self, member_id: str) -> tuple[MemoryPolicy, float | None]:
        portal = await self._portals.get(member_id)
        settings = portal.settings if portal else None
        try:
            memory = MemoryPolicy.from_settings(settings)
        except B24ClaudeError:
            memory = MemoryPolicy(enabled=False)  # settings that no longer parse: remember nothing
        try:
            cap = self._dialogues_lifetime(settings)
        except B24ClaudeError:
            cap = None
        return memory, cap

    async def recall(self, member_id: str, *, author_id: int, contact_id: int | None) -> list[ClientFact]:
        """The client's facts for the answer prompt (nothing when the portal turned memory off)."""
        keys = client_keys(author_id=author_id, contact_id=contact_id)
        if not keys:
            return []
        memory, _ = await self._policies(member_id)
        if not memory.enabled:
            return []
        return await self._repo.recall(member_id, keys, now=self._clock.now())

    async def extract(self, member_id: str, dialog_key: str, *, read_seq: int = 0) -> int:
        """Read the dialogue's turns after ``read_seq``, store the facts found; returns how many were added."""
        turns = await self._repo.unread_turns(
            member_id, dialog_key, after_seq=read_seq, limit=TRANSCRIPT_TURNS
        )
        if not turns:
            return 0
        last_seq = turns[-1][0]
        memory, cap = await self._policies(member_id)
        subject = await self._subjects.get(member_id, dialog_key)
        keys = client_keys(
            author_id=subject.author_id if subject else 0, contact_id=subject.contact_id if subject else None
        )
        if not memory.enabled or not keys or not any(t.role == "user" for _, t in turns):
            return await self._repo.add(member_id, dialog_key, [], read_seq=last_seq)
        transcript = "\n".join(
            ("Клиент: " if t.role == "user" else "Бот: ") + " ".join(t.text.split()) for _, t in turns
        )
        result = await self._llm.complete(
            LLMRequest(
                system=EXTRACTION_RULES,
                messages=[ChatTurn("user", f"<transcript>\n{transcript}\n</transcript>")],
                max_tokens=600,
                model=self._model,
                feature="memory",
                json_schema=FACTS_SCHEMA,
                member_id=member_id,
                dialog_key=dialog_key,
            )
        )
        now = self._clock.now()
        raw = (result.parsed or {}).get("facts") or []
        facts: list[ClientFact] = []
        for item in raw if isinstance(raw, list) else []:
            cleaned = clean_fact(item.get("kind"), item.get("text")) if isinstance(item, dict) else None
            if cleaned is None or any(f.text == cleaned[1] for f in facts):
                continue
            kind, text = cleaned
            facts.append(
                ClientFact(
                    member_id=member_id,
                    client_key=keys[0],
                    kind=kind,
                    text=text,
                    source_dialog=dialog_key,
                    source_seq=last_seq,
                    created_at=now,
                    expires_at=now + memory.lifetime_s(kind, cap_s=cap),
                )
            )
            if len(facts) >= MAX_FACTS:
                break
        added = await self._repo.add(member_id, dialog_key, facts, read_seq=last_seq)
        log.info(
            "memory.extracted",
            extra={"member_id": member_id, "dialog_key": dialog_key, "facts": added, "turns": len(turns)},
        )
        return added

    async def sweep(
        self, *, now: float | None = None, idle_s: float | None = None, limit: int = 50
    ) -> SweepReport:
        """Extract from every dialogue that has been quiet for ``idle_s`` with turns not read yet.

        A dialogue that fails (the model is down, the store refuses) keeps its mark and is tried next time.
        """
        now = self._clock.now() if now is None else now
        quiet = self._idle_s if idle_s is None else idle_s
        idle = await self._repo.idle_dialogues(
            quiet_since=now - quiet, not_before=now - self._lookback_s, limit=limit
        )
        facts = failed = 0
        for dialogue in idle:
            try:
                facts += await self.extract(
                    dialogue.member_id, dialogue.dialog_key, read_seq=dialogue.read_seq
                )
            except B24ClaudeError as exc:
                failed += 1
                log.warning(
                    "memory.extract_failed",
                    extra={
                        "member_id": dialogue.member_id,
                        "dialog_key": dialogue.dialog_key,
                        "code": exc.code,
                    },
                )
        return SweepReport(dialogues=len(idle) - failed, facts=facts, failed=failed)

    async def forget(
        self, member_id: str, *, client_key: str | None = None, fact_id: int | None = None
    ) -> int:
        """Delete one fact, or every fact of one client."""
        return await self._repo.forget(
            member_id, client_keys=[client_key] if client_key else (), fact_id=fact_id
        )

    async def facts(self, member_id: str, *, client_key: str | None = None) -> Sequence[ClientFact]:
        return await self._repo.all_facts(member_id, client_key=client_key)

    async def run(self, interval_s: float) -> None:
        """Sweep every ``interval_s`` until :meth:`stop`; a failing sweep is logged, never fatal."""
        while not self._stopping.is_set():
            try:
                await self.sweep()
            except B24ClaudeError as exc:
                log.warning("memory.sweep_failed", extra={"code": exc.code})
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=interval_s)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping.set()
