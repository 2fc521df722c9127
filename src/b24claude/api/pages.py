"""The app's pages, server-rendered with Jinja2 (autoescaped), in one language at a time.

The app page is one shell with one navigation; each section is an entry of :data:`SECTIONS` and a
template ``section_<key>.html``. Pages of other features (knowledge base, moderation, dashboard)
slot in by adding an entry and its template; the navigation and the client script pick them up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from b24claude.api.i18n import TEXT, page_lang
from b24claude.ports.privacy import PII_TYPES, ConsentRecord

_ENV = Environment(
    loader=PackageLoader("b24claude.api", "templates"),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

# What the page's script needs to say (the field-error messages and the save states).
_CLIENT_WORDS = (
    "saving",
    "saved",
    "saved_at",
    "nothing_changed",
    "not_saved",
    "forbidden",
    "session_expired",
    "failed",
    "granted_yes",
    "granted_no",
)


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    title: str  # a key of i18n.TEXT
    template: str


SECTIONS: tuple[Section, ...] = (
    Section("overview", "section_overview", "section_overview.html"),
    Section("bot", "section_bot", "section_bot.html"),
    Section("lines", "section_lines", "section_lines.html"),
    Section("privacy", "section_privacy", "section_privacy.html"),
    Section("consents", "section_consents", "section_consents.html"),
)
SECTION_KEYS = frozenset(s.key for s in SECTIONS)


def _words(lang: str) -> dict[str, str]:
    return TEXT[page_lang(lang)]


def _client_words(words: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in words.items() if k in _CLIENT_WORDS or k.startswith("err_")}


@dataclass(frozen=True, slots=True)
class LineView:
    id: int
    name: str
    active: bool


def render_app(
    *,
    lang: str,
    token: str,
    nonce: str,
    bx24_js: str,
    user_name: str,
    is_admin: bool,
    domain: str,
    section: str,
    settings: Mapping[str, Any],
    defaults: Mapping[str, str],
    lines: Sequence[LineView] | None,
    consents: Sequence[ConsentRecord],
) -> str:
    words = _words(lang)
    privacy = settings["privacy"]
    return _ENV.get_template("app.html").render(
        lang=page_lang(lang),
        w=words,
        client_words=_client_words(words),
        token=token,
        nonce=nonce,
        bx24_js=bx24_js,
        user_name=user_name,
        is_admin=is_admin,
        domain=domain,
        sections=SECTIONS,
        current=section if section in SECTION_KEYS else "overview",
        bot=settings["bot"],
        privacy=privacy,
        retention=privacy["retention"],
        pii_types=PII_TYPES,
        defaults=defaults,
        lines=lines,
        consents=[
            {
                "client_key": c.client_key,
                "granted": c.granted,
                "source": c.source,
                "updated": dt.datetime.fromtimestamp(c.updated_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            }
            for c in consents
        ],
    )


def render_installer(*, lang: str, nonce: str, bx24_js: str) -> str:
    return _ENV.get_template("installer.html").render(
        lang=page_lang(lang), w=_words(lang), nonce=nonce, bx24_js=bx24_js, token=""
    )


def render_error(status: int, reason: str, *, lang: str) -> str:
    words = _words(lang)
    key = f"error_{status}" if f"error_{status}" in words else ("error_503" if status >= 500 else "error_400")
    return _ENV.get_template("error.html").render(
        lang=page_lang(lang), w=words, text=words[key], reason=reason, token="", bx24_js="", nonce=""
    )
