from __future__ import annotations

import json
from urllib.parse import urlencode

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
_tree = st.recursive(
    st.text(max_size=20),
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
