"""Signed session tokens and the per-key token bucket (kit)."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b24claude.kit.ratelimit import KeyedTokenBucket
from b24claude.kit.signed import SignedTokens

KEY = b"k" * 32
NOW = 1_800_000_000.0


def test_a_token_reads_back_its_claims_until_it_expires() -> None:
    tokens = SignedTokens(KEY, purpose="session")
    token = tokens.issue({"m": "portal", "u": 5, "a": False}, expires_at=NOW + 60)
    assert tokens.read(token, now=NOW) == {"m": "portal", "u": 5, "a": False, "exp": int(NOW + 60)}
    assert tokens.read(token, now=NOW + 60) is None


def test_tampered_claims_other_keys_and_other_purposes_are_refused() -> None:
    tokens = SignedTokens(KEY, purpose="session")
    token = tokens.issue({"m": "portal", "u": 5, "a": False}, expires_at=NOW + 60)
    body, mac = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "a": True}).encode()).rstrip(b"=").decode()
    assert tokens.read(f"{forged}.{mac}", now=NOW) is None
    assert SignedTokens(b"x" * 32, purpose="session").read(token, now=NOW) is None
    assert SignedTokens(KEY, purpose="other").read(token, now=NOW) is None


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError):
        SignedTokens(b"short", purpose="session")


@given(st.text(max_size=300))
def test_arbitrary_text_never_reads_and_never_raises(text: str) -> None:
    assert SignedTokens(KEY, purpose="session").read(text, now=NOW) is None


class _Monotonic:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_bucket_grants_the_burst_then_refills_at_its_rate_per_key() -> None:
    clock = _Monotonic()
    bucket = KeyedTokenBucket(rate_per_s=2.0, burst=3, monotonic=clock)
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a") == pytest.approx(0.5)
    assert bucket.take("b") == 0.0  # another key has its own bucket
    clock.t += 0.5
    assert bucket.take("a") == 0.0
    assert bucket.take("a") > 0
    clock.t += 100  # refills to the burst, not beyond
    assert [bucket.take("a") for _ in range(4)][-1] > 0


def test_zero_rate_means_no_limit() -> None:
    bucket = KeyedTokenBucket(rate_per_s=0, burst=1, monotonic=_Monotonic())
    assert all(bucket.take("a") == 0.0 for _ in range(1000))
