"""REST routing: parameter parsing, auth, limits, faults, envelope, errors and ``batch``."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from b24claude.kit import phpform

from .base import JSON, Caller, MethodSpec, Paged, RestError, param, php_array, yes

if TYPE_CHECKING:
    from .state import PortalState

log = logging.getLogger(__name__)
MAX_BATCH = 50
_REF = re.compile(
    r"\$(result|result_error|result_total|result_next|result_time)\[([^\[\]]+)\]((?:\[[^\[\]]*\])*)"
)
_REF_PART = re.compile(r"\[([^\[\]]*)\]")


def all_methods() -> dict[str, MethodSpec]:
    from . import auth, bots, commands, crm, disk, events, im, landing, offline, openlines, placements, tasks

    table: dict[str, MethodSpec] = {}
    for registry in (
        auth.methods,
        events.methods,
        offline.methods,
        crm.methods,
        im.methods,
        bots.methods,
        commands.methods,
        openlines.methods,
        placements.methods,
        tasks.methods,
        disk.methods,
        landing.methods,
    ):
        table.update(registry.methods)
    return table


_TABLE: dict[str, MethodSpec] | None = None


def lookup(method: str) -> MethodSpec:
    global _TABLE
    if _TABLE is None:
        _TABLE = all_methods()
    spec = _TABLE.get(method.lower())
    if spec is None:
        raise RestError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
    return spec


async def read_params(request: Request) -> JSON:
    params: JSON = phpform.parse(request.query_params.multi_items())
    body = await request.body()
    if not body:
        return params
    ctype = request.headers.get("content-type", "").lower()
    if "json" in ctype:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise RestError(400, "INVALID_REQUEST", "Invalid JSON body") from exc
        if not isinstance(data, dict):
            raise RestError(400, "INVALID_REQUEST", "JSON body must be an object")
        params.update(data)
    elif "multipart/form-data" in ctype:
        form = await request.form()
        params.update(phpform.parse((k, v) for k, v in form.multi_items() if isinstance(v, str)))
    else:
        params.update(phpform.parse_body(body))
    return params


def _fault_for(state: PortalState, method: str) -> RestError | None:
    for fault in state.faults:
        if fault.times > 0 and fault.method in (None, method):
            fault.times -= 1
            state.faults = [f for f in state.faults if f.times > 0]
            state.stats.faults_injected += 1
            return RestError(fault.status, fault.error, fault.description)
    return None


def _check_access(spec: MethodSpec, caller: Caller) -> None:
    if spec.app_only and caller.kind != "oauth":
        raise RestError(403, "WRONG_AUTH_TYPE", "Current authorization type is denied for this method")
    if spec.scopes and not any(s in caller.scopes for s in spec.scopes):
        raise RestError(
            403,
            "insufficient_scope",
            "The request requires higher privileges than provided by the webhook token",
        )


async def run_method(state: PortalState, caller: Caller, method: str, params: JSON) -> tuple[Any, JSON]:
    """One method call (top level or inside batch): access, operating limit, latency, timing."""
    spec = lookup(method)
    _check_access(spec, caller)
    key = caller.limit_key
    state.limiter.check_operating(key, spec.name.lower())
    start = state.now()
    perf = time.perf_counter()
    if state.config.latency_s > 0:
        await asyncio.sleep(state.config.latency_s)
    try:
        result = await spec.handler(state, caller, params)
    finally:
        processing = time.perf_counter() - perf
        state.limiter.record_operating(key, spec.name.lower(), processing)
    return result, state.limiter.time_block(start, processing, key, spec.name.lower())


async def call(state: PortalState, method: str, params: JSON, webhook: tuple[str, str] | None) -> JSON:
    """A top-level REST call; returns the envelope or raises :class:`RestError`."""
    method = method.lower().removesuffix(".json")
    state.stats.rest_calls += 1
    state.stats.count_method(method)
    state.limiter.hit()
    fault = _fault_for(state, method)
    if fault is not None:
        raise fault
    if method != "batch":
        lookup(method)  # unknown method -> 404 before auth
    from .auth import authenticate

    caller = authenticate(state, params, webhook)
    if method == "batch":
        start = state.now()
        perf = time.perf_counter()
        result = await run_batch(state, caller, params)
        return {"result": result, "time": state.limiter.time_block(start, time.perf_counter() - perf)}
    result, time_block = await run_method(state, caller, method, params)
    return envelope(result, time_block)


def envelope(result: Any, time_block: JSON) -> JSON:
    if isinstance(result, Paged):
        body: JSON = {"result": result.result}
        if result.next is not None:
            body["next"] = result.next
        if result.total is not None:
            body["total"] = result.total
        body["time"] = time_block
        return body
    return {"result": result, "time": time_block}


async def handle(
    state: PortalState, request: Request, method: str, webhook: tuple[str, str] | None = None
) -> JSONResponse:
    state.stats.http_requests += 1
    if state.seen_base_url is None:
        state.seen_base_url = str(request.base_url).rstrip("/")
    try:
        params = await read_params(request)
        body = await call(state, method, params, webhook)
    except RestError as exc:
        state.stats.count_error(exc.error)
        return JSONResponse(exc.body(), status_code=exc.status)
    except phpform.FormError as exc:
        state.stats.count_error("INVALID_REQUEST")
        return JSONResponse({"error": "INVALID_REQUEST", "error_description": str(exc)}, status_code=400)
    except ClientDisconnect:  # the caller went away mid-request (a poll cut at shutdown): nobody to answer
        return JSONResponse({}, status_code=499)
    except Exception:  # an emulator bug must still answer like Bitrix would
        log.exception("sandbox.portal.crashed", extra={"method": method})
        state.stats.count_error("INTERNAL_SERVER_ERROR")
        return JSONResponse(
            {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}, status_code=500
        )
    return JSONResponse(body)


# ----- batch --------------------------------------------------------------------------------------
def _commands(cmd: Any) -> list[tuple[str, str]]:
    if isinstance(cmd, list):
        return [(str(i), str(v)) for i, v in enumerate(cmd)]
    if isinstance(cmd, dict):
        return [(str(k), str(v)) for k, v in cmd.items()]
    raise RestError(400, "ERROR_BATCH_EMPTY", "Batch is empty")


def _resolve(sections: dict[str, dict[str, Any]], match: re.Match[str]) -> str:
    value: Any = sections[match.group(1)].get(match.group(2))
    for part in _REF_PART.findall(match.group(3)):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            value = None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


async def run_batch(state: PortalState, caller: Caller, params: JSON) -> JSON:
    """``batch``: sequential sub-calls, ``$result[...]`` references, ``halt`` (§3.5)."""
    commands = _commands(param(params, "cmd"))
    if not commands:
        raise RestError(400, "ERROR_BATCH_EMPTY", "Batch is empty")
    if len(commands) > MAX_BATCH:
        raise RestError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
    parsed: list[tuple[str, str, str]] = []
    for key, value in commands:
        method, _, query = value.partition("?")
        method = method.strip().lower().removesuffix(".json")
        if method == "batch":
            raise RestError(405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage")
        parsed.append((key, method, query))
    halt = yes(param(params, "halt", 0))
    sections: dict[str, dict[str, Any]] = {
        "result": {},
        "result_error": {},
        "result_total": {},
        "result_next": {},
        "result_time": {},
    }
    for key, method, query in parsed:
        state.stats.batch_subcalls += 1
        state.stats.count_method(method)
        try:
            pairs = [
                (k, _REF.sub(lambda m: _resolve(sections, m), v))
                for k, v in parse_qsl(query, keep_blank_values=True)
            ]
            sub_params = phpform.parse(pairs)
            fault = _fault_for(state, method)
            if fault is not None:
                raise fault
            result, time_block = await run_method(state, caller, method, sub_params)
        except (RestError, phpform.FormError) as exc:
            err = exc if isinstance(exc, RestError) else RestError(400, "INVALID_REQUEST", str(exc))
            state.stats.count_error(err.error)
            sections["result_error"][key] = err.body()
            if halt:
                break
            continue
        if isinstance(result, Paged):
            sections["result"][key] = result.result
            if result.total is not None:
                sections["result_total"][key] = result.total
            if result.next is not None:
                sections["result_next"][key] = result.next
        else:
            sections["result"][key] = result
        sections["result_time"][key] = time_block
    return {name: php_array(section) for name, section in sections.items()}
