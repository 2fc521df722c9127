"""Schema-valid values for structured outputs and tool inputs, drawn from the conversation when possible.

Supports the JSON-Schema subset structured outputs accept (reference §5): object/properties/required/
additionalProperties, string/number/integer/boolean/null, enum, const, arrays, nested objects, $ref to
$defs/definitions, anyOf/oneOf/allOf, type lists, min/max bounds and lengths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import memory
from .classify import Classification, classification_value, classify_dialogue
from .lexicon import (
    HUMAN_STEMS,
    NEGATIVE_STEMS,
    POSITIVE_STEMS,
    SYNONYMS,
    URGENT_STEMS,
    content_words,
    stem,
    stems,
)

_PHONE = re.compile(r"(?:\+7|\b8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}\b|\+\d[\d\s()-]{8,}\d")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"\d+(?:[ \u00a0]\d{3})*(?:[.,]\d+)?")
_COMPANY = re.compile(r"(?:ООО|АО|ПАО|ЗАО|ИП|LLC|Inc\.?|Ltd\.?)\s*«?[^»,.\n]+»?")
_NAME_INTRO = re.compile(
    r"(?i:меня зовут|my name is|i am|i'm)\s+([A-ZА-ЯЁ][a-zа-яё]+(?:\s+[A-ZА-ЯЁ][a-zа-яё]+)?)"
)
_MAX_DEPTH = 16


@dataclass
class Facts:
    """What the brain knows about the conversation, for filling in values."""

    last_message: str
    user_text: str
    language: str = "ru"
    client: dict[str, str] = field(default_factory=dict)  # keys lower-cased
    answer: str = ""
    topic: str = ""
    today: str = "2026-01-01"
    user_messages: list[str] = field(default_factory=list)  # the customer's turns, oldest first
    stem_set: set[str] = field(init=False, default_factory=set)
    _classification: Classification | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.stem_set = stems(self.user_text)

    @property
    def classification(self) -> Classification:
        """Type, urgency, sentiment... of the dialogue (classify.py), computed once."""
        if self._classification is None:
            self._classification = classify_dialogue(self.user_messages or [self.user_text])
        return self._classification

    def client_value(self, *keys: str) -> str:
        for key in keys:
            if self.client.get(key):
                return self.client[key]
        return ""

    def full_name(self) -> str:
        known = self.client_value("имя", "фио", "name", "клиент", "контакт", "client", "contact")
        if known:
            return known
        match = _NAME_INTRO.search(self.user_text)
        return match.group(1) if match else ""

    def company(self) -> str:
        known = self.client_value("компания", "company", "организация", "organization")
        if known:
            return known
        match = _COMPANY.search(self.user_text)
        return match.group(0).strip() if match else ""

    def phone(self) -> str:
        match = _PHONE.search(self.user_text)
        return match.group(0).strip() if match else self.client_value("телефон", "phone")

    def email(self) -> str:
        match = _EMAIL.search(self.user_text)
        return match.group(0) if match else self.client_value("email", "e-mail", "почта")

    def summary(self) -> str:
        text = " ".join(self.last_message.split())
        if self.language == "en":
            return f"The client asks: {_clip(text, 180)}"
        return f"Клиент спрашивает: {_clip(text, 180)}"

    def sentiment(self) -> str:
        if self.stem_set & NEGATIVE_STEMS:
            return "negative"
        return "positive" if self.stem_set & POSITIVE_STEMS else "neutral"

    def numbers(self) -> list[float]:
        text = _EMAIL.sub(" ", _PHONE.sub(" ", self.user_text))  # a phone number is not an amount
        found = [m.group(0) for m in _NUMBER.finditer(text)]
        deals = self.client_value("сделки", "сделка", "deals", "deal")
        found += [m.group(0) for m in _NUMBER.finditer(deals)]
        return [float(n.replace(" ", "").replace("\u00a0", "").replace(",", ".")) for n in found]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def fill(schema: Any, facts: Facts, *, name: str = "", root: Any = None, depth: int = 0) -> Any:
    """A value valid for `schema`, as close to the conversation as the heuristics get."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None if depth > _MAX_DEPTH else ""
    if "$ref" in schema:
        target = _resolve(root, str(schema["$ref"]))
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return fill({**target, **rest}, facts, name=name, root=root, depth=depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        options = list(schema["enum"])
        classified = classification_value(name, options, facts.classification) if name else None
        return classified if classified is not None else choose(options, facts)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if not (isinstance(o, dict) and o.get("type") == "null")]
            return fill(options[0], facts, name=name, root=root, depth=depth + 1) if options else None
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_resolve(root, part["$ref"]) if isinstance(part, dict) and "$ref" in part else part)
        return fill(merged, facts, name=name, root=root, depth=depth + 1)
    kind = _kind(schema)
    if kind == "object":
        props = schema.get("properties") or {}
        return {key: fill(sub, facts, name=key, root=root, depth=depth + 1) for key, sub in props.items()}
    if kind == "array":
        return _array(schema, facts, name=name, root=root, depth=depth)
    if kind in {"number", "integer"}:
        return _number(schema, facts, name=name, integer=kind == "integer")
    if kind == "boolean":
        return _boolean(name, facts)
    if kind == "null":
        return None
    return _string(schema, facts, name=name)


def _resolve(root: Any, ref: str) -> dict[str, Any]:
    node = root
    for part in ref.lstrip("#/").split("/") if ref.startswith("#") else []:
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        real = [k for k in kind if k != "null"]
        return str(real[0]) if real else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    return "array" if "items" in schema else "string"


def choose(options: list[Any], facts: Facts) -> Any:
    """The enum option whose words (or their Russian synonyms) best match the conversation; else the first."""
    best, best_score = (options[0] if options else None), 0
    for option in options:
        option_stems = {stem(w) for w in content_words(str(option))}
        score = 2 * len(option_stems & facts.stem_set)
        score += sum(1 for s in option_stems if SYNONYMS.get(s, frozenset()) & facts.stem_set)
        if score > best_score:
            best, best_score = option, score
    return best


def _has(name: str, *parts: str) -> bool:
    return any(part in name for part in parts)


def _string(schema: dict[str, Any], facts: Facts, *, name: str) -> str:
    key = name.lower()
    fmt = schema.get("format", "")
    value: str
    if fmt == "email" or _has(key, "email", "mail", "почт"):
        value = facts.email()
    elif _has(key, "phone", "tel", "телеф"):
        value = facts.phone()
    elif _has(key, "company", "organi", "firm", "компан", "организ"):
        value = facts.company()
    elif _has(key, "first_name", "firstname", "given"):
        value = (facts.full_name().split() or [""])[0]
    elif _has(key, "last_name", "lastname", "surname", "family"):
        parts = facts.full_name().split()
        value = parts[-1] if len(parts) > 1 else ""
    elif _has(key, "name", "fio", "contact", "client", "customer", "имя", "фио"):
        value = facts.full_name()
    elif fmt == "date-time":
        value = f"{facts.today}T00:00:00Z"
    elif fmt == "date" or _has(key, "date"):
        value = facts.today
    elif _has(key, "summary", "brief", "description", "comment", "note", "резюме"):
        value = facts.summary()
    elif _has(key, "sentiment", "tone", "mood"):
        value = facts.sentiment()
    elif _has(key, "urgency", "priority"):
        value = "high" if facts.stem_set & URGENT_STEMS else "normal"
    elif key == "topic":
        value = facts.classification.topic
    elif _has(key, "intent", "category", "topic", "type", "reason", "subject"):
        value = facts.topic or (content_words(facts.last_message) or ["question"])[0]
    elif _has(key, "lang"):
        value = facts.language
    elif _has(key, "reply", "answer", "response", "message"):
        value = facts.answer or facts.summary()
    elif _has(key, "quote", "evidence", "source", "text"):
        value = _clip(" ".join(facts.last_message.split()), 200)
    else:
        value = _clip(" ".join(facts.last_message.split()), 120)
    min_length = int(schema.get("minLength", 0))
    if len(value) < min_length:
        value = value + "-" * (min_length - len(value))
    max_length = schema.get("maxLength")
    return value[: int(max_length)] if max_length is not None else value


def _number(schema: dict[str, Any], facts: Facts, *, name: str, integer: bool) -> float | int:
    key = name.lower()
    numbers = facts.numbers()
    value: float = 0.0
    if _has(key, "confidence", "certainty", "probability"):
        value = facts.classification.confidence
    elif _has(key, "amount", "sum", "budget", "price", "cost", "total", "opportunity", "сумм", "бюджет"):
        value = max(numbers) if numbers else 0.0
    elif _has(key, "count", "quantity", "qty", "number", "колич"):
        small = [n for n in numbers if n < 10_000]
        value = small[0] if small else 1.0
    step = 1.0 if integer else 0.01
    low = _bound(schema, "minimum", "exclusiveMinimum", step)
    high = _bound(schema, "maximum", "exclusiveMaximum", -step)
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    return round(value) if integer else value


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str, step: float) -> float | None:
    if isinstance(schema.get(inclusive), int | float):
        return float(schema[inclusive])
    if isinstance(schema.get(exclusive), int | float):
        return float(schema[exclusive]) + step
    return None


def _boolean(name: str, facts: Facts) -> bool:
    key = name.lower()
    if key in ("needs_human", "needs_a_human", "handoff", "needs_handoff"):
        return facts.classification.needs_human
    if _has(key, "handoff", "human", "operator", "escalat", "transfer", "оператор"):
        return bool(facts.stem_set & HUMAN_STEMS) or bool(facts.stem_set & NEGATIVE_STEMS)
    if _has(key, "urgent", "срочн"):
        return bool(facts.stem_set & URGENT_STEMS)
    return False


def _array(schema: dict[str, Any], facts: Facts, *, name: str, root: Any, depth: int) -> list[Any]:
    if memory.wants_facts(schema):
        return memory.extract(facts.user_text)
    items = schema.get("items", {})
    count = max(int(schema.get("minItems", 0)), 1)
    if schema.get("maxItems") is not None:
        count = min(count, int(schema["maxItems"]))
    if isinstance(items, dict) and _kind(items) == "string" and "enum" not in items and "const" not in items:
        if _has(name.lower(), "tag", "keyword", "topic", "label", "entit"):
            keywords = list(dict.fromkeys(content_words(facts.last_message)))
            count = max(count, min(3, len(keywords), int(schema.get("maxItems", 3))))
            result: list[Any] = keywords[:count]
            while len(result) < count:
                result.append(f"item-{len(result) + 1}")
            return result
    values = [fill(items, facts, name=name, root=root, depth=depth + 1) for _ in range(count)]
    if schema.get("uniqueItems") and all(isinstance(v, str) for v in values):
        values = [v if i == 0 else f"{v} ({i + 1})" for i, v in enumerate(values)]
    return values
