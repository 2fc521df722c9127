"""The Voyage emulator held to the embeddings API reference, and the real adapter driven over HTTP.

Reference: docs.voyageai.com "Text embedding models" (``POST /v1/embeddings``: ``input``, ``model``,
``input_type`` null/query/document, ``truncation``, ``output_dimension``; the answer's ``data[].embedding``
/ ``index`` and ``usage.total_tokens``; at most 1,000 texts a request) and the error handling of Voyage's
own Python client (``{"detail"}`` bodies; 400, 401, 422, 429, 5xx).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import numpy as np
import pytest

from b24claude.adapters.vectors.voyage import VoyageEmbedder
from b24claude.errors import EmbeddingError, EmbeddingRateLimited, EmbeddingUnavailable
from b24claude.sandbox.server import ServerHandle
from b24claude.sandbox.voyage import DEFAULT_KEY, MAX_TEXTS, VoyageState, create_voyage_app

pytestmark = pytest.mark.contract


@dataclass
class Voyage:
    state: VoyageState
    api: str  # the API base, ".../v1"

    def embedder(self, **kw: object) -> VoyageEmbedder:
        args: dict[str, object] = {"api_key": DEFAULT_KEY, "model": "voyage-4", "base_url": self.api}
        args.update(kw)
        return VoyageEmbedder(**args)  # type: ignore[arg-type]


@pytest.fixture
async def voyage() -> AsyncIterator[Voyage]:
    state = VoyageState()
    async with ServerHandle(create_voyage_app(state)) as server:
        yield Voyage(state, server.base_url + "/v1")


async def _post(v: Voyage, body: object, key: str = DEFAULT_KEY) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{v.api}/embeddings", json=body, headers={"Authorization": f"Bearer {key}"})


# --- the emulator's wire format -----------------------------------------------------------------------


async def test_answer_shape_is_the_documented_one(voyage: Voyage) -> None:
    resp = await _post(voyage, {"input": ["доставка по Москве", "warranty"], "model": "voyage-4"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "list" and body["model"] == "voyage-4"
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert all(d["object"] == "embedding" and len(d["embedding"]) == 1024 for d in body["data"])
    assert body["usage"]["total_tokens"] > 0
    norms = [np.linalg.norm(d["embedding"]) for d in body["data"]]
    assert norms == pytest.approx([1.0, 1.0], abs=1e-5)


async def test_a_single_string_and_output_dimension(voyage: Voyage) -> None:
    resp = await _post(voyage, {"input": "одна строка", "model": "voyage-4", "output_dimension": 256})
    assert resp.status_code == 200
    assert len(resp.json()["data"]) == 1 and len(resp.json()["data"][0]["embedding"]) == 256


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"model": "voyage-4"}, "'input'"),
        ({"input": [], "model": "voyage-4"}, "empty"),
        ({"input": [1, 2], "model": "voyage-4"}, "'input'"),
        ({"input": ["x"] * (MAX_TEXTS + 1), "model": "voyage-4"}, "1000"),
        ({"input": ["x"], "model": "voyage-9000"}, "not supported"),
        ({"input": ["x"]}, "'model'"),
        ({"input": ["x"], "model": "voyage-4", "input_type": "passage"}, "input_type"),
        ({"input": ["x"], "model": "voyage-multilingual-2", "output_dimension": 256}, "output_dimension"),
        ({"input": ["слово " * 40_000], "model": "voyage-4", "truncation": False}, "context length"),
        ({"input": ["слово " * 30_000] * 5, "model": "voyage-multilingual-2"}, "limit"),
    ],
)
async def test_bad_input_is_400_with_a_detail(voyage: Voyage, body: dict[str, object], words: str) -> None:
    resp = await _post(voyage, body)
    assert resp.status_code == 400
    assert words in resp.json()["detail"]


async def test_a_wrong_key_is_401(voyage: Voyage) -> None:
    resp = await _post(voyage, {"input": ["x"], "model": "voyage-4"}, key="pa-wrong")
    assert resp.status_code == 401 and "API key" in resp.json()["detail"]
    assert voyage.state.requests == []  # refused before the body is looked at


async def test_over_the_rate_limit_is_429_with_retry_after(voyage: Voyage) -> None:
    voyage.state.rpm_limit = 2
    codes = [(await _post(voyage, {"input": ["x"], "model": "voyage-4"})).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    resp = await _post(voyage, {"input": ["x"], "model": "voyage-4"})
    assert resp.status_code == 429 and 0 < float(resp.headers["retry-after"]) <= 60


async def test_vectors_are_deterministic_and_ignore_the_input_type(voyage: Voyage) -> None:
    a = await _post(voyage, {"input": ["гарантия на кофемашины"], "model": "voyage-4", "input_type": "query"})
    b = await _post(
        voyage, {"input": ["гарантия на кофемашины"], "model": "voyage-4", "input_type": "document"}
    )
    assert a.json()["data"][0]["embedding"] == b.json()["data"][0]["embedding"]


# --- the adapter over HTTP ----------------------------------------------------------------------------


async def test_adapter_sends_the_documented_body_and_learns_the_dimension(voyage: Voyage) -> None:
    emb = voyage.embedder()
    try:
        assert emb.dim == 0
        out = await emb.embed(["как оплатить заказ", "сроки доставки"], purpose="document")
        assert out.shape == (2, 1024) and out.dtype == np.float32
        assert emb.dim == 1024 and emb.total_tokens > 0
        q = await emb.embed(["как оплатить"], purpose="query")
        assert float(q[0] @ out[0]) > float(q[0] @ out[1])  # shared words, as the emulator embeds
    finally:
        await emb.aclose()
    sent = voyage.state.requests
    assert [r["input_type"] for r in sent] == ["document", "query"]
    assert sent[0]["input"] == ["как оплатить заказ", "сроки доставки"] and sent[0]["model"] == "voyage-4"
    assert "output_dimension" not in sent[0]


async def test_adapter_batches_by_count_and_keeps_the_order(voyage: Voyage) -> None:
    emb = voyage.embedder(batch_size=3, output_dimension=512)
    texts = [f"вопрос номер {i}" for i in range(8)]
    try:
        out = await emb.embed(texts, purpose="document")
        single = await emb.embed([texts[5]], purpose="document")
    finally:
        await emb.aclose()
    assert [len(r["input"]) for r in voyage.state.requests[:3]] == [3, 3, 2]
    assert voyage.state.requests[0]["output_dimension"] == 512
    assert out.shape == (8, 512)
    assert np.allclose(out[5], single[0], atol=1e-6)


def test_adapter_batches_by_estimated_tokens() -> None:
    emb = VoyageEmbedder(api_key="k", model="voyage-4", batch_size=100, batch_tokens=1000)
    sizes = [len(b) for b in emb.batches(["я" * 800] * 5)]  # ~401 estimated tokens each
    assert sizes == [2, 2, 1]


async def test_adapter_waits_for_retry_after_on_429(voyage: Voyage) -> None:
    voyage.state.fail_next(429, count=2, retry_after=0.05)
    emb = voyage.embedder()
    try:
        out = await emb.embed(["текст"], purpose="query")
    finally:
        await emb.aclose()
    assert out.shape == (1, 1024)
    assert len(voyage.state.requests) == 3


async def test_adapter_gives_up_on_a_429_that_lasts(voyage: Voyage) -> None:
    voyage.state.fail_next(429, count=10, retry_after=0.01)
    emb = voyage.embedder(max_retries=2)
    try:
        with pytest.raises(EmbeddingRateLimited) as err:
            await emb.embed(["текст"], purpose="query")
    finally:
        await emb.aclose()
    assert err.value.retryable and err.value.retry_after == pytest.approx(0.01)
    assert len(voyage.state.requests) == 3


async def test_adapter_retries_5xx_then_reports_unavailable(voyage: Voyage) -> None:
    voyage.state.fail_next(503, count=1)
    emb = voyage.embedder(max_retries=1)
    try:
        assert (await emb.embed(["a"], purpose="query")).shape == (1, 1024)
        voyage.state.fail_next(500, count=5)
        with pytest.raises(EmbeddingUnavailable):
            await emb.embed(["a"], purpose="query")
    finally:
        await emb.aclose()


async def test_adapter_reports_a_wrong_key_and_bad_input_without_retrying(voyage: Voyage) -> None:
    wrong = voyage.embedder(api_key="pa-wrong")
    bad = voyage.embedder(model="voyage-9000")
    try:
        with pytest.raises(EmbeddingError) as auth:
            await wrong.embed(["a"], purpose="query")
        with pytest.raises(EmbeddingError) as model:
            await bad.embed(["a"], purpose="query")
    finally:
        await wrong.aclose()
        await bad.aclose()
    assert auth.value.code == "voyage_unauthorized" and "B24C_VOYAGE_API_KEY" in auth.value.message
    assert model.value.code == "voyage_bad_request" and "voyage-9000" in model.value.message
    assert len(voyage.state.requests) == 1  # the 401 never reached the body; the 400 was sent once


async def test_adapter_joins_the_configured_base_with_or_without_a_slash(voyage: Voyage) -> None:
    emb = voyage.embedder(base_url=voyage.api + "/")
    try:
        assert (await emb.embed(["x"], purpose="query")).shape == (1, 1024)
    finally:
        await emb.aclose()


async def test_an_unreachable_address_is_unavailable_not_a_crash() -> None:
    emb = VoyageEmbedder(api_key="k", model="voyage-4", base_url="http://127.0.0.1:9/v1", max_retries=1)
    try:
        with pytest.raises(EmbeddingUnavailable) as err:
            await emb.embed(["x"], purpose="query")
    finally:
        await emb.aclose()
    assert "unreachable" in err.value.message
