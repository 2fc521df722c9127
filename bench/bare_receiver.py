"""The baseline of bench_ingress: a bare Starlette receiver doing the same durable insert.

No verification, no envelope model, no portal lookup, no worker: read the form, take the message id,
store the event through the product's own inbox repository (SQLite WAL, the same group commit),
answer 200 once it is committed. Whatever the product does beyond this is the cost of checking.

    python -m bench.bare_receiver DATABASE_URL PORT
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from b24claude.adapters.sql import SqlStore
from b24claude.ports.store import NewInboxItem


def make_app(database_url: str) -> Starlette:
    state: dict[str, SqlStore] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        state["store"] = await SqlStore.open(database_url)
        try:
            yield
        finally:
            await state["store"].close()

    async def events(request: Request) -> JSONResponse:
        fields = dict(parse_qsl((await request.body()).decode("utf-8")))
        member_id = fields.get("auth[member_id]", "")
        message_id = fields.get("data[PARAMS][MESSAGE_ID]", "")
        dialog = fields.get("data[PARAMS][DIALOG_ID]", "")
        item = NewInboxItem(
            member_id, f"v1:ONIMBOTMESSAGEADD:{message_id}", "ONIMBOTMESSAGEADD", fields, dialog
        )
        (inserted,) = await state["store"].inbox.add_many([item])
        return JSONResponse({"result": "stored" if inserted else "duplicate"})

    return Starlette(routes=[Route("/b24/events", events, methods=["POST"])], lifespan=lifespan)


if __name__ == "__main__":
    url, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(make_app(url), host="127.0.0.1", port=port, log_level="warning", access_log=False)
