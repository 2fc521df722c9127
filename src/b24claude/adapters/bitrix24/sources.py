"""A portal's own documents as knowledge-base sources: a Disk folder, a knowledge base (Sites).

Both implement :class:`~b24claude.ports.knowledge.DocumentSource` over the REST client, so the
knowledge service syncs them like a local folder (``KnowledgeService.sync_source``).

* **Disk** (scope ``disk``): ``disk.folder.get`` checks the folder, ``disk.folder.getchildren``
  lists it page by page (``start``/``next``, 50 a page) and recursively; a file's version stamp is
  its ``GLOBAL_CONTENT_VERSION``, ``UPDATE_TIME`` and ``SIZE``, so an unchanged file is never
  downloaded again. Its ``DOWNLOAD_URL`` (``https://<portal>/rest/download.json?auth=…&token=disk|…``)
  is fetched only when it is on the portal's own origin (``Bitrix24Client.download``); when the
  link has expired, ``disk.file.get`` gives a fresh one, once.
* **Knowledge base** (scope ``landing``): a knowledge base is a site of type ``KNOWLEDGE``; every
  ``landing`` call carries the top-level ``scope: "KNOWLEDGE"`` (api-reference/landing/types.md).
  ``landing.site.getList`` checks the site, ``landing.landing.getList`` lists its published pages
  (``limit``/``offset``: the landing lists do not page with ``start``), ``landing.block.getlist``
  with ``get_content`` gives each page's published blocks as HTML, which the HTML reader parses.
  Pages have no content version in the API, so a page is fetched on every sync and compared by
  its bytes. Menu blocks (``code`` with ``menu``) are navigation, not content, and are left out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from b24claude.errors import Bitrix24AuthError, Bitrix24Error
from b24claude.ports.knowledge import DocumentError, RemoteDocument

from .client import Bitrix24Client

log = logging.getLogger("b24claude.bitrix24")

MAX_DOCUMENTS = 10_000  # a listing larger than this is refused rather than walked forever
MAX_DEPTH = 32
LANDING_PAGE = 50
KNOWLEDGE_SCOPE = "KNOWLEDGE"
_UNSAFE_NAME = re.compile(r'[\\/\x00-\x1f<>:"|?*]+')


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _reason(exc: Bitrix24Error) -> str:
    return f"{exc.code or 'error'}: {exc.message}" if exc.code else exc.message


class BitrixDiskSource:
    """The files under one Disk folder of a portal, sub-folders included."""

    def __init__(self, client: Bitrix24Client, member_id: str, folder_id: int) -> None:
        self._client = client
        self._member_id = member_id
        self._folder_id = folder_id
        self._urls: dict[str, str] = {}

    @property
    def prefix(self) -> str:
        return f"b24disk://{self._folder_id}/"

    async def listing(self) -> Sequence[RemoteDocument]:
        root = await self._client.call(self._member_id, "disk.folder.get", {"id": self._folder_id})
        if not isinstance(root.result, Mapping) or str(root.result.get("TYPE")) != "folder":
            raise Bitrix24Error(f"disk object {self._folder_id} is not a folder", code="ERROR_NOT_FOUND")
        out: list[RemoteDocument] = []
        pending: list[tuple[int, str, int]] = [(self._folder_id, "", 0)]
        seen = {self._folder_id}
        while pending:
            folder_id, rel, depth = pending.pop(0)
            async for item in self._client.iter_list(
                self._member_id, "disk.folder.getchildren", {"id": folder_id}, fast=False
            ):
                if not isinstance(item, Mapping) or str(item.get("DELETED_TYPE", "0")) != "0":
                    continue
                name = str(item.get("NAME") or "")
                ident = _int(item.get("ID"))
                if ident is None or not name:
                    continue
                if item.get("TYPE") == "folder":
                    if ident not in seen and depth < MAX_DEPTH:
                        seen.add(ident)
                        pending.append((ident, f"{rel}{name}/", depth + 1))
                    continue
                size = _int(item.get("SIZE"))
                stamp = "|".join(
                    str(item.get(k) or "")
                    for k in ("GLOBAL_CONTENT_VERSION", "UPDATE_TIME", "SIZE", "FILE_ID")
                )
                out.append(
                    RemoteDocument(path=rel + name, ref=str(ident), size=size, version=f"disk:{stamp}")
                )
                url = item.get("DOWNLOAD_URL")
                if isinstance(url, str) and url:
                    self._urls[str(ident)] = url
                if len(out) > MAX_DOCUMENTS:
                    raise Bitrix24Error(
                        f"the folder holds more than {MAX_DOCUMENTS} files", code="TOO_MANY_DOCUMENTS"
                    )
        return out

    async def fetch(self, doc: RemoteDocument, *, max_bytes: int) -> bytes:
        url = self._urls.get(doc.ref)
        try:
            if url is None:
                url = await self._fresh_url(doc.ref)
            try:
                return await self._client.download(self._member_id, url, max_bytes=max_bytes)
            except Bitrix24AuthError as exc:
                if exc.code == "UNSAFE_URL" or exc.status != 401:
                    raise
                # The link's own access token expired while we worked through the folder.
                return await self._client.download(
                    self._member_id, await self._fresh_url(doc.ref), max_bytes=max_bytes
                )
        except Bitrix24Error as exc:
            if exc.code == "UNSAFE_URL":
                raise DocumentError(
                    f"the download link is not on the portal's own domain, refused / "
                    f"ссылка на скачивание ведёт не на домен портала, отклонена ({exc.message})"
                ) from None
            raise DocumentError(
                f"cannot download from the portal / не удалось скачать с портала: {_reason(exc)}"
            ) from None

    async def _fresh_url(self, ref: str) -> str:
        file = await self._client.call(self._member_id, "disk.file.get", {"id": int(ref)})
        url = file.result.get("DOWNLOAD_URL") if isinstance(file.result, Mapping) else None
        if not isinstance(url, str) or not url:
            raise Bitrix24Error(f"disk file {ref} has no DOWNLOAD_URL", code="ERROR_NOT_FOUND")
        return url


class BitrixKnowledgeSource:
    """The published pages of one knowledge base (a ``KNOWLEDGE`` site of the Sites module)."""

    def __init__(self, client: Bitrix24Client, member_id: str, site_id: int) -> None:
        self._client = client
        self._member_id = member_id
        self._site_id = site_id
        self._titles: dict[str, str] = {}

    @property
    def prefix(self) -> str:
        return f"b24kb://{self._site_id}/"

    async def listing(self) -> Sequence[RemoteDocument]:
        sites = await self._client.call(
            self._member_id,
            "landing.site.getList",
            {
                "scope": KNOWLEDGE_SCOPE,
                "params": {
                    "select": ["ID", "TITLE", "TYPE"],
                    "filter": {"ID": self._site_id, "TYPE": KNOWLEDGE_SCOPE},
                },
            },
        )
        if not isinstance(sites.result, list) or not sites.result:
            raise Bitrix24Error(f"no knowledge base with id {self._site_id}", code="SITE_NOT_FOUND")
        out: list[RemoteDocument] = []
        offset = 0
        while True:
            page = await self._client.call(
                self._member_id,
                "landing.landing.getList",
                {
                    "scope": KNOWLEDGE_SCOPE,
                    "params": {
                        "select": ["ID", "TITLE", "ACTIVE", "DATE_MODIFY"],
                        "filter": {"SITE_ID": self._site_id, "ACTIVE": "Y"},
                        "order": {"ID": "ASC"},
                        "limit": LANDING_PAGE,
                        "offset": offset,
                    },
                },
            )
            rows = page.result if isinstance(page.result, list) else []
            for row in rows:
                ident = _int(row.get("ID")) if isinstance(row, Mapping) else None
                if ident is None:
                    continue
                title = str(row.get("TITLE") or "").strip() or f"page {ident}"
                self._titles[str(ident)] = title
                name = _UNSAFE_NAME.sub("-", title).strip(" .-") or f"page-{ident}"
                out.append(RemoteDocument(path=f"{ident}/{name}.html", ref=str(ident)))
            if len(rows) < LANDING_PAGE or len(out) > MAX_DOCUMENTS:
                return out
            offset += LANDING_PAGE

    async def fetch(self, doc: RemoteDocument, *, max_bytes: int) -> bytes:
        try:
            blocks = await self._client.call(
                self._member_id,
                "landing.block.getlist",
                {"scope": KNOWLEDGE_SCOPE, "lid": int(doc.ref), "params": {"get_content": True}},
            )
        except Bitrix24Error as exc:
            raise DocumentError(
                f"cannot read the page from the portal / не удалось прочитать страницу: {_reason(exc)}"
            ) from None
        parts = [
            str(b.get("content") or "")
            for b in (blocks.result if isinstance(blocks.result, list) else [])
            if isinstance(b, Mapping) and b.get("active", True) and "menu" not in str(b.get("code") or "")
        ]
        if not any(p.strip() for p in parts):
            raise DocumentError("the page has no published text / на странице нет опубликованного текста")
        title = escape(self._titles.get(doc.ref, ""))
        html = f"<html><head><title>{title}</title></head><body>{''.join(parts)}</body></html>"
        return html.encode("utf-8")[: max_bytes + 1]
