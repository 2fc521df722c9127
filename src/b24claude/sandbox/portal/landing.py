"""Sites (scope ``landing``): knowledge bases, their pages and the pages' blocks.

Per bitrix24/b24restdocs api-reference/landing: a knowledge base is a site of ``TYPE``
``KNOWLEDGE``; without the top-level ``scope`` parameter the methods see only ``PAGE``/``STORE``/
``SMN`` sites, with ``scope: "KNOWLEDGE"`` only knowledge bases (types.md). ``landing.site.getList``
and ``landing.landing.getList`` take ``params.select/filter/order`` (the pages also ``limit``/
``offset``; no ``start``/``next`` paging); sites and pages in the trash (``DELETED = "Y"``) are not
listed. ``landing.block.getlist`` takes ``lid`` (one id or a list) and ``params.get_content`` /
``edit_mode``; it reads the published version unless ``edit_mode``, so an unpublished page gives
``[]``. Errors: ``MISSING_PARAMS`` (no ``lid``), ``LANDING_NOT_EXIST`` (a page not found, deleted or
of another scope). Dates are strings in the portal's regional format (``DD.MM.YYYY HH:MM:SS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .base import JSON, Caller, Registry, RestError, as_int, as_list, param, yes

if TYPE_CHECKING:
    from .state import PortalState

methods = Registry()
SPECIAL_SCOPES = ("KNOWLEDGE", "GROUP", "MAINPAGE")
PLAIN_TYPES = ("PAGE", "STORE", "SMN")


@dataclass
class Block:
    id: int
    lid: int
    code: str
    content: str  # the published HTML of the block
    draft: str = ""  # the draft (edit_mode), "" = same as published
    active: bool = True
    modified: float = 0.0


@dataclass
class LandingState:
    sites: dict[int, JSON] = field(default_factory=dict)
    pages: dict[int, JSON] = field(default_factory=dict)
    blocks: dict[int, Block] = field(default_factory=dict)
    _next: int = 1

    def _id(self) -> int:
        value = self._next
        self._next += 1
        return value


def _date(state: PortalState, ts: float) -> str:
    tz = timezone(timedelta(hours=state.config.utc_offset_hours))
    return datetime.fromtimestamp(ts, tz).strftime("%d.%m.%Y %H:%M:%S")


def add_site(state: PortalState, title: str, *, type_: str = "KNOWLEDGE") -> int:
    land: LandingState = state.landing
    ident = land._id()
    now = _date(state, state.now())
    land.sites[ident] = {
        "ID": str(ident),
        "TITLE": title,
        "CODE": f"/kb{ident}/",
        "TYPE": type_,
        "ACTIVE": "Y",
        "DELETED": "N",
        "DESCRIPTION": "",
        "LANG": state.config.language,
        "DOMAIN_ID": "1",
        "CREATED_BY_ID": "1",
        "MODIFIED_BY_ID": "1",
        "DATE_CREATE": now,
        "DATE_MODIFY": now,
    }
    return ident


def add_page(state: PortalState, site_id: int, title: str, *, active: bool = True) -> int:
    land: LandingState = state.landing
    ident = land._id()
    now = _date(state, state.now())
    land.pages[ident] = {
        "ID": str(ident),
        "TITLE": title,
        "CODE": f"page{ident}",
        "SITE_ID": str(site_id),
        "ACTIVE": "Y" if active else "N",
        "DELETED": "N",
        "PUBLIC": "Y" if active else "N",
        "DESCRIPTION": "",
        "CREATED_BY_ID": "1",
        "MODIFIED_BY_ID": "1",
        "DATE_CREATE": now,
        "DATE_MODIFY": now,
        "DATE_PUBLIC": now,
        "DOMAIN_ID": "1",
    }
    return ident


def add_block(state: PortalState, page_id: int, html: str, *, code: str = "27.one_col_fix_text") -> int:
    land: LandingState = state.landing
    ident = land._id()
    land.blocks[ident] = Block(ident, page_id, code, html, modified=state.now())
    land.pages[page_id]["DATE_MODIFY"] = _date(state, state.now())
    return ident


def set_block(state: PortalState, block_id: int, html: str) -> None:
    """Edit and publish a block: its page's ``DATE_MODIFY`` moves too."""
    block = state.landing.blocks[block_id]
    block.content, block.draft, block.modified = html, "", state.now()
    state.landing.pages[block.lid]["DATE_MODIFY"] = _date(state, state.now())


def _scope(params: JSON) -> str | None:
    value = params.get("scope")
    return str(value).upper() if isinstance(value, str) and value else None


def _visible_type(site: JSON, scope: str | None) -> bool:
    if scope in SPECIAL_SCOPES:
        return bool(site["TYPE"] == scope)
    return site["TYPE"] in PLAIN_TYPES


def _matches(record: JSON, flt: Any) -> bool:
    if not isinstance(flt, dict):
        return True
    for key, want in flt.items():
        name = str(key).lstrip("=")
        if "." in name or name == "CHECK_PERMISSIONS":
            continue  # ignored, as documented
        if isinstance(want, list):
            if str(record.get(name)) not in [str(w) for w in want]:
                return False
        elif str(record.get(name)) != str(want):
            return False
    return True


def _sort_key(field: str) -> Callable[[JSON], Any]:
    def key(record: JSON) -> Any:
        value = record.get(field)
        return as_int(value, 0) if field == "ID" else str(value or "")

    return key


def _query(rows: list[JSON], query: JSON, *, paging: bool) -> list[JSON]:
    flt = query.get("filter")
    wants_deleted = isinstance(flt, dict) and any(str(k).lstrip("=") == "DELETED" for k in flt)
    out = [r for r in rows if (wants_deleted or r.get("DELETED") == "N") and _matches(r, flt)]
    order = query.get("order")
    if isinstance(order, dict) and order:
        for key, direction in reversed(list(order.items())):
            out.sort(key=_sort_key(str(key)), reverse=str(direction).upper() == "DESC")
    if paging:
        offset = max(0, as_int(query.get("offset"), 0))
        limit = as_int(query.get("limit"), 0)
        out = out[offset : offset + limit] if limit > 0 else out[offset:]
    select = as_list(query.get("select"))
    if select and "*" not in select:
        names = [str(s) for s in select if "." not in str(s)]
        if paging:
            names.append("DOMAIN_ID")  # a page's DOMAIN_ID comes whatever the select
        out = [{k: r[k] for k in names if k in r} for r in out]
    return out


@methods.add("landing.site.getList", scope="landing")
async def site_getlist(state: PortalState, caller: Caller, params: JSON) -> Any:
    scope = _scope(params)
    query = param(params, "params") or {}
    rows = [s for s in state.landing.sites.values() if _visible_type(s, scope)]
    return _query(rows, query if isinstance(query, dict) else {}, paging=False)


@methods.add("landing.landing.getList", scope="landing")
async def landing_getlist(state: PortalState, caller: Caller, params: JSON) -> Any:
    scope = _scope(params)
    query = param(params, "params") or {}
    sites = state.landing.sites
    rows = [
        p
        for p in state.landing.pages.values()
        if (site := sites.get(as_int(p["SITE_ID"]))) is not None
        and site["DELETED"] == "N"
        and _visible_type(site, scope)
    ]
    return _query(rows, query if isinstance(query, dict) else {}, paging=True)


@methods.add("landing.block.getlist", scope="landing")
async def block_getlist(state: PortalState, caller: Caller, params: JSON) -> Any:
    raw = param(params, "lid")
    if raw is None or raw == "":
        raise RestError(400, "MISSING_PARAMS", "Missing required parameter: lid")
    lids = [as_int(v, -1) for v in as_list(raw)]
    scope = _scope(params)
    opts = param(params, "params") or {}
    opts = opts if isinstance(opts, dict) else {}
    edit_mode = yes(opts.get("edit_mode", False))
    get_content = yes(opts.get("get_content", False))
    out: list[JSON] = []
    for lid in lids:
        page = state.landing.pages.get(lid)
        site = state.landing.sites.get(as_int(page["SITE_ID"])) if page else None
        if page is None or site is None or page["DELETED"] == "Y" or not _visible_type(site, scope):
            raise RestError(400, "LANDING_NOT_EXIST", "Landing not found")
        if not edit_mode and page["ACTIVE"] != "Y":
            continue  # not published: nothing in the published version
        for block in sorted((b for b in state.landing.blocks.values() if b.lid == lid), key=lambda b: b.id):
            item: JSON = {
                "id": block.id,
                "lid": block.lid,
                "code": block.code,
                "name": block.code,
                "active": block.active,
                "meta": {
                    "LID": str(block.lid),
                    "DATE_MODIFY": _date(state, block.modified),
                    "SITE_TYPE": site["TYPE"],
                    "LANDING_TITLE": page["TITLE"],
                    "XML_ID": "",
                },
            }
            if get_content:
                html = block.draft if edit_mode and block.draft else block.content
                css_class = "block-" + block.code.replace(".", "-").replace("_", "-")
                item["content"] = f'<div id="b{block.id}" class="block-wrapper {css_class}">{html}</div>'
                item["css"] = []
                item["js"] = []
            out.append(item)
    return out
