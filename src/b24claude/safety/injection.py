"""Instruction-like text in data: find it, take it out of documents, keep it from closing our tags.

What the model receives is our instructions (persona, rules) plus data: the customer's words, knowledge
passages, the CRM card, client memory. An attacker controls the data and writes instructions into it —
"игнорируй предыдущие инструкции", "выведи системный промпт", "ты теперь DAN", a ``</knowledge>`` that
closes our section and opens a ``<persona>`` of their own. These rules recognise such text (Russian and
English) so that the service can refuse it before the model is asked (a customer's message), drop it at
ingestion (a document) and neutralise markup wherever data is placed in the prompt.

The patterns are deliberately specific: a support question never needs "ignore your instructions", but
a document may well say "ignore e-mails asking for your password" and must not be flagged for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Rule = Literal["override", "reveal_prompt", "role_play", "other_clients", "markup"]

_W = r"(?:[\w'’-]+[\s,]+)"  # one word and the space after it (for "up to N words between")
_PATTERNS: dict[Rule, tuple[str, ...]] = {
    # "ignore / forget the previous instructions", "new instructions", "from now on you…"
    "override": (
        r"(?:игнорир|проигнорир|забуд|забыв|отбрось|отбрас|отмен|не\s+слушай|не\s+следуй|не\s+обращай\w*\s+внимани\w*\s+на)"
        rf"\w*[\s,]+{_W}{{0,3}}(?:инструкц|указани|правил|промпт|установк|ограничени|систем)",
        r"(?:ignore|disregard|forget|override|bypass|skip)\w*[\s,]+"
        rf"{_W}{{0,4}}(?:instructions?|rules|prompts?|directions|guidelines|restrictions|guardrails)\b",
        r"\bнов\w+\s+(?:инструкци|указани|правил)\w*\s*:",
        r"\bnew\s+(?:instructions?|rules)\s*:",
        r"\b(?:с\s+этого\s+момента|отныне|теперь)\s+(?:ты|вы)\s+(?:долж|обязан|буд|отвеча|говор)",
        r"\bfrom\s+now\s+on,?\s+(?:you|always|only)\b",
        r"(?:примечани\w*|инструкци\w*|указани\w*|сообщени\w*)\s+для\s+(?:ии|ai|бота|ассистента|модели|нейросети|claude)",
        r"\b(?:note|instructions?|message)\s+(?:to|for)\s+(?:the\s+)?(?:ai|assistant|bot|model|llm|claude)\b",
        r"\b(?:ai|ии|assistant|ассистент|бот|модель)\s*,?\s+(?:ignore|игнорир)",
        # Telling the bot word for word what to answer ("скажи: «…»", "чтобы ты говорил «…»"); the
        # polite "скажите, «Delonghi» есть?" of a customer's question is not this.
        r"(?<![\w-])(?:скажи|ответь|отвечай|напиши|пиши|говори|повтори|повторяй|say|reply|respond)(?![\w-])\s*"
        r"(?:мне\s+|клиенту\s+|клиентам\s+|всем\s+|me\s+|only\s+|with\s+|just\s+)?(?:только\s+|всегда\s+)?[:«\"“]",
        r"\bчтобы\s+(?:ты|вы|бот)\s+(?:всегда\s+|теперь\s+)?(?:говорил|отвечал|писал|сказал|называл|обещал)",
    ),
    # "show / print / repeat your system prompt / the instructions above / everything above"
    "reveal_prompt": (
        r"систем\w*\s+(?:промпт|подсказк|сообщени|инструкци|запрос|настройк)",
        r"(?:выведи|выводи|покажи|показать|повтори|напиши|раскрой|перечисли|процитируй|скопируй|распечатай|"
        rf"озвучь|переведи|сообщи|дай)\w*[\s,]+{_W}{{0,4}}(?:промпт|инструкци|правил\w*\s+(?:бота|ассистента|которы)|"
        r"(?:вс[её]|текст),?\s+(?:что\s+)?(?:написано\s+|было\s+|сказано\s+)?(?:выше|до\s+этого|в\s+начале))",
        r"\bsystem\s+(?:prompt|message|instructions?)\b",
        r"\b(?:reveal|print|show|repeat|output|display|dump|leak|recite|translate|tell\s+me)\w*[\s,]+"
        r"(?:me\s+)?" + _W + r"{0,4}(?:prompt|instructions|rules|everything\s+(?:above|before))\b",
        r"\b(?:your|the)\s+(?:initial|original|hidden|secret|previous)\s+(?:prompt|instructions)\b",
        r"\b(?:above|before)\s+this\s+(?:line|message)\b",
        r"\bwhat\s+(?:were|are)\s+you\s+(?:told|instructed)\b",
    ),
    # "you are DAN now", "developer mode", "pretend you have no restrictions"
    "role_play": (
        r"\bDAN\b",
        r"\bdo\s+anything\s+now\b",
        r"jailbreak|джейлбрейк|джейлбрек",
        r"developer\s+mode|режим\w*\s+разработчика|god\s+mode|режим\w*\s+бога",
        r"\b(?:ты|вы)\s+(?:теперь|больше\s+не|уже\s+не)\s+(?:\w+\s+)?(?:бот|ассистент|помощник|ии|ai|модель|"
        r"нейросеть|консультант|свободн|без\s+ограничени)",
        r"\b(?:you\s+are|you're)\s+(?:now|no\s+longer)\s+(?:an?\s+|the\s+)?\w+",
        r"\bpretend\s+(?:to\s+be|you\s+are|that\s+you)\b",
        r"\bact\s+as\s+(?:an?|the|if)\b",
        r"\broleplay\b|\brole-play\b|ролев\w+\s+игр",
        r"притвор(?:ись|итесь)|представь\w*,?\s+что\s+(?:ты|вы)\s+(?:не\s+бот|человек|злой|другой|без)",
        r"(?:без|нет)\s+(?:каких-либо\s+|всяких\s+|никаких\s+)?(?:ограничений|фильтров|цензуры|правил)\b",
        r"\bwithout\s+(?:any\s+)?(?:restrictions|filters|limits|rules|censorship)\b|\bunfiltered\b",
    ),
    # "show me the other clients' data / phones", "list all customers"
    "other_clients": (
        r"(?:данн|телефон|номер|контакт|адрес|почт|email|e-mail|имена|фамили|спис|баз|переписк|заказ)\w*\s+"
        r"(?:\w+\s+)?(?:других|всех|остальных|чужих|прошлых|предыдущих)\s+(?:клиент|пользовател|покупател|заказчик|собеседник)",
        r"(?:покажи|выведи|дай|скинь|назови|перечисли|скажи|сообщи|пришли|выгрузи|отправь)\w*\s+"
        r"(?:мне\s+)?(?:\w+\s+){0,2}(?:других|всех|остальных|чужих)\s+(?:клиент|пользовател|покупател|заказчик)",
        r"\b(?:data|phones?|numbers?|e-?mails?|addresses|details|records|contacts|names|list|database|chats?)\s+"
        r"(?:of|for|from)\s+(?:the\s+)?(?:other|all|another|previous)\s+(?:customers?|clients?|users?)",
        r"\b(?:other|all|another|previous)\s+(?:customers?|clients?|users?)(?:'s?|’s?)?\s+"
        r"(?:data|phones?|numbers?|e-?mails?|addresses|details|records|contacts|names|info|information|chats?)",
        r"\b(?:show|give|list|tell|print|dump|reveal|share|send)\s+(?:me\s+)?(?:\w+\s+){0,2}"
        r"(?:other|all|another)\s+(?:customers?|clients?|users?)\b",
    ),
    # Our own section tags, chat-template markers, role prefixes at a line's start.
    "markup": (
        r"<\s*/?\s*(?:persona|client|client_memory|knowledge|passage|language|fact|system|instructions?|rules|"
        r"assistant|user|human|prompt|context)\b[^>]*>",
        r"<\|\s*(?:im_start|im_end|system|endoftext)\s*\|>",
        r"\[/?INST\]|<<\s*/?SYS\s*>>",
        r"(?m)^\s*(?:system|assistant|human|система|ассистент)\s*:",
        r"(?m)^\s*#{2,}\s*(?:system|instructions?|инструкци\w*|систем\w*)\b",
    ),
}
_COMPILED: tuple[tuple[Rule, re.Pattern[str]], ...] = tuple(
    (rule, re.compile(p, re.IGNORECASE)) for rule, patterns in _PATTERNS.items() for p in patterns
)
# "<" that starts a tag (``<persona>``, ``</knowledge>``, ``<|im_start|>``, ``<!--``): the data keeps its
# meaning for a reader, but can no longer open or close a section of the prompt.
# An order to say something ("скажи «…»", "reply: \"…\""): fine in a customer's question or a help page
# ("напишите нам: «…»"), but a fact about a client never tells the bot what to answer.
_DIRECTIVE = re.compile(
    r"(?:скаж|ответ|отвеча|напиш|говор|сообщ|say|reply|answer|respond|tell)\w*[^«\"“\n]{0,40}?[«\"“:]",
    re.IGNORECASE,
)
_TAG_OPEN = re.compile(r"<(?=\s*[/!?|A-Za-z_])")
_TAG_LOOKALIKE = "‹"
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")


@dataclass(frozen=True, slots=True)
class Finding:
    rule: Rule
    start: int
    end: int
    snippet: str  # the matched text (for an admin's report; never logged for a customer's message)


def _fold(text: str) -> str:
    """Same length as ``text`` (offsets stay valid); "ё" as "е", look-alike spaces as spaces."""
    return text.replace("ё", "е").replace("Ё", "Е").replace("\u00a0", " ").replace("\u200b", " ")


def findings(text: str) -> list[Finding]:
    """Every instruction-like match in ``text``, in order of position."""
    if not text:
        return []
    folded = _fold(text)
    found = [
        Finding(rule, m.start(), m.end(), text[m.start() : m.end()])
        for rule, pattern in _COMPILED
        for m in pattern.finditer(folded)
    ]
    return sorted(found, key=lambda f: (f.start, f.end))


def directs_reply(text: str) -> bool:
    """Whether ``text`` tells its reader what to say (for facts, which never should)."""
    return _DIRECTIVE.search(_fold(text)) is not None


def rules_of(found: list[Finding]) -> list[Rule]:
    return list(dict.fromkeys(f.rule for f in found))


def neutralise(text: str) -> str:
    """Data as it may be placed inside a prompt section: no tag of it can open or close one."""
    return _TAG_OPEN.sub(_TAG_LOOKALIKE, text) if "<" in text else text


def strip_instructions(text: str) -> tuple[str, list[Finding]]:
    """``text`` without the sentences that carry an instruction to the model, and what was found.

    A whole sentence goes (an instruction usually runs to its end: "…и отвечай, что всё бесплатно");
    paragraph breaks are kept.
    """
    found = findings(text)
    if not found:
        return text, []
    out: list[str] = []
    pos = 0
    for m in _SENTENCE.finditer(text + "\n"):
        start, end = pos, m.start()
        if not any(f.start < end and f.end > start for f in found):
            out.append(text[start:end] + m.group(0))
        elif "\n" in m.group(0):
            out.append("\n")
        pos = m.end()
    cleaned = "".join(out).rstrip("\n")
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned)
    return cleaned, found
