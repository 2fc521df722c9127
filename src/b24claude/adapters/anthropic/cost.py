"""What one Claude call cost, in USD, from its usage and the configured price table.

Pure arithmetic (reference/anthropic.md §6.1, §7, §12)::

    input·p_in + cache_5m·p_5m + cache_1h·p_1h + cache_read·p_read + output·p_out   (per million tokens)

Prices live in settings because they change often; only the shape of the long-prompt band is here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from functools import lru_cache

from b24claude.ports.llm import Usage
from b24claude.settings import ModelPrice

logger = logging.getLogger("b24claude.llm")

_PER_MILLION = 1_000_000
_DATE_SUFFIX = re.compile(r"-\d{8}$")

# Models whose every rate is multiplied once the whole prompt (uncached input + cache writes + cache
# reads) exceeds a threshold: Haiku 5.5 costs 5x above 100k prompt tokens (reference §7).
LONG_PROMPT_BANDS: Mapping[str, tuple[int, float]] = {"claude-haiku-5-5": (100_000, 5.0)}


def price_for(model: str, prices: Mapping[str, ModelPrice]) -> ModelPrice | None:
    """The price of ``model``, also for a dated snapshot id (``claude-haiku-4-5-20251001``)."""
    return prices.get(model) or prices.get(_DATE_SUFFIX.sub("", model))


def prompt_tokens(usage: Usage) -> int:
    """The whole prompt: ``input_tokens`` counts only the uncached part after the last breakpoint."""
    return usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens


def cost_usd(
    model: str,
    usage: Usage,
    prices: Mapping[str, ModelPrice],
    *,
    cache_write_1h_tokens: int = 0,
    batch: bool = False,
) -> float:
    """USD for one call; 0.0 (and one warning per model) when ``model`` has no price.

    ``usage.cache_creation_input_tokens`` are priced as 5-minute writes except the
    ``cache_write_1h_tokens`` part of them (the API's ``usage.cache_creation.ephemeral_1h_input_tokens``).
    ``batch`` applies the Message Batches discount (-50 %, cache multipliers stack on it).
    """
    price = price_for(model, prices)
    if price is None:
        _warn_unpriced(model)
        return 0.0
    cache_1h = min(max(cache_write_1h_tokens, 0), usage.cache_creation_input_tokens)
    cache_5m = usage.cache_creation_input_tokens - cache_1h
    total = (
        usage.input_tokens * price.input
        + cache_5m * price.cache_write_5m
        + cache_1h * price.cache_write_1h
        + usage.cache_read_input_tokens * price.cache_read
        + usage.output_tokens * price.output
    ) / _PER_MILLION
    return total * _band_multiplier(model, usage) * (0.5 if batch else 1.0)


def _band_multiplier(model: str, usage: Usage) -> float:
    band = LONG_PROMPT_BANDS.get(model) or LONG_PROMPT_BANDS.get(_DATE_SUFFIX.sub("", model))
    if band is None:
        return 1.0
    threshold, multiplier = band
    return multiplier if prompt_tokens(usage) > threshold else 1.0


@lru_cache(maxsize=256)
def _warn_unpriced(model: str) -> None:
    # lru_cache makes this fire once per model per process: a missing price is a configuration gap,
    # not something to repeat on every call.
    logger.warning("claude.price.missing", extra={"model": model, "costed_usd": 0})
