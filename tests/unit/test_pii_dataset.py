"""The labelled PII sets in bench/data are well-formed, their numbers are valid, and they are reproducible.

The check digits are computed here again, independently of the builder, so a bug in the builder's
checksum code cannot pass its own test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from b24claude.ports.privacy import PII_TYPES

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"
FILES = {"dev": DATA / "pii_ru_dev.jsonl", "holdout": DATA / "pii_ru_holdout.jsonl"}
MIN_SPANS = {
    "dev": {
        "phone": 100,
        "email": 50,
        "card": 50,
        "inn": 40,
        "snils": 30,
        "passport": 40,
        "ogrn": 20,
        "birthdate": 30,
        "address": 50,
        "name": 150,
    },
    "holdout": {
        "phone": 67,
        "email": 34,
        "card": 34,
        "inn": 27,
        "snils": 20,
        "passport": 27,
        "ogrn": 14,
        "birthdate": 20,
        "address": 34,
        "name": 100,
    },
}


def _luhn(d: str) -> bool:
    digits = [int(c) for c in reversed(d)]
    return sum(digits[0::2] + [sum(divmod(2 * x, 10)) for x in digits[1::2]]) % 10 == 0


def _mod11(d: str, weights: list[int]) -> int:
    return sum(int(c) * w for c, w in zip(d, weights, strict=False)) % 11 % 10


def _inn(d: str) -> bool:
    w = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]
    if len(d) == 10:
        return _mod11(d, w[2:]) == int(d[9])
    return len(d) == 12 and _mod11(d, w[1:]) == int(d[10]) and _mod11(d, w) == int(d[11])


def _snils(d: str) -> bool:
    if len(d) != 11:
        return False
    total = sum(int(c) * (9 - i) for i, c in enumerate(d[:9]))
    return total % 101 % 100 == int(d[9:])


def _ogrn(d: str) -> bool:
    if len(d) == 13:
        return int(d[:12]) % 11 % 10 == int(d[12])
    return len(d) == 15 and int(d[:14]) % 13 % 10 == int(d[14])


def _card_scheme(d: str) -> bool:
    return d[0] == "4" or 51 <= int(d[:2]) <= 55 or 2221 <= int(d[:4]) <= 2720 or 2200 <= int(d[:4]) <= 2204


CHECKS = {
    "card": lambda d: len(d) == 16 and _luhn(d) and _card_scheme(d),
    "inn": _inn,
    "snils": _snils,
    "ogrn": _ogrn,
}


@pytest.fixture(scope="module")
def sets() -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name, path in FILES.items():
        with path.open(encoding="utf-8") as f:
            out[name] = [json.loads(line) for line in f]
    return out


def test_known_check_digits() -> None:
    # Published examples, so the checks above are not merely consistent with the builder.
    assert _inn("7707083893") and _inn("500100732259") and not _inn("7707083894")
    assert _snils("11223344595") and not _snils("11223344596")
    assert _ogrn("1027700132195") and _ogrn("304500116000157") and not _ogrn("1027700132196")
    assert _luhn("4111111111111111") and not _luhn("4111111111111112")


@pytest.mark.parametrize("name", list(FILES))
def test_messages_are_well_formed(sets: dict[str, list[dict[str, Any]]], name: str) -> None:
    msgs = sets[name]
    ids = [m["id"] for m in msgs]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(rf"{name}-\d{{4}}", i) for i in ids)
    assert len({m["text"] for m in msgs}) == len(msgs), "a message repeats word for word"
    for m in msgs:
        assert set(m) == {"id", "text", "spans", "tags"}, m["id"]
        assert m["text"] and isinstance(m["tags"], list)
        last_end = 0
        for s in m["spans"]:
            assert set(s) == {"type", "start", "end", "value"}, m["id"]
            assert s["type"] in PII_TYPES, m["id"]
            assert 0 <= s["start"] < s["end"] <= len(m["text"]), m["id"]
            assert m["text"][s["start"] : s["end"]] == s["value"], m["id"]
            assert s["value"] == s["value"].strip(), m["id"]
            assert s["start"] >= last_end, f"{m['id']}: spans unsorted or overlapping"
            last_end = s["end"]


@pytest.mark.parametrize("name", list(FILES))
def test_checksummed_spans_are_valid(sets: dict[str, list[dict[str, Any]]], name: str) -> None:
    bad = [
        (m["id"], s["value"])
        for m in sets[name]
        for s in m["spans"]
        if s["type"] in CHECKS and not CHECKS[s["type"]](re.sub(r"\D", "", s["value"]))
    ]
    assert not bad


@pytest.mark.parametrize("name", list(FILES))
def test_no_unlabelled_valid_number(sets: dict[str, list[dict[str, Any]]], name: str) -> None:
    """A bare run of digits outside every span never passes the checksum its length would suggest."""
    found = []
    for m in sets[name]:
        for run in re.finditer(r"\d+", m["text"]):
            if any(s["start"] < run.end() and run.start() < s["end"] for s in m["spans"]):
                continue
            d = run.group()
            if (
                (len(d) == 16 and _luhn(d) and _card_scheme(d))
                or (len(d) in (10, 12) and _inn(d))
                or (len(d) == 11 and _snils(d))
                or (len(d) in (13, 15) and _ogrn(d))
            ):
                found.append((m["id"], d))
    assert not found


@pytest.mark.parametrize("name", list(FILES))
def test_coverage_and_clean_share(sets: dict[str, list[dict[str, Any]]], name: str) -> None:
    msgs = sets[name]
    counts = {t: sum(1 for m in msgs for s in m["spans"] if s["type"] == t) for t in PII_TYPES}
    assert all(counts[t] >= need for t, need in MIN_SPANS[name].items()), counts
    clean = [m for m in msgs if not m["spans"]]
    assert len(clean) >= 0.40 * len(msgs)
    assert all("clean" in m["tags"] for m in clean)
    lengths = {len(re.sub(r"\D", "", s["value"])) for m in msgs for s in m["spans"] if s["type"] == "inn"}
    assert lengths == {10, 12}
    ogrn_lengths = {len(s["value"]) for m in msgs for s in m["spans"] if s["type"] == "ogrn"}
    assert ogrn_lengths == {13, 15}
    tags = {t for m in msgs for t in m["tags"]}
    for needed in (
        "card:visa",
        "card:mastercard",
        "card:mastercard2",
        "card:mir",
        "card:contiguous",
        "card:grouped",
        "phone:plus7",
        "phone:8",
        "phone:7",
        "phone:bracketed",
        "phone:8800",
        "phone:city-495",
        "phone:city-812",
        "birthdate:words",
        "birthdate:year",
        "passport:series-number-words",
        "name:gen",
        "name:dat",
        "name:acc",
        "name:ins",
        "name:loc",
        "name:patronymic",
        "name:diminutive",
        "name:initials",
        "name:latin",
        "name:lowercase",
        "name:word-name",
        "name:title-surname",
        "name:female-surname",
        "lookalike:order",
        "lookalike:price",
        "lookalike:tracking",
        "lookalike:bad-luhn",
        "lookalike:bad-inn",
        "lookalike:city",
        "lookalike:common-noun-name",
        "lookalike:brand-bot",
    ):
        assert needed in tags, needed


def test_holdout_shares_no_message_with_dev(sets: dict[str, list[dict[str, Any]]]) -> None:
    assert not {m["text"] for m in sets["dev"]} & {m["text"] for m in sets["holdout"]}


def test_a_fresh_build_reproduces_the_files() -> None:
    from bench.data import build_pii_set

    for rel, text in build_pii_set.build().items():
        stale = f"{rel} is stale: run python -m bench.data.build_pii_set"
        assert (DATA / rel).read_text(encoding="utf-8") == text, stale
