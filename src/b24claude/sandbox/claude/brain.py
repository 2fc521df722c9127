"""The emulator's deterministic answerer: useful replies from the prompt b24claude builds.

The system prompt may carry tagged sections — `<persona>`, `<client>` ("Key: value" lines),
`<knowledge>` (`<passage id=… title=…>` elements) and `<language>`. The brain parses them when present and
degrades gracefully when absent: it greets by first name on the first assistant turn, answers from the
best-overlapping passages (citing `[id]`), mentions the open deal when the question is about an
order/deal/status, and otherwise says honestly that a specialist will follow up. It also decides tool
calls and fills structured outputs (see schema.py). Same input, same output.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .lexicon import (
    ORDER_STEMS,
    SYNONYMS,
    content_words,
    is_greeting_only,
    is_thanks_only,
    looks_english,
    stems,
)
from .naive import fooled_reply
from .schema import Facts, fill
from .tokens import block_text

_PASSAGE = re.compile(r"<passage\b([^>]*)>(.*?)</passage>", re.S | re.I)
_ATTR = re.compile(r"(\w+)\s*=\s*[\"']([^\"']*)[\"']")
_CYRILLIC = re.compile("[а-яёА-ЯЁ]")
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")
# Pseudonymised contact details ("[ТЕЛЕФОН_1]", "[EMAIL_2]"): a model acknowledges them by echoing the label.
_CONTACT_LABEL = re.compile(r"\[(?:ТЕЛЕФОН|EMAIL|PHONE)_\d+\]")
_NAME_KEYS = ("имя", "name", "фио", "клиент", "client", "контакт", "contact")
_DEAL_KEYS = ("сделки", "сделка", "deals", "deal", "заказы", "заказ", "orders", "order")

FALLBACK = {
    "ru": "В базе знаний нет ответа на этот вопрос. Уточню у специалиста и вернусь с ответом.",
    "en": "Our knowledge base has no answer to that. I'll check with a specialist and get back to you.",
}


@dataclass(frozen=True, slots=True)
class Passage:
    id: str
    title: str
    text: str
    rank: int = 0  # the retrieval's order when the prompt gives it (passages come sorted by id)


@dataclass(slots=True)
class PromptContext:
    """The tagged sections of a b24claude system prompt (all optional)."""

    persona: str = ""
    client: list[tuple[str, str]] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    language: str | None = None

    def client_map(self) -> dict[str, str]:
        return {key.lower(): value for key, value in self.client}

    def first_name(self) -> str:
        known = self.client_map()
        for key in _NAME_KEYS:
            if known.get(key):
                return known[key].split()[0]
        return ""

    def deals(self) -> list[str]:
        known = self.client_map()
        for key in _DEAL_KEYS:
            if known.get(key):
                return [part.strip() for part in known[key].split(";") if part.strip()]
        return []


def _section(text: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}\b[^>]*>(.*?)</{tag}>", text, re.S | re.I)
    return match.group(1).strip() if match else None


def system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(block_text(block) for block in system)
    return ""


def parse_prompt(text: str) -> PromptContext:
    context = PromptContext(persona=_section(text, "persona") or "")
    for line in (_section(text, "client") or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and value.strip():
            context.client.append((key.strip(" -•*"), value.strip()))
    for attrs, body in _PASSAGE.findall(_section(text, "knowledge") or ""):
        fields = dict(_ATTR.findall(attrs))
        pid = fields.get("id", f"p{len(context.passages) + 1}")
        rank = int(fields["rank"]) if fields.get("rank", "").isdigit() else len(context.passages) + 1
        context.passages.append(Passage(pid, fields.get("title", ""), " ".join(body.split()), rank))
    language = (_section(text, "language") or "").lower()
    context.language = language[:2] if language else None
    return context


@dataclass(slots=True)
class Decision:
    """What the model 'says': text, or a tool call, optionally preceded by thinking."""

    text: str = ""
    tool_name: str | None = None
    tool_input: dict[str, Any] | None = None
    thinking: str | None = None


@dataclass(slots=True)
class _Dialogue:
    last_user: str
    user_text: str
    user_messages: list[str]
    first_turn: bool
    tool_results: list[tuple[str, bool]]
    prefill: str


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    return "\n".join(block_text(b) for b in content if isinstance(b, dict) and b.get("type") == "text")


def _dialogue(messages: list[dict[str, Any]]) -> _Dialogue:
    prefill = ""
    if messages and messages[-1].get("role") == "assistant":
        prefill = _message_text(messages[-1])
        messages = messages[:-1]
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    last_index = users[-1] if users else len(messages)
    last = messages[last_index] if users else {"content": ""}
    results: list[tuple[str, bool]] = []
    content = last.get("content")
    for block in content if isinstance(content, list) else []:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            results.append((block_text(block), bool(block.get("is_error"))))
    return _Dialogue(
        last_user=_message_text(last),
        user_text="\n".join(_message_text(messages[i]) for i in users),
        user_messages=[_message_text(messages[i]) for i in users],
        first_turn=not any(m.get("role") == "assistant" for m in messages[:last_index]),
        tool_results=results,
        prefill=prefill,
    )


class Brain:
    """Deterministic replies. `scripted` rules (substring → reply) override everything else."""

    def __init__(
        self,
        *,
        scripted: list[tuple[str, str]] | None = None,
        today: str = "2026-01-01",
        emit_thinking: bool = False,
        naive: bool = False,
    ) -> None:
        self.scripted = scripted or []
        self.today = today
        self.emit_thinking = emit_thinking
        self.naive = naive  # obey instructions found in the prompt (naive.py): tests of injection defences

    def decide(self, body: dict[str, Any]) -> Decision:
        messages = body["messages"]
        prompt_text = system_text(body.get("system"))
        prompt_text += "\n".join(_message_text(m) for m in messages if m.get("role") == "system")
        context = parse_prompt(prompt_text)
        dialogue = _dialogue([m for m in messages if m.get("role") != "system"])
        language = context.language or ("en" if looks_english(dialogue.last_user) else "ru")
        decision = Decision(thinking=self._thinking(body, dialogue, language))
        for match, reply in self.scripted:
            if match.lower() in dialogue.last_user.lower():
                decision.text = _strip_prefill(reply, dialogue.prefill)
                return decision
        answer = self.compose(context, dialogue, language)
        facts = Facts(
            dialogue.last_user,
            dialogue.user_text,
            language,
            context.client_map(),
            answer,
            _topic(context, dialogue),
            self.today,
            user_messages=dialogue.user_messages,
        )
        tool = self._pick_tool(body, dialogue)
        output_format = (body.get("output_config") or {}).get("format") or body.get("output_format")
        if self.naive and tool is None and not isinstance(output_format, dict):
            fooled = fooled_reply(
                prompt_text, [p.text for p in context.passages], dialogue.user_messages, language
            )
            if fooled is not None:
                decision.text = _strip_prefill(fooled, dialogue.prefill)
                return decision
        if tool is not None:
            decision.tool_name = str(tool["name"])
            decision.tool_input = fill(tool.get("input_schema", {}), facts)
            return decision
        if isinstance(output_format, dict) and isinstance(output_format.get("schema"), dict):
            decision.text = json.dumps(fill(output_format["schema"], facts), ensure_ascii=False)
        else:
            decision.text = answer
        decision.text = _strip_prefill(decision.text, dialogue.prefill)
        return decision

    def compose(self, context: PromptContext, dialogue: _Dialogue, language: str) -> str:
        en = language == "en"
        first = context.first_name()
        if dialogue.first_turn:
            greeting = (
                (f"Hello, {first}!" if first else "Hello!")
                if en
                else (f"Здравствуйте, {first}!" if first else "Здравствуйте!")
            )
        else:
            greeting = ""
        if dialogue.tool_results:
            return _tool_results_reply(dialogue.tool_results, en)
        question = dialogue.last_user
        if is_thanks_only(question):
            return (
                "You're welcome! Let me know if you have any other questions."
                if en
                else "Пожалуйста! Если появятся вопросы — пишите."
            )
        if is_greeting_only(question):
            ask = (
                ("How can I help you?" if en else "Чем могу помочь?")
                if dialogue.first_turn
                else ("What else can I help you with?" if en else "Чем ещё могу помочь?")
            )
            return f"{greeting} {ask}".strip()
        parts = [greeting] if greeting else []
        question_stems = stems(question)
        deals = context.deals()
        about_deal = bool(deals and question_stems & ORDER_STEMS)
        # A question about "my order" is answered from the CRM card, not from passages that merely
        # mention orders; other words of the question still select passages.
        search_stems = question_stems - ORDER_STEMS if about_deal else question_stems
        chosen = best_passages(search_stems, context.passages)
        if not chosen and en and context.passages and _CYRILLIC.search(context.passages[0].text):
            # An English question over a Russian base: no words in common, but the passages were chosen
            # for it by the retrieval; a model would translate the best one, the emulator quotes it.
            lead = min(context.passages, key=lambda p: p.rank)
            chosen = [(lead, _SENTENCE.split(lead.text.strip())[:2])]
            parts.append("From our knowledge base:")
        for passage, sentences in chosen:
            parts.append(f"{' '.join(sentences)} [{passage.id}]")
        if about_deal:
            parts.append(("Regarding your deal: " if en else "По вашей сделке ") + "; ".join(deals) + ".")
        if len(parts) == (1 if greeting else 0):
            parts.append(FALLBACK["en" if en else "ru"])
        contacts = list(dict.fromkeys(_CONTACT_LABEL.findall(question)))
        if contacts:
            parts.append(
                ("Noted your contact details: " if en else "Записал ваши контакты: ")
                + ", ".join(contacts)
                + "."
            )
        return " ".join(parts)

    def _pick_tool(self, body: dict[str, Any], dialogue: _Dialogue) -> dict[str, Any] | None:
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and "input_schema" in t]
        choice = body.get("tool_choice") or {"type": "auto"}
        if not tools or choice.get("type") == "none":
            return None
        if choice.get("type") == "tool":
            return next((t for t in tools if t["name"] == choice.get("name")), None)
        if choice.get("type") == "any":
            return tools[0]
        if dialogue.tool_results:
            return None  # the answer to a tool call: reply in text rather than loop
        asked = stems(dialogue.last_user)
        best, best_score = None, 0
        for tool in tools:
            described = stems(
                str(tool["name"]).replace("_", " ").replace("-", " ") + " " + str(tool.get("description", ""))
            )
            score = 2 * len(described & asked)
            score += sum(1 for s in described if SYNONYMS.get(s, frozenset()) & asked)
            if score > best_score:
                best, best_score = tool, score
        return best

    def _thinking(self, body: dict[str, Any], dialogue: _Dialogue, language: str) -> str | None:
        """Manual thinking always thinks; adaptive (or omitted = model default) only with `emit_thinking`."""
        kind = (body.get("thinking") or {}).get("type")
        if not (kind == "enabled" or (kind in {None, "adaptive"} and self.emit_thinking)):
            return None
        if (body.get("thinking") or {}).get("display") == "omitted":
            return ""
        quoted = _clip(" ".join(dialogue.last_user.split()), 120)
        if language == "en":
            return f"The client writes: “{quoted}”. Looking for the answer in the knowledge base."
        return f"Клиент пишет: «{quoted}». Ищу ответ в базе знаний."


def best_passages(
    question_stems: set[str], passages: list[Passage], limit: int = 2
) -> list[tuple[Passage, list[str]]]:
    """Passages with the best IDF-weighted stem overlap, each with its key sentence(s)."""
    if not question_stems or not passages:
        return []
    passage_stems = [stems(p.title + " " + p.text) for p in passages]
    title_stems = [stems(p.title) for p in passages]
    frequency = {s: sum(1 for ps in passage_stems if s in ps) for s in question_stems}
    scored: list[tuple[float, int]] = []
    for index, found in enumerate(passage_stems):
        score = sum(math.log(1 + len(passages) / frequency[s]) for s in question_stems & found)
        score += 0.5 * len(question_stems & title_stems[index])
        if score > 0:
            scored.append((score, index))
    if not scored:
        return []
    scored.sort(key=lambda item: (-item[0], item[1]))
    top = scored[0][0]
    chosen = [index for score, index in scored[:limit] if score >= top * 0.999]
    return [(passages[i], key_sentences(question_stems, passages[i].text)) for i in chosen]


def key_sentences(question_stems: set[str], text: str, limit: int = 2) -> list[str]:
    sentences = [s.strip() for s in _SENTENCE.split(text) if s.strip()]
    if not sentences:
        return []
    scores = [len(stems(sentence) & question_stems) for sentence in sentences]
    best = max(scores)
    if best == 0:
        return sentences[:1]
    return [sentence for sentence, score in zip(sentences, scores, strict=True) if score == best][:limit]


def _topic(context: PromptContext, dialogue: _Dialogue) -> str:
    matched = best_passages(stems(dialogue.last_user), context.passages, limit=1)
    if matched and matched[0][0].title:
        return matched[0][0].title.lower()
    words = content_words(dialogue.last_user)
    return words[0] if words else ""


def _tool_results_reply(results: list[tuple[str, bool]], en: bool) -> str:
    parts = []
    for text, is_error in results:
        shown = _clip(" ".join(text.split()), 300) or ("no data" if en else "нет данных")
        if is_error:
            parts.append(
                f"Could not complete the action: {shown}."
                if en
                else f"Не удалось выполнить действие: {shown}."
            )
        else:
            parts.append(f"Done. Result: {shown}" if en else f"Готово. Результат: {shown}")
    if any(is_error for _, is_error in results):
        parts.append(FALLBACK["en" if en else "ru"])
    return " ".join(parts)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _strip_prefill(text: str, prefill: str) -> str:
    """With a prefilled assistant turn the reply continues it rather than repeating it."""
    if prefill and text.startswith(prefill):
        return text[len(prefill) :]
    return text
