"""Claude through the official ``anthropic`` SDK: the :class:`~b24claude.ports.llm.LLM` port, costed."""

from b24claude.adapters.anthropic.client import CallRecord, ClaudeLLM, RateLimitRemaining
from b24claude.adapters.anthropic.cost import cost_usd

__all__ = ["CallRecord", "ClaudeLLM", "RateLimitRemaining", "cost_usd"]
