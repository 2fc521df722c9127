"""The answer cache: a repeated question gets the answer already made for it, without a model call.

**What makes two questions the same** (the similarity rule):

- *exact*: the same masked text after lower-casing, ``ё``→``е``, and collapsing punctuation and spaces;
- *semantic*: the same **set of content lemmas** — the words' dictionary forms (pymorphy3, the knowledge
  base's own lemmatiser), without the politeness and filler words of support chats ("здравствуйте",
  "подскажите", "пожалуйста"...). Word order, inflection, punctuation and greetings do not matter; every
  other word does — a negation or a preposition ("без чека" / "с чеком") makes another question. At
  least two content lemmas are needed: "а сколько?" is never the same question as anything.

There is no nearness threshold: equal keys or no hit. A cache that pays a tenth of a cent per miss and
an unhappy customer per wrong hit should be strict.

**What an answer is valid for** — everything that went into its prompt apart from the history: the
portal, the knowledge base's version (``kb_version``: the generation counters of the portal's and the
shared base, bumped by every document added, replaced or removed — a changed base is a new key space,
so nothing is invalidated by hand), the reply language, the portal's persona/company (the stable
head's digest), and whether the bot has already spoken in the dialogue (the opening answer greets).
Only a dialogue's **opening question** is cached or served: a later one may lean on what was said
("а для юрлиц?"), and its answer on the history.

**Never another client's data.** A reply is cacheable for the whole portal only when its prompt had no
client data but the name: no company, position, deals or mapped fields from the CRM card, no client
memory, no placeholder in the question (Open Lines makes a lead of nearly every chat: a card that holds
only the name the customer's messenger showed anyway is not data of theirs the answer can leak). The one placeholder a
portal-wide reply may carry is the client's own name in a greeting ("Здравствуйте, [ИМЯ_1]!"); it is
stored as a slot and filled with the *current* client's placeholder when served (a reply with any other
placeholder is not cached). A reply made with such CRM data or client memory is cached **for that client
only**: the key holds the client's id and a digest of the card and memory text the prompt carried, so
another client — or the same one after the card changed — misses.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from b24claude.ports.cache import Cache

log = logging.getLogger("b24claude.usage")

Terms = Callable[[str], Sequence[str]]  # a text's lemmas, in order (stop words kept or not)
KnowledgeVersion = Callable[[str], Awaitable[str]]  # member_id -> the base's version stamp

DEFAULT_TTL_S = 7 * 86_400.0
MIN_CONTENT_LEMMAS = 2

_PLACEHOLDER = re.compile(r"\[[A-ZА-ЯЁ]+(?:_[A-ZА-ЯЁ]+)*_\d+\]")
_PUNCT = re.compile(r"[^\w\[\]]+")
_SLOT = "{{name:{}}}"
# Politeness and filler of support chats: what a customer adds around the question itself. Lemmas.
FILLER = frozenset(
    "здравствовать здравствуйте привет добрый день утро вечер доброго пожалуйста подсказать подскажите "
    "сказать скажите уточнить интересовать хотеть хотеться узнать вопрос спасибо заранее извинить "
    "а и ну вот же ли бы уж ещё еще вообще просто очень please hello hi thanks thank tell me i would like "
    "to know could you the a an".split()
)


@dataclass(frozen=True, slots=True)
class QuestionKeys:
    exact: str  # the normalised text
    semantic: str  # the sorted content lemmas, space-joined ("" = too short to be cached)


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    text: str  # masked, the greeting's name as slots
    citations: tuple[str, ...]
    model: str
    kind: str  # "exact" | "semantic": which key found it
    scope: str  # "portal" | "client"
    origin: str  # the dialogue it was made for (for logs and the benchmark's wrong-hit check)


@dataclass(frozen=True, slots=True)
class AnswerContext:
    """What of the prompt, besides the question and the base, the answer depends on."""

    member_id: str
    language: str
    head_digest: str  # persona + company + rules (the stable head)
    bot_spoke: bool  # an earlier assistant turn in the dialogue
    client_id: str  # who asks (the author's id): used only for per-client entries
    client_data: str  # the masked card and memory text the prompt carried ("" = none)
    author_name: str  # the masked author name ("[ИМЯ_1] [ИМЯ_2]"), the greeting's slots


class AnswerCache:
    def __init__(
        self, *, cache: Cache, terms: Terms, kb_version: KnowledgeVersion, ttl_s: float = DEFAULT_TTL_S
    ) -> None:
        self._cache = cache
        self._terms = terms
        self._kb_version = kb_version
        self._ttl_s = ttl_s

    def keys(self, question: str) -> QuestionKeys:
        text = question.lower().replace("ё", "е")
        exact = " ".join(_PUNCT.sub(" ", text).split())
        content = sorted({t for t in self._terms(text) if t not in FILLER})
        return QuestionKeys(exact, " ".join(content) if len(content) >= MIN_CONTENT_LEMMAS else "")

    @staticmethod
    def servable_question(question: str) -> bool:
        """A question with personal data in it (a placeholder) is about that client: never shared."""
        return bool(question.strip()) and not _PLACEHOLDER.search(question)

    async def _space(self, ctx: AnswerContext) -> str:
        version = await self._kb_version(ctx.member_id)
        scope = (
            "portal"
            if not ctx.client_data
            else "client:" + _digest(f"{ctx.client_id}\x00{ctx.client_data}")
        )
        head = f"{ctx.language}:{ctx.head_digest[:16]}:{int(ctx.bot_spoke)}"
        return f"answer-cache:{ctx.member_id}:{version}:{head}:{scope}"

    async def lookup(self, question: str, ctx: AnswerContext) -> CachedAnswer | None:
        if not self.servable_question(question):
            return None
        keys = self.keys(question)
        space = await self._space(ctx)
        for kind, key in (("exact", keys.exact), ("semantic", keys.semantic)):
            if not key:
                continue
            raw = await self._cache.get(f"{space}:{kind}:{_digest(key)}")
            if not isinstance(raw, dict) or raw.get("key") != key:
                continue
            text = _fill(str(raw.get("text", "")), ctx.author_name)
            if text is None:
                continue  # the greeting needs a name this client has not got
            return CachedAnswer(
                text=text,
                citations=tuple(str(c) for c in raw.get("citations") or ()),
                model=str(raw.get("model", "")),
                kind=kind,
                scope="client" if ctx.client_data else "portal",
                origin=str(raw.get("origin", "")),
            )
        return None

    async def store(
        self, question: str, ctx: AnswerContext, *, reply: str, citations: Sequence[str], model: str, origin: str
    ) -> bool:
        """Keep ``reply`` for the question; False when it may not be cached (see the module docstring)."""
        if not self.servable_question(question) or not reply.strip():
            return False
        template = _slots(reply, ctx.author_name)
        if _PLACEHOLDER.search(template):
            return False  # it carries a value of this client's other than the greeting's name
        keys = self.keys(question)
        space = await self._space(ctx)
        payload = {"text": template, "citations": list(citations), "model": model, "origin": origin}
        for kind, key in (("exact", keys.exact), ("semantic", keys.semantic)):
            if key:
                await self._cache.set(f"{space}:{kind}:{_digest(key)}", {**payload, "key": key}, ttl_s=self._ttl_s)
        return True


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _slots(reply: str, author_name: str) -> str:
    """The client's name words (placeholders, or real words when the portal does not mask names) as
    slots: the greeting's name is filled per client when served."""
    for i, word in enumerate(author_name.split()):
        if _PLACEHOLDER.fullmatch(word):
            reply = reply.replace(word, _SLOT.format(i))
        elif len(word) > 1:
            reply = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", _SLOT.format(i), reply)
    return reply


_SLOT_RE = re.compile(r"\{name:(\d+)\}")


def _fill(template: str, author_name: str) -> str | None:
    """The template with this client's name words in its slots; None when it has fewer words."""
    words = author_name.split()
    if any(int(m.group(1)) >= len(words) for m in _SLOT_RE.finditer(template)):
        return None
    return _SLOT_RE.sub(lambda m: words[int(m.group(1))], template)


def digest(text: str) -> str:
    """A short stable digest (for the stable head's part of the key)."""
    return _digest(text)
