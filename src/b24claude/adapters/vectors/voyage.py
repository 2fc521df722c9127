"""Voyage AI embeddings over HTTP (``POST {base_url}/embeddings``), for ``B24C_KB_EMBEDDER=voyage``.

The wire format (docs.voyageai.com, "Text embedding models"): a JSON body ``{"input": [...], "model",
"input_type": "query" | "document", "truncation": true, "output_dimension"?}`` with
``Authorization: Bearer <key>``; the answer ``{"object": "list", "data": [{"object": "embedding",
"embedding": [...], "index": i}], "model", "usage": {"total_tokens": n}}``. A list holds at most 1,000
texts and, depending on the model, 120K-1M tokens; we send ``batch_size`` texts (128 by default) and
keep a batch's estimated tokens under ``batch_tokens``. Errors carry ``{"detail": "..."}``: 400/422 bad
input, 401 a wrong key, 429 over the rate limit (we wait for ``Retry-After`` or back off, then retry),
5xx the service's own trouble (retried the same way). The vectors come back unit-length; their
dimension is whatever the model answers with (1,024 by default for voyage-4 and voyage-multilingual-2).

The only address called is the configured one; tests point it at ``b24claude.sandbox.voyage``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from b24claude.errors import EmbeddingError, EmbeddingRateLimited, EmbeddingUnavailable
from b24claude.ports.knowledge import EmbedPurpose, Vectors

log = logging.getLogger(__name__)

API_MAX_TEXTS = 1000
DEFAULT_URL = "https://api.voyageai.com/v1"


def estimate_tokens(text: str) -> int:
    """A generous guess of Voyage's token count (Russian runs ~2.5 characters a token)."""
    return len(text) // 2 + 1


class VoyageEmbedder:
    lemmatised = False

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str = DEFAULT_URL,
        batch_size: int = 128,
        batch_tokens: int = 100_000,
        output_dimension: int | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 4,
        max_wait_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise EmbeddingError("B24C_VOYAGE_API_KEY is empty / не задан ключ Voyage", code="voyage_no_key")
        self.name = f"voyage:{model}" + (f"@{output_dimension}" if output_dimension else "")
        self.model = model
        self.dim = output_dimension or 0  # learned from the first answer otherwise
        self.total_tokens = 0  # usage.total_tokens summed over this process's calls
        self._url = base_url.rstrip("/") + "/embeddings"
        self._key = api_key
        self._batch_size = max(1, min(batch_size, API_MAX_TEXTS))
        self._batch_tokens = batch_tokens
        self._output_dimension = output_dimension
        self._timeout = timeout_s
        self._max_retries = max_retries
        self._max_wait = max_wait_s
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:  # one pooled client per event loop
            self._client = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            if self._loop is asyncio.get_running_loop():
                await client.aclose()

    def batches(self, texts: Sequence[str]) -> list[list[str]]:
        """Consecutive slices within the count and the estimated-token budget of one request."""
        out: list[list[str]] = []
        current: list[str] = []
        tokens = 0
        for text in texts:
            t = estimate_tokens(text)
            if current and (len(current) >= self._batch_size or tokens + t > self._batch_tokens):
                out.append(current)
                current, tokens = [], 0
            current.append(text)
            tokens += t
        if current:
            out.append(current)
        return out

    async def embed(self, texts: Sequence[str], *, purpose: EmbedPurpose) -> Vectors:
        rows: list[Vectors] = []
        for batch in self.batches([t if t.strip() else "-" for t in texts]):  # Voyage refuses empty strings
            rows.append(await self._embed_batch(batch, purpose))
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(rows, axis=0)

    async def _embed_batch(self, batch: list[str], purpose: EmbedPurpose) -> Vectors:
        body: dict[str, Any] = {
            "input": batch,
            "model": self.model,
            "input_type": purpose,
            "truncation": True,
        }
        if self._output_dimension:
            body["output_dimension"] = self._output_dimension
        data = await self._post(body)
        try:
            items = sorted(data["data"], key=lambda d: int(d["index"]))
            matrix = np.asarray([d["embedding"] for d in items], dtype=np.float32)
            tokens = int(data.get("usage", {}).get("total_tokens", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbeddingError(f"Voyage answered an unexpected body: {type(exc).__name__}") from exc
        if matrix.ndim != 2 or matrix.shape[0] != len(batch):
            raise EmbeddingError(f"Voyage answered {matrix.shape[0]} embeddings for {len(batch)} texts")
        if self.dim and matrix.shape[1] != self.dim:
            raise EmbeddingError(f"Voyage answered dimension {matrix.shape[1]}, earlier {self.dim}")
        self.dim = int(matrix.shape[1])
        self.total_tokens += tokens
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        log.debug("kb.voyage.embedded", extra={"texts": len(batch), "tokens": tokens, "purpose": purpose})
        return matrix

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._key}", "Content-Type": "application/json"}
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                resp = await self._http().post(self._url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                reason = f"Voyage is unreachable / Voyage недоступен: {type(exc).__name__}"
                status = 0
            else:
                if resp.status_code == 200:
                    try:
                        parsed = resp.json()
                    except ValueError as exc:
                        raise EmbeddingError("Voyage answered a body that is not JSON") from exc
                    if not isinstance(parsed, dict):
                        raise EmbeddingError("Voyage answered a body that is not an object")
                    return parsed
                status = resp.status_code
                reason = _detail(resp)
                if status == 401 or status == 403:
                    raise EmbeddingError(
                        f"Voyage refused the key (B24C_VOYAGE_API_KEY) / ключ Voyage не принят: {reason}",
                        code="voyage_unauthorized",
                    )
                if status in (400, 404, 413, 422):
                    raise EmbeddingError(
                        f"Voyage refused the request / запрос отклонён: {reason}", code="voyage_bad_request"
                    )
                retry_after = _retry_after(resp)
            if attempt > self._max_retries:
                log.warning("kb.voyage.gave_up", extra={"status": status, "attempts": attempt})
                if status == 429:
                    raise EmbeddingRateLimited(
                        f"Voyage rate limit / лимит Voyage: {reason}", retry_after=retry_after
                    )
                raise EmbeddingUnavailable(f"Voyage failed / ошибка Voyage: {reason}")
            wait = retry_after if retry_after is not None else min(8.0, 0.5 * 2 ** (attempt - 1))
            wait = min(wait, self._max_wait) + random.uniform(0, 0.05)
            log.info(
                "kb.voyage.retry", extra={"status": status, "attempt": attempt, "wait_s": round(wait, 2)}
            )
            await asyncio.sleep(wait)


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return f"HTTP {resp.status_code}: {body['detail']}"
    return f"HTTP {resp.status_code}"


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
