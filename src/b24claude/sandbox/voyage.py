"""A local emulator of Voyage AI's text embeddings endpoint (``POST /v1/embeddings``).

Same wire format as the real API (docs.voyageai.com, "Text embedding models"): a body ``{"input":
str | [str], "model", "input_type": null | "query" | "document", "truncation": bool,
"output_dimension"?, "output_dtype"?, "encoding_format"?}`` with ``Authorization: Bearer <key>``;
the answer ``{"object": "list", "data": [{"object": "embedding", "embedding", "index"}], "model",
"usage": {"total_tokens"}}``; errors ``{"detail": "..."}`` with 401 (no or a wrong key), 400 (bad
JSON or fields, over 1,000 texts, over the model's token budget of one request, an over-long text with
``truncation: false``, a dimension the model does not offer), 429 with ``Retry-After`` (over the
requests-per-minute limit when one is set, or an injected fault), and injected 5xx.

The vectors are deterministic and unit-length: words and character 3-grams of the lower-cased text
hashed into the model's dimension, with the input type's prompt left out (so a query and the same
text as a document embed alike). They carry no meaning beyond shared spelling: the emulator proves
the wire format, batching, retries and isolation, never retrieval quality. Tokens are estimated as
one per three characters (at least one a text). Imports nothing from the product.
"""

from __future__ import annotations

import json
import math
import re
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .server import ServerHandle, serve_app

DEFAULT_KEY = "pa-sandbox-voyage-key"
MAX_TEXTS = 1000


@dataclass(frozen=True, slots=True)
class VoyageModel:
    name: str
    dim: int
    dims: tuple[int, ...]  # what output_dimension may be
    context: int  # tokens of one text
    batch_tokens: int  # tokens of one request


_FLEX = (256, 512, 1024, 2048)
MODELS: dict[str, VoyageModel] = {
    m.name: m
    for m in (
        VoyageModel("voyage-4-large", 1024, _FLEX, 32_000, 120_000),
        VoyageModel("voyage-4", 1024, _FLEX, 32_000, 320_000),
        VoyageModel("voyage-4-lite", 1024, _FLEX, 32_000, 1_000_000),
        VoyageModel("voyage-3-large", 1024, _FLEX, 32_000, 120_000),
        VoyageModel("voyage-3.5", 1024, _FLEX, 32_000, 320_000),
        VoyageModel("voyage-3.5-lite", 1024, _FLEX, 32_000, 1_000_000),
        VoyageModel("voyage-code-3", 1024, _FLEX, 32_000, 120_000),
        VoyageModel("voyage-finance-2", 1024, (1024,), 32_000, 120_000),
        VoyageModel("voyage-law-2", 1024, (1024,), 16_000, 120_000),
        VoyageModel("voyage-multilingual-2", 1024, (1024,), 32_000, 120_000),
    )
}


def estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 3))


@dataclass(slots=True)
class Fault:
    status: int
    count: int = 1
    retry_after: float | None = None
    detail: str = "injected fault"


@dataclass
class VoyageState:
    api_keys: set[str] = field(default_factory=lambda: {DEFAULT_KEY})
    rpm_limit: int = 0  # requests per minute per key; 0 = unlimited
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)  # every body that passed auth
    _times: dict[str, deque[float]] = field(default_factory=dict)

    def fail_next(self, status: int, *, count: int = 1, retry_after: float | None = None) -> None:
        self.faults.append(Fault(status, count, retry_after))


class _ApiError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


_WORD = re.compile(r"\w+", re.UNICODE)


def embed_text(text: str, dim: int) -> list[float]:
    vec = np.zeros(dim, dtype=np.float64)
    for word in _WORD.findall(text.lower()):
        feats = [(f"w:{word}", 1.0)]
        padded = f"<{word}>"
        feats += [(padded[i : i + 3], 0.4) for i in range(len(padded) - 2)]
        for feat, weight in feats:
            h = zlib.crc32(feat.encode())
            vec[h % dim] += weight if (h >> 16) & 1 else -weight
    norm = float(np.linalg.norm(vec))
    if norm == 0:
        vec[zlib.crc32(text.encode()) % dim] = 1.0
    else:
        vec /= norm
    return [round(float(x), 7) for x in vec]


def _authenticate(state: VoyageState, request: Request) -> str:
    auth = request.headers.get("authorization", "")
    scheme, _, key = auth.partition(" ")
    if scheme.lower() != "bearer" or key.strip() not in state.api_keys:
        raise _ApiError(401, "Provided API key is invalid.")
    return key.strip()


def _rate_limit(state: VoyageState, key: str) -> None:
    if state.faults:
        fault = state.faults[0]
        fault.count -= 1
        if fault.count <= 0:
            state.faults.popleft()
        headers = {"retry-after": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        raise _ApiError(fault.status, fault.detail, headers)
    if state.rpm_limit <= 0:
        return
    now = time.monotonic()
    times = state._times.setdefault(key, deque())
    while times and now - times[0] >= 60:
        times.popleft()
    if len(times) >= state.rpm_limit:
        wait = max(1, math.ceil(60 - (now - times[0])))
        raise _ApiError(
            429,
            "You have exceeded your rate limit. Please wait before retrying.",
            {"retry-after": str(wait)},
        )
    times.append(now)


def _validate(body: Any) -> tuple[list[str], VoyageModel, int, bool]:
    if not isinstance(body, dict):
        raise _ApiError(400, "Request body must be a JSON object.")
    raw = body.get("input")
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and all(isinstance(t, str) for t in raw):
        texts = list(raw)
    else:
        raise _ApiError(400, "'input' must be a string or a list of strings.")
    if not texts:
        raise _ApiError(400, "'input' must not be an empty list.")
    if len(texts) > MAX_TEXTS:
        raise _ApiError(400, f"The maximum length of the 'input' list is {MAX_TEXTS}; given {len(texts)}.")
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise _ApiError(400, "'model' is required.")
    model = MODELS.get(name)
    if model is None:
        raise _ApiError(400, f"Model {name} is not supported. Supported models: {', '.join(MODELS)}.")
    input_type = body.get("input_type")
    if input_type not in (None, "query", "document"):
        raise _ApiError(400, "'input_type' must be null, 'query' or 'document'.")
    truncation = body.get("truncation", True)
    if not isinstance(truncation, bool):
        raise _ApiError(400, "'truncation' must be a boolean.")
    dim = body.get("output_dimension")
    if dim is None:
        dim = model.dim
    elif not isinstance(dim, int) or isinstance(dim, bool) or dim not in model.dims:
        raise _ApiError(
            400, f"'output_dimension' {dim!r} is not supported by {name}: one of {list(model.dims)}."
        )
    if body.get("output_dtype", "float") != "float" or body.get("encoding_format") is not None:
        raise _ApiError(400, "Only float embeddings without an encoding_format are emulated.")
    total = 0
    for i, text in enumerate(texts):
        n = estimate_tokens(text)
        if n > model.context and not truncation:
            raise _ApiError(400, f"Input {i} has {n} tokens, over the context length {model.context}.")
        total += min(n, model.context)
    if total > model.batch_tokens:
        raise _ApiError(
            400, f"The batch has {total} tokens, over the limit of {model.batch_tokens} for {name}."
        )
    return texts, model, dim, truncation


def create_voyage_app(state: VoyageState | None = None) -> FastAPI:
    state = state or VoyageState()
    app = FastAPI(title="Voyage AI emulator", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.voyage = state

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> JSONResponse:
        try:
            key = _authenticate(state, request)
            try:
                body = json.loads(await request.body())
            except (ValueError, UnicodeDecodeError):
                raise _ApiError(400, "Request body is not valid JSON.") from None
            state.requests.append(body if isinstance(body, dict) else {"invalid": body})
            _rate_limit(state, key)
            texts, model, dim, truncation = _validate(body)
        except _ApiError as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)
        data = []
        tokens = 0
        for i, text in enumerate(texts):
            n = estimate_tokens(text)
            if truncation and n > model.context:
                text = text[: model.context * 3]
                n = model.context
            tokens += n
            data.append({"object": "embedding", "embedding": embed_text(text, dim), "index": i})
        return JSONResponse(
            {"object": "list", "data": data, "model": model.name, "usage": {"total_tokens": tokens}}
        )

    return app


async def serve_voyage(
    state: VoyageState | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> ServerHandle:
    """Start the emulator; its API base is ``handle.base_url + "/v1"``."""
    return await serve_app(create_voyage_app(state), host=host, port=port)
