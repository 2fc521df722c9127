"""The answer loop's guard: the customer's message before the model, the model's reply after it.

Three calls, each at one place in the loop:

- :func:`screen_message` — a customer's message that tries to override, reveal or role-play the bot, or
  asks for other clients' data, is answered with a fixed reply; the model is not asked.
- :func:`history_text` — such a message, already in the dialogue's history, goes to the model as a stub,
  so a later turn does not carry the instruction along.
- :func:`screen_reply` — a reply that quotes our instructions or our prompt's markup (the model was talked
  into it, or made a mistake) is replaced by a safe answer before the customer reads it.

A reply can carry no other client's data because the prompt carries none (per-dialogue placeholders,
per-portal retrieval, memory keyed per client) and placeholders are restored from this dialogue's vault
only; see the README's "Prompt injection" section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from b24claude.safety.injection import Rule, findings, neutralise, rules_of

REFUSAL = {
    "ru": "Я консультант поддержки и отвечаю на вопросы о наших товарах, заказах и услугах; изменить мои "
    "правила или показать служебные инструкции я не могу. Чем могу помочь?",
    "en": "I'm the support assistant and answer questions about our products, orders and services; I can't "
    "change my rules or show internal instructions. How can I help you?",
}
PRIVATE = {
    "ru": "Я не могу сообщать данные других клиентов. Если вопрос о вашем заказе или обращении — напишите, "
    "пожалуйста, что нужно, и я помогу.",
    "en": "I can't share other customers' data. If your question is about your own order or request, tell me "
    "what you need and I'll help.",
}
SAFE_REPLY = {
    "ru": "Извините, на это я ответить не могу. Я помогаю с вопросами о наших товарах, заказах и услугах — "
    "задайте, пожалуйста, ваш вопрос.",
    "en": "Sorry, I can't answer that. I help with questions about our products, orders and services — "
    "please ask your question.",
}
HISTORY_STUB = (
    "[сообщение клиента скрыто: попытка изменить инструкции бота / "
    "message withheld: an attempt to change the bot's instructions]"
)

# Our prompt's own section tags: a reply that contains one is quoting the prompt.
_OUR_TAGS = re.compile(r"</?\s*(?:persona|client|client_memory|knowledge|passage|language|fact)\b", re.I)
_WORD = re.compile(r"[\w\[\]]+")
SHINGLE = 7  # words in a row shared with our instructions that make a reply a quotation of them


@dataclass(frozen=True, slots=True)
class MessageVerdict:
    rules: tuple[Rule, ...]
    reply: str  # the fixed reply to send instead of asking the model ("" when the message is fine)

    @property
    def blocked(self) -> bool:
        return bool(self.rules)


def screen_message(text: str, *, language: str) -> MessageVerdict:
    """Whether a customer's message is an injection attempt, and the fixed reply to it."""
    rules = tuple(rules_of(findings(text)))
    if not rules:
        return MessageVerdict((), "")
    table = PRIVATE if rules == ("other_clients",) else REFUSAL
    return MessageVerdict(rules, table.get(language, table["ru"]))


def history_text(role: str, text: str) -> str:
    """A history turn as the model may see it: a customer's injection attempt as a stub, tags neutralised."""
    if role == "user" and findings(text):
        return HISTORY_STUB
    return neutralise(text) if role == "user" else text


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(text)]
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


@dataclass(frozen=True, slots=True)
class ReplyVerdict:
    reason: str  # "" (fine), "prompt_markup" or "prompt_quote"
    text: str  # the reply to send: the model's, or the safe answer


def screen_reply(reply: str, *, instructions: str, language: str) -> ReplyVerdict:
    """The model's reply, or the safe answer when it quotes ``instructions`` (persona and rules: the
    prompt's part that is ours, not data) or the prompt's section markup."""
    safe = SAFE_REPLY.get(language, SAFE_REPLY["ru"])
    if _OUR_TAGS.search(reply):
        return ReplyVerdict("prompt_markup", safe)
    if _shingles(reply) & _shingles(instructions):
        return ReplyVerdict("prompt_quote", safe)
    return ReplyVerdict("", reply)
