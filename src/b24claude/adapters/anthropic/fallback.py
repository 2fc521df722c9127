"""A fallback chain of models with a circuit breaker per model, behind the same ``LLM`` port.

Claude is slow or overloaded at peak hours. A request goes to its model first; on a failure that
another model may not share — 429, 529, 5xx, a timeout, a broken stream — the next model of the
chain is tried, and a model that failed ``failures`` times in a row is skipped for ``cooldown_s``
(then one trial call). A spend cap (the whole organisation is out of money) and a rejected request
(our bug) are raised at once: no other model fixes them.

The retry budget of one message is therefore bounded: ``max_attempts`` calls per model (the
adapter's own retries) times the models in the chain; when every model failed the caller gets
:class:`~b24claude.errors.LLMUnavailable` and answers without Claude (a prepared answer, a human).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from b24claude.errors import LLMError, LLMRequestRejected, LLMSpendLimitReached, LLMUnavailable
from b24claude.kit.breaker import CircuitBreaker
from b24claude.ports.llm import LLM, LLMRequest, LLMResult

log = logging.getLogger("b24claude.llm")


class FallbackLLM:
    def __init__(
        self,
        inner: LLM,
        *,
        default_model: str,
        fallbacks: Sequence[str],
        breaker: CircuitBreaker,
    ) -> None:
        self._inner = inner
        self._default_model = default_model
        self._fallbacks = tuple(fallbacks)
        self.breaker = breaker

    def chain(self, model: str | None) -> list[str]:
        """The models a request is tried on, in order, without repeats."""
        out: list[str] = []
        for name in (model or self._default_model, *self._fallbacks):
            if name and name not in out:
                out.append(name)
        return out

    async def complete(self, request: LLMRequest) -> LLMResult:
        last: LLMError | None = None
        skipped: list[str] = []
        for model in self.chain(request.model):
            if not self.breaker.allow(model):
                skipped.append(model)
                continue
            try:
                result = await self._inner.complete(replace(request, model=model))
            except (LLMSpendLimitReached, LLMRequestRejected):
                raise
            except LLMError as exc:
                self.breaker.failure(model)
                last = exc
                log.warning(
                    "llm.model_failed",
                    extra={"model": model, "code": exc.code, "breaker_open": self.breaker.is_open(model)},
                )
                continue
            self.breaker.success(model)
            return result
        waits = [self.breaker.retry_in(m) for m in self.chain(request.model)]
        retry_after = min((w for w in waits if w > 0), default=None)
        raise LLMUnavailable(
            f"every model failed or is cooling down (last: {last.code if last else 'none tried'};"
            f" skipped: {', '.join(skipped) or 'none'})",
            code=last.code if last else "all_models_cooling_down",
            retry_after=retry_after,
        )
