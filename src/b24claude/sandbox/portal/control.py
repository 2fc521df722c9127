"""The ``/_sandbox`` control API: drive and inspect the portal over HTTP (``b24claude sandbox portal``).

A bad control request is answered 400 with a reason, never 500.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from .state import PortalState

Endpoint = Callable[[Request], Awaitable[Any]]


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _guard(fn: Endpoint) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def wrapped(request: Request) -> JSONResponse:
        try:
            result = await fn(request)
        except (ValueError, KeyError, TypeError, LookupError) as exc:
            return JSONResponse(
                {"error": "BAD_CONTROL_REQUEST", "reason": f"{type(exc).__name__}: {exc}"}, status_code=400
            )
        return JSONResponse(result)

    return wrapped


def build_router(state: PortalState) -> APIRouter:
    router = APIRouter(prefix="/_sandbox")

    async def customer_message(request: Request) -> Any:
        body = await _body(request)
        text = body.get("text", "")
        files = body.get("files") or []
        if not isinstance(files, list) or not all(isinstance(f, dict) and f.get("name") for f in files):
            raise ValueError("'files' must be a list of objects with a 'name'")
        if not isinstance(text, str) or not (text or files):
            raise ValueError("'text' (non-empty string) is required, unless 'files' are sent")
        customer = body.get("customer", "anna")
        if not isinstance(customer, str | dict):
            raise ValueError("'customer' must be a key or an object with name/phone/email")
        msg = await state.customer_writes(
            text,
            customer,
            line_id=int(body.get("line_id", 1)),
            channel=str(body.get("channel", "livechat")),
            files=files,
        )
        return msg.to_dict()

    async def employee_message(request: Request) -> Any:
        body = await _body(request)
        bot_id = body.get("bot_id")
        chat_id = body.get("chat_id")
        msg = await state.employee_writes(
            str(body["text"]),
            user_id=int(body.get("user_id", 1)),
            bot_id=int(bot_id) if bot_id is not None else None,
            chat_id=int(chat_id) if chat_id is not None else None,
        )
        return msg.to_dict()

    async def press_button(request: Request) -> Any:
        body = await _body(request)
        button = body.get("button")
        if not isinstance(button, str | int) or isinstance(button, bool):
            raise ValueError("'button' (its text or index) is required")
        return state.press_button(int(body["message_id"]), button, user_id=int(body["user_id"]))

    async def chat_messages(request: Request) -> Any:
        chat_id = int(request.path_params["chat_id"])
        if chat_id not in state.chats:
            raise KeyError(f"no chat {chat_id}")
        if request.query_params.get("view") == "customer":
            return {"chat_id": chat_id, "messages": state.customer_view(chat_id)}
        return {"chat_id": chat_id, "messages": state.chat_messages(chat_id)}

    async def chats(request: Request) -> Any:
        return [
            {
                "id": c.id,
                "type": c.type,
                "title": c.title,
                "entity_id": c.entity_id,
                "entity_data_1": c.entity_data_1,
                "entity_data_2": c.entity_data_2,
                "members": c.members,
            }
            for c in state.chats.values()
        ]

    async def crm_writes(request: Request) -> Any:
        return [w.to_dict() for w in state.crm_writes]

    async def stats(request: Request) -> Any:
        return {
            **state.stats.snapshot(),
            "deliveries": len(state.delivery_log),
            "deliveries_failed": sum(1 for d in state.delivery_log if d.error),
        }

    async def deliveries(request: Request) -> Any:
        return [d.to_dict() for d in state.delivery_log]

    async def config(request: Request) -> Any:
        body = await _body(request)
        state.configure(**body)
        return {k: v for k, v in asdict(state.config).items() if k != "clock"}

    async def expire_tokens(request: Request) -> Any:
        return {"expired": state.expire_tokens()}

    async def faults(request: Request) -> Any:
        body = await _body(request)
        fault = state.inject_fault(
            method=body.get("method"),
            status=int(body.get("status", 500)),
            error=str(body.get("error", "INTERNAL_SERVER_ERROR")),
            description=str(body.get("description", "Internal server error")),
            times=int(body.get("times", 1)),
        )
        return asdict(fault)

    async def install(request: Request) -> Any:
        body = await _body(request)
        scopes = body.get("scopes")
        if scopes is not None and not isinstance(scopes, list):
            raise ValueError("'scopes' must be a list")
        result = await state.install_app(
            client_id=str(body["client_id"]),
            client_secret=str(body["client_secret"]),
            install_url=body.get("install_url"),
            scopes=scopes,
            language=str(body.get("language", "ru")),
            with_ui=bool(body.get("with_ui", False)),
            handler_url=str(body["handler_url"]) if body.get("handler_url") else None,
        )
        return asdict(result)

    async def install_finish(request: Request) -> Any:
        """What BX24.installFinish() in the installer frame makes the portal do."""
        body = await _body(request)
        finished = state.install_finish(str(body["client_id"]))
        await state.deliverer.drain()  # ONAPPINSTALL has reached the app before the frame reloads
        return {"finished": finished}

    async def menu(request: Request) -> Any:
        """The widgets the interface shows at a placement (default: the left menu), in one language."""
        from .placements import shown_placements

        code = request.query_params.get("placement", "LEFT_MENU").upper()
        lang = request.query_params.get("lang", state.config.language)
        return [
            {"id": p.id, "client_id": p.client_id, "title": p.title_in(lang), "handler": p.handler}
            for p in shown_placements(state, code)
        ]

    async def webhooks(request: Request) -> Any:
        body = await _body(request)
        scopes = body.get("scopes")
        if scopes is not None and not isinstance(scopes, list):
            raise ValueError("'scopes' must be a list")
        user_id = int(body.get("user_id", 1))
        if user_id not in state.users:
            raise KeyError(f"no user {user_id}")
        code = state.create_webhook(user_id, scopes)
        return {"code": code, "user_id": user_id, "url": f"{state.base_url}/rest/{user_id}/{code}/"}

    async def auth_code(request: Request) -> Any:
        body = await _body(request)
        client_id = str(body["client_id"])
        if client_id not in state.apps:
            raise KeyError(f"no app {client_id}")
        return {"code": state.issue_auth_code(client_id, int(body.get("user_id", 1)))}

    async def frame(request: Request) -> Any:
        """The frame POST of a user opening the app: ``{query, form}`` to send to the app page."""
        body = await _body(request)
        options = body.get("placement_options")
        if options is not None and not isinstance(options, dict):
            raise ValueError("'placement_options' must be an object")
        post = state.open_app_frame(
            str(body["client_id"]),
            int(body.get("user_id", 1)),
            placement=str(body.get("placement", "DEFAULT")),
            placement_options=options,
            lang=str(body["lang"]) if body.get("lang") else None,
        )
        return {"query": post.query, "form": post.form, "user_id": post.user_id}

    async def users(request: Request) -> Any:
        body = await _body(request)
        first = body.get("first_name")
        if not isinstance(first, str) or not first:
            raise ValueError("'first_name' (non-empty string) is required")
        uid = state.add_employee(first, str(body.get("last_name", "")), admin=bool(body.get("admin", False)))
        return {"id": uid, "admin": bool(state.users[uid]["_ADMIN"])}

    routes: list[tuple[str, str, Endpoint]] = [
        ("/customer-message", "POST", customer_message),
        ("/employee-message", "POST", employee_message),
        ("/press-button", "POST", press_button),
        ("/chats", "GET", chats),
        ("/chats/{chat_id}/messages", "GET", chat_messages),
        ("/crm-writes", "GET", crm_writes),
        ("/stats", "GET", stats),
        ("/deliveries", "GET", deliveries),
        ("/config", "POST", config),
        ("/expire-tokens", "POST", expire_tokens),
        ("/faults", "POST", faults),
        ("/install", "POST", install),
        ("/install-finish", "POST", install_finish),
        ("/menu", "GET", menu),
        ("/webhooks", "POST", webhooks),
        ("/auth-code", "POST", auth_code),
        ("/frame", "POST", frame),
        ("/users", "POST", users),
    ]
    for path, verb, fn in routes:
        router.add_api_route(path, _guard(fn), methods=[verb])
    return router
