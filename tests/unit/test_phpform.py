from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b24claude.kit import phpform
from tests.conftest import FIXTURES


def test_nested_keys_and_lists() -> None:
    body = urlencode(
        [("event", "X"), ("data[PARAMS][MESSAGE]", "Привет"), ("data[IDS][]", "1"), ("data[IDS][]", "2")]
    )
    got = phpform.parse_body(body)
    assert got == {"event": "X", "data": {"PARAMS": {"MESSAGE": "Привет"}, "IDS": {"0": "1", "1": "2"}}}


@pytest.mark.parametrize(
    "pairs",
    [
        [("a", "1"), ("a[b]", "2")],  # scalar then group
        [("a[b]", "1"), ("a", "2")],  # group then scalar
        [("[x]", "1")],  # empty name
        [("a]b", "1")],
    ],
)
def test_malformed_is_rejected(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(phpform.FormError):
        phpform.parse(pairs)


def test_invalid_utf8_is_a_form_error() -> None:
    with pytest.raises(phpform.FormError):
        phpform.parse_body(b"a=%ff\xff")


def test_openlines_fixture_wire_form_parses_to_its_body() -> None:
    fx = json.loads((FIXTURES / "ONIMBOTMESSAGEADD_openlines.json").read_text())
    parsed = phpform.parse_body(urlencode([tuple(p) for p in fx["form"]]))
    assert parsed == fx["body"]


_keys = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_abc", min_size=1, max_size=8)
# Any text a portal can send: everything but NUL (refused, see test_nul_is_refused).
_value = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=20
)
_tree = st.recursive(
    _value,
    lambda children: st.dictionaries(_keys, children, min_size=1, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(_keys, _tree, min_size=1, max_size=5))
def test_encode_parse_round_trip(obj: dict[str, object]) -> None:
    assert phpform.parse_body(phpform.encode(obj)) == obj


@given(st.lists(st.tuples(st.text(max_size=30), st.text(max_size=30)), max_size=30))
def test_arbitrary_pairs_never_raise_anything_but_form_error(pairs: list[tuple[str, str]]) -> None:
    try:
        phpform.parse(pairs)
    except phpform.FormError:
        pass


@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise_anything_but_form_error(body: bytes) -> None:
    try:
        parsed = phpform.parse_body(body)
    except phpform.FormError:
        return
    assert isinstance(parsed, dict)


_bracket_part = st.text(alphabet="ab01[]%&= \x00я", max_size=6)


@given(
    st.lists(st.tuples(st.lists(_bracket_part, min_size=1, max_size=20), st.text(max_size=10)), max_size=40)
)
def test_arbitrary_nested_bracket_keys_never_raise_anything_but_form_error(
    fields: list[tuple[list[str], str]],
) -> None:
    pairs = [(parts[0] + "".join(f"[{p}]" for p in parts[1:]), value) for parts, value in fields]
    try:
        parsed = phpform.parse(pairs)
    except phpform.FormError:
        return
    assert isinstance(parsed, dict)
    # Whatever parsed must survive the trip back through the wire form.
    assert phpform.parse_body(phpform.encode(parsed)) == parsed


def test_appends_follow_php_numbering_and_stay_linear() -> None:
    parsed = phpform.parse(
        [("a[5]", "x"), ("a[]", "y"), *[("b[]", str(i)) for i in range(phpform.MAX_FIELDS - 2)]]
    )
    assert parsed["a"] == {"5": "x", "6": "y"}  # PHP: max integer key + 1
    assert list(parsed["b"]) == [str(i) for i in range(phpform.MAX_FIELDS - 2)]


@pytest.mark.parametrize(
    ("pairs", "reason"),
    [
        ([("k" * (phpform.MAX_KEY_CHARS + 1), "1")], "key longer"),
        ([("k", "v" * (phpform.MAX_VALUE_CHARS + 1))], "longer than"),
        ([(f"k{i}", "1") for i in range(phpform.MAX_FIELDS + 1)], "more than"),
        ([("a" + "[x]" * phpform.MAX_DEPTH, "1")], "deeper"),
    ],
)
def test_limits(pairs: list[tuple[str, str]], reason: str) -> None:
    with pytest.raises(phpform.FormError, match=reason):
        phpform.parse(pairs)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        # Percent-encoded bytes that are not UTF-8 are refused like the raw bytes are (never U+FFFD).
        (b"event=X&data[M]=%FF%FE%ED%A0%80%00", "not UTF-8"),
        (b"event=X&data[M]=\xff\xfe", "not UTF-8"),
        (b"event=X&data[M]=%ED%A0%80", "not UTF-8"),  # an encoded surrogate
        (b"event=X&data[M]=a%00b", "NUL"),
        (b"event=X&data[M\x00]=a", "NUL"),
    ],
)
def test_undecodable_or_nul_bodies_are_refused(body: bytes, reason: str) -> None:
    with pytest.raises(phpform.FormError, match=reason):
        phpform.parse_body(body)


def test_valid_percent_encoded_utf8_is_decoded() -> None:
    assert phpform.parse_body(b"m=%D0%B4%D0%B0") == {"m": "да"}


# --- the fast parser against the standard library's reading of the same body -----------------------

_ORACLE_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_ORACLE_PART = re.compile(r"\[([^\[\]]*)\]")


def _oracle(body: bytes) -> list[tuple[str, list[str]] | None]:
    """parse_qsl (strict UTF-8) + the bracket-key grammar as a regular expression."""
    text = body.decode("utf-8")
    pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    out: list[tuple[str, list[str]] | None] = []
    for key, value in pairs:
        m = _ORACLE_KEY.match(key)
        out.append(
            (value, [m.group(1), *_ORACLE_PART.findall(m.group(2))]) if m and not key.endswith("\n") else None
        )
    return out


_body_parts = st.sampled_from(
    ["a", "b", "[", "]", "[]", "=", "&", "%", "%D0%B4", "%FF", "+", "x[y]", "é", "%2", "%zz"]
)


@given(st.lists(_body_parts, max_size=12))
def test_fast_parser_reads_what_parse_qsl_reads(parts: list[str]) -> None:
    body = "".join(parts).encode("utf-8")
    try:
        expected = _oracle(body)
    except (UnicodeDecodeError, ValueError):
        with pytest.raises(phpform.FormError):
            phpform.parse_body(body)
        return
    if any(e is None for e in expected):
        with pytest.raises(phpform.FormError):
            phpform.parse_body(body)
        return
    try:
        got = phpform.parse_body(body)
    except phpform.FormError:
        # Key grammar agreed; the nesting itself conflicts (a value and a group under one key).
        with pytest.raises(phpform.FormError):
            phpform.parse(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        return
    assert got == phpform.parse(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
