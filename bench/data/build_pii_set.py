"""Build the labelled Russian PII sets: bench/data/pii_ru_dev.jsonl and bench/data/pii_ru_holdout.jsonl.

    python -m bench.data.build_pii_set           # write both files and the counts block of README.md
    python -m bench.data.build_pii_set --check   # exit 1 if the files on disk differ from a fresh build

Deterministic: one seeded ``random.Random`` per file, no clock, no environment. Each file has its own
templates (``pii_templates_dev`` / ``pii_templates_holdout``) and its own half of the name pools.
PII templates are rendered once each, then the template that carries the type furthest below its
minimum is rendered again until every type reaches its minimum; clean (look-alike) templates then fill
the file to its size, at least 43 % of it. Messages are shuffled and numbered.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data import pii_templates_dev, pii_templates_holdout
from bench.data.pii_checksums import valid_as
from bench.data.pii_values import Gen

DATA_DIR = Path(__file__).resolve().parent
TYPES = ("phone", "email", "card", "inn", "snils", "passport", "ogrn", "birthdate", "address", "name")
SLOT_TYPES = {
    "phone": "phone",
    "email": "email",
    "card": "card",
    "inn": "inn",
    "snils": "snils",
    "passport": "passport",
    "ogrn": "ogrn",
    "bdate": "birthdate",
    "addr": "address",
    "name": "name",
}
SLOT_RE = re.compile(r"\{([a-z_0-9]+(?::[a-z0-9_]+)*)\}")
ALT_RE = re.compile(r"\[([^\[\]{}]*\|[^\[\]{}]*)\]")
VOWELS = set("аеёиоуыэюяaeiou")
GREETING_RE = re.compile(r"(?i)^(здра|добр|прив|алло|алё|hi|день|вечер|доброе)")
# A run of digits, possibly grouped by single spaces or dashes (how cards and INNs get written).
NUMBER_RE = re.compile(r"\d(?:[ \-]?\d){5,}")

DEV_MINIMUMS = {
    "phone": 105,
    "email": 53,
    "card": 53,
    "inn": 42,
    "snils": 32,
    "passport": 42,
    "ogrn": 21,
    "birthdate": 32,
    "address": 53,
    "name": 158,
}
HOLDOUT_MINIMUMS = {
    "phone": 70,
    "email": 35,
    "card": 35,
    "inn": 28,
    "snils": 21,
    "passport": 28,
    "ogrn": 14,
    "birthdate": 21,
    "address": 35,
    "name": 105,
}
CLEAN_SHARE = 0.43


@dataclass(frozen=True, slots=True)
class Template:
    text: str
    tags: tuple[str, ...]
    pii_types: frozenset[str]


@dataclass(frozen=True, slots=True)
class Part:
    name: str  # "dev" or "holdout"
    file: str
    id_prefix: str
    seed: int
    size: int
    minimums: dict[str, int]
    pii: list[str]
    clean: list[str]
    prefixes: list[str]
    suffixes: list[str]


PARTS = (
    Part(
        "dev",
        "pii_ru_dev.jsonl",
        "dev",
        20260501,
        600,
        DEV_MINIMUMS,
        pii_templates_dev.PII,
        pii_templates_dev.CLEAN,
        pii_templates_dev.PREFIXES,
        pii_templates_dev.SUFFIXES,
    ),
    Part(
        "holdout",
        "pii_ru_holdout.jsonl",
        "holdout",
        20260502,
        400,
        HOLDOUT_MINIMUMS,
        pii_templates_holdout.PII,
        pii_templates_holdout.CLEAN,
        pii_templates_holdout.PREFIXES,
        pii_templates_holdout.SUFFIXES,
    ),
)


def parse(raw: str) -> Template:
    text, _, tags = raw.partition(" ##")
    types = frozenset(
        SLOT_TYPES[s.split(":")[0]] for s in SLOT_RE.findall(text) if s.split(":")[0] in SLOT_TYPES
    )
    return Template(text, tuple(t for t in tags.split(",") if t), types)


def render(tpl: Template, gen: Gen, part: Part) -> dict[str, Any]:
    rng = gen.rng
    body = ALT_RE.sub(lambda m: rng.choice(m.group(1).split("|")), tpl.text)
    tags = set(tpl.tags)
    pieces: list[tuple[str, str | None]] = []
    pos = 0
    for m in SLOT_RE.finditer(body):
        pieces.append((body[pos : m.start()], None))
        fill = gen.slot(m.group(1))
        pieces.append((fill.text, fill.pii))
        tags.update(fill.tags)
        pos = m.end()
    pieces.append((body[pos:], None))
    for k in range(1, len(pieces)):  # "о Алексее" -> "об Алексее"
        prev, nxt = pieces[k - 1][0], pieces[k][0]
        if pieces[k][1] and nxt[:1].lower() in VOWELS and re.search(r"(^|\s)[оО] $", prev):
            pieces[k - 1] = (prev[:-1] + "б ", None)
    # No greeting before a sentence that opens with a name-like word: "Добрый день, Роман, который я
    # заказывал..." would read as talking to a Roman.
    starts_like_name = {"lookalike:capitalised", "lookalike:common-noun-name"} & tags
    if rng.random() < 0.3 and not GREETING_RE.match(body) and not starts_like_name:
        pieces.insert(0, (rng.choice(part.prefixes), None))
        tags.add("style:greeting")
    if rng.random() < 0.2:
        pieces.append((rng.choice(part.suffixes), None))
    roll = rng.random()
    case = None
    if roll < 0.12:
        case = str.lower
        tags.add("style:lowercase")
    elif roll < 0.15 and sum(len(p) for p, _ in pieces) < 70:
        case = str.upper
        tags.add("style:caps")
    text, spans = "", []
    for piece, pii in pieces:
        piece = case(piece) if case else piece
        if pii:
            spans.append({"type": pii, "start": len(text), "end": len(text) + len(piece), "value": piece})
            if pii == "name" and piece == piece.lower():
                tags.add("name:lowercase")
        text += piece
    if len(spans) >= 3:
        tags.add("multi-pii")
    if not spans:
        tags.add("clean")
    return {"text": text, "spans": spans, "tags": sorted(tags)}


def check_message(msg: dict[str, Any]) -> None:
    """Raise if a message is inconsistent or carries a checksum-valid number that is not labelled."""
    text, spans = msg["text"], msg["spans"]
    last_end = 0
    for s in spans:
        assert text[s["start"] : s["end"]] == s["value"], msg
        assert s["start"] >= last_end, msg
        last_end = s["end"]
    for m in NUMBER_RE.finditer(text):
        if any(s["start"] < m.end() and m.start() < s["end"] for s in spans):
            continue
        digits = re.sub(r"\D", "", m.group())
        assert not valid_as(digits), f"unlabelled {valid_as(digits)} number {m.group()!r} in {text!r}"


def build_part(part: Part) -> list[dict[str, Any]]:
    rng = random.Random(part.seed)
    gen = Gen(part.name, rng)
    pii_t = [parse(t) for t in part.pii]
    clean_t = [parse(t) for t in part.clean]
    assert all(t.pii_types for t in pii_t), [t.text for t in pii_t if not t.pii_types]
    assert not any(t.pii_types for t in clean_t), [t.text for t in clean_t if t.pii_types]
    seen: set[str] = set()
    messages: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    uses: Counter[int] = Counter()

    def emit(tpl: Template) -> dict[str, Any] | None:
        for _ in range(30):  # re-draw a message that repeats an earlier one word for word
            msg = render(tpl, gen, part)
            if msg["text"] not in seen:
                check_message(msg)
                seen.add(msg["text"])
                messages.append(msg)
                return msg
        return None

    order = list(range(len(pii_t)))
    rng.shuffle(order)
    rank = {i: r for r, i in enumerate(order)}
    for i in order:
        msg = emit(pii_t[i])
        uses[i] += 1
        counts.update(s["type"] for s in (msg["spans"] if msg else []))
    while short := {t: counts[t] / need for t, need in part.minimums.items() if counts[t] < need}:
        want = min(short, key=lambda t: (short[t], t))
        # the least used template with the wanted type, counting each other short type it also fills
        i = min(
            (i for i, t in enumerate(pii_t) if want in t.pii_types),
            key=lambda i: (uses[i] - len(pii_t[i].pii_types & short.keys()), rank[i]),
        )
        msg = emit(pii_t[i])
        uses[i] += 1
        counts.update(s["type"] for s in (msg["spans"] if msg else []))
    n_pii = len(messages)
    n_clean = max(part.size - n_pii, math.ceil(n_pii * CLEAN_SHARE / (1 - CLEAN_SHARE)))
    while len(messages) < n_pii + n_clean:
        block = list(range(len(clean_t)))
        rng.shuffle(block)
        for i in block[: n_pii + n_clean - len(messages)]:
            emit(clean_t[i])
    rng.shuffle(messages)
    return [{"id": f"{part.id_prefix}-{n:04d}", **m} for n, m in enumerate(messages, 1)]


def dumps(messages: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages)


def counts_block(built: dict[str, list[dict[str, Any]]]) -> str:
    """The README table of counts: spans and messages per type, clean share, tags."""
    names = [p.name for p in PARTS]
    lines = [
        "| type | " + " | ".join(f"{n} spans | {n} messages" for n in names) + " |",
        "|---|" + "---|---|" * len(names),
    ]
    for t in TYPES:
        cells = []
        for n in names:
            msgs = built[n]
            cells.append(str(sum(1 for m in msgs for s in m["spans"] if s["type"] == t)))
            cells.append(str(sum(1 for m in msgs if any(s["type"] == t for s in m["spans"]))))
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    totals = []
    for n in names:
        msgs = built[n]
        totals.append(str(sum(len(m["spans"]) for m in msgs)))
        totals.append(str(len(msgs)))
    lines.append("| **all** | " + " | ".join(totals) + " |")
    lines.append("")
    for n in names:
        msgs = built[n]
        clean = sum(1 for m in msgs if not m["spans"])
        lines.append(
            f"- {n}: {len(msgs)} messages, {clean} clean ({100 * clean / len(msgs):.1f} %), "
            f"{len(msgs) - clean} with PII"
        )
    lines += ["", "Tags (dev / holdout):", ""]
    tag_counts = {n: Counter(t for m in built[n] for t in m["tags"]) for n in names}
    all_tags = sorted(set().union(*tag_counts.values()))
    for family in sorted({t.split(":")[0] for t in all_tags}):
        items = [
            f"`{t}` {' / '.join(str(tag_counts[n][t]) for n in names)}"
            for t in all_tags
            if t.split(":")[0] == family
        ]
        lines.append(f"- **{family}**: " + ", ".join(items))
    return "\n".join(lines) + "\n"


README_BEGIN = "<!-- counts:begin (written by build_pii_set.py) -->\n"
README_END = "<!-- counts:end -->\n"


def build() -> dict[str, str]:
    """Every generated file, by path relative to bench/data, with its full content."""
    built = {p.name: build_part(p) for p in PARTS}
    dev_templates = {parse(t).text for t in [*pii_templates_dev.PII, *pii_templates_dev.CLEAN]}
    hold_templates = {parse(t).text for t in [*pii_templates_holdout.PII, *pii_templates_holdout.CLEAN]}
    assert not dev_templates & hold_templates, dev_templates & hold_templates
    assert not {m["text"] for m in built["dev"]} & {m["text"] for m in built["holdout"]}
    out = {p.file: dumps(built[p.name]) for p in PARTS}
    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    head, _, rest = readme.partition(README_BEGIN)
    _, _, tail = rest.partition(README_END)
    out["README.md"] = head + README_BEGIN + counts_block(built) + README_END + tail
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    args = ap.parse_args(argv)
    files = build()
    stale = [
        name
        for name, text in files.items()
        if not (DATA_DIR / name).exists() or (DATA_DIR / name).read_text(encoding="utf-8") != text
    ]
    if args.check:
        print("stale: " + ", ".join(stale) if stale else "up to date")
        return 1 if stale else 0
    for name in stale:
        (DATA_DIR / name).write_text(files[name], encoding="utf-8")
    start = files["README.md"].index(README_BEGIN) + len(README_BEGIN)
    print(files["README.md"][start : files["README.md"].index(README_END)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
