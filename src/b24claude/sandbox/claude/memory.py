"""The brain's client-memory extraction: durable facts from the client's lines of a transcript, by cues.

A real model judges what is worth remembering; the emulator keeps a customer's sentence when it carries a
cue of a device they own, a preference or a past problem, the same sentence every time.
"""

from __future__ import annotations

import re
from typing import Any

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("preference", re.compile(r"(?i)\b(предпочитаю|удобнее|лучше (?:пишите|звоните)|prefer|please always)")),
    (
        "problem",
        re.compile(r"(?i)(сломал|не работает|скрипит|заедает|порвал|проблем|broke|doesn't work|not working)"),
    ),
    ("device", re.compile(r"(?i)(\bу меня\b|\bмой\b|\bмоя\b|\bкупил|\bi have\b|\bmy (?:bike|device|model))")),
)


def wants_facts(schema: Any) -> bool:
    """The extraction's shape: an array of objects with a ``kind`` enum naming ``device``."""
    if not isinstance(schema, dict):
        return False
    items = schema.get("items")
    if not isinstance(items, dict):
        return False
    kind = (items.get("properties") or {}).get("kind")
    return isinstance(kind, dict) and "device" in (kind.get("enum") or ())


def extract(transcript: str) -> list[dict[str, str]]:
    """One fact per customer sentence with a cue, in the order said; the bot's lines are skipped."""
    facts: list[dict[str, str]] = []
    for line in transcript.splitlines():
        line = line.strip()
        if not line.startswith(("Клиент:", "Client:")):
            continue
        body = line.split(":", 1)[1]
        for sentence in _SENTENCE.findall(body):
            sentence = " ".join(sentence.split()).strip()
            if len(sentence) < 8:
                continue
            for kind, cue in _CUES:
                if cue.search(sentence):
                    facts.append({"kind": kind, "text": f"Клиент: {sentence}"})
                    break
    return facts
