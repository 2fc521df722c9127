"""The ledger as a wrapper around the LLM port: every call that returns is written down, whoever made it.

Domains call Claude through a :class:`MeteredLLM` and never write the ledger themselves; the request
says whom the call is for (``member_id``, ``dialog_key``, ``inbox_id``, ``feature``).
"""

from __future__ import annotations

from b24claude.ports.llm import LLM, LLMRequest, LLMResult
from b24claude.ports.store import LedgerEntry, LedgerRepository


class MeteredLLM:
    def __init__(self, llm: LLM, ledger: LedgerRepository) -> None:
        self._llm = llm
        self._ledger = ledger

    async def complete(self, request: LLMRequest) -> LLMResult:
        """The inner model's answer, after its tokens, cost and latency are in the ledger."""
        result = await self._llm.complete(request)
        u = result.usage
        await self._ledger.add(
            LedgerEntry(
                member_id=request.member_id,
                feature=request.feature,
                model=result.model,
                input_tokens=u.input_tokens,
                output_tokens=u.output_tokens,
                cache_creation_input_tokens=u.cache_creation_input_tokens,
                cache_read_input_tokens=u.cache_read_input_tokens,
                cost_usd=result.cost_usd,
                latency_s=result.latency_s,
                dialog_key=request.dialog_key,
                request_id=result.request_id,
                inbox_id=request.inbox_id,
            )
        )
        return result
