"""Cost of one Claude call from its usage (reference/anthropic.md §6.1, §7, §12)."""

from __future__ import annotations

import logging

import pytest

from b24claude.adapters.anthropic.cost import cost_usd, price_for
from b24claude.ports.llm import Usage
from b24claude.settings import DEFAULT_PRICES, ModelPrice

SONNET = ModelPrice(input=2, output=10, cache_write_5m=2.5, cache_write_1h=4, cache_read=0.10)
HAIKU_55 = ModelPrice(input=0.10, output=0.50, cache_write_5m=0.125, cache_write_1h=0.20, cache_read=0.01)
PRICES = {
    "claude-sonnet-5-5": SONNET,
    "claude-haiku-5-5": HAIKU_55,
    "claude-haiku-4-5": DEFAULT_PRICES["claude-haiku-4-5"],
}


def test_plain_input_and_output_per_million() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert cost_usd("claude-sonnet-5-5", usage, PRICES) == pytest.approx(2 + 10)


def test_every_token_kind_has_its_own_rate() -> None:
    usage = Usage(
        input_tokens=1_000,
        output_tokens=500,
        cache_creation_input_tokens=4_000,
        cache_read_input_tokens=20_000,
    )
    expected = (1_000 * 2 + 4_000 * 2.5 + 20_000 * 0.10 + 500 * 10) / 1_000_000
    assert cost_usd("claude-sonnet-5-5", usage, PRICES) == pytest.approx(expected)


def test_one_hour_cache_writes_are_the_named_part_of_cache_creation() -> None:
    usage = Usage(cache_creation_input_tokens=10_000)
    expected = (6_000 * 2.5 + 4_000 * 4) / 1_000_000
    assert cost_usd("claude-sonnet-5-5", usage, PRICES, cache_write_1h_tokens=4_000) == pytest.approx(
        expected
    )
    # never more 1h tokens than cache writes in total
    capped = cost_usd("claude-sonnet-5-5", usage, PRICES, cache_write_1h_tokens=99_000)
    assert capped == pytest.approx(10_000 * 4 / 1_000_000)


def test_a_cache_hit_is_cheaper_than_a_miss() -> None:
    miss = Usage(input_tokens=10, cache_creation_input_tokens=5_000, output_tokens=100)
    hit = Usage(input_tokens=10, cache_read_input_tokens=5_000, output_tokens=100)
    assert cost_usd("claude-sonnet-5-5", hit, PRICES) < cost_usd("claude-sonnet-5-5", miss, PRICES)


def test_haiku_5_5_base_band_up_to_100k_prompt_tokens() -> None:
    usage = Usage(input_tokens=60_000, cache_read_input_tokens=40_000, output_tokens=1_000)  # exactly 100k
    expected = (60_000 * 0.10 + 40_000 * 0.01 + 1_000 * 0.50) / 1_000_000
    assert cost_usd("claude-haiku-5-5", usage, PRICES) == pytest.approx(expected)


def test_haiku_5_5_long_prompt_band_multiplies_every_rate_by_five() -> None:
    # cache reads and writes count toward the 100k threshold
    usage = Usage(
        input_tokens=50_000,
        cache_creation_input_tokens=30_000,
        cache_read_input_tokens=20_001,
        output_tokens=2_000,
    )
    base = (50_000 * 0.10 + 30_000 * 0.125 + 20_001 * 0.01 + 2_000 * 0.50) / 1_000_000
    assert cost_usd("claude-haiku-5-5", usage, PRICES) == pytest.approx(base * 5)


def test_other_models_have_no_long_prompt_band() -> None:
    usage = Usage(input_tokens=500_000, output_tokens=1_000)
    assert cost_usd("claude-sonnet-5-5", usage, PRICES) == pytest.approx((500_000 * 2 + 1_000 * 10) / 1e6)


def test_batch_halves_the_price() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000)
    assert cost_usd("claude-sonnet-5-5", usage, PRICES, batch=True) == pytest.approx((2 + 1) / 2)


def test_dated_snapshot_id_uses_its_alias_price() -> None:
    assert price_for("claude-haiku-4-5-20251001", PRICES) is PRICES["claude-haiku-4-5"]
    usage = Usage(input_tokens=1_000_000)
    assert cost_usd("claude-haiku-4-5-20251001", usage, PRICES) == pytest.approx(1.0)


def test_unknown_model_costs_zero_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    usage = Usage(input_tokens=1_000, output_tokens=1_000)
    with caplog.at_level(logging.WARNING, logger="b24claude.llm"):
        assert cost_usd("claude-unpriced-test-model", usage, PRICES) == 0.0
        assert cost_usd("claude-unpriced-test-model", usage, PRICES) == 0.0
    warnings = [r for r in caplog.records if getattr(r, "model", None) == "claude-unpriced-test-model"]
    assert len(warnings) == 1


def test_zero_usage_costs_nothing() -> None:
    assert cost_usd("claude-sonnet-5-5", Usage(), PRICES) == 0.0


def test_default_price_table_matches_the_reference() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, cache_read_input_tokens=1_000_000)
    assert cost_usd("claude-sonnet-5-5", usage, DEFAULT_PRICES) == pytest.approx(2 + 10 + 0.10)
    assert cost_usd("claude-opus-5-5", usage, DEFAULT_PRICES) == pytest.approx(4 + 20 + 0.20)
