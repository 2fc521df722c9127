"""The portal's own interface around an application, as a browser sees it (headless tests, demo).

``GET /_sandbox/ui?user_id=&lang=`` is a portal page with the left menu: the ``LEFT_MENU`` widgets
of apps whose install is finished (api-reference/widgets/left-menu.md). ``GET /_sandbox/ui/app/{id}``
opens an application as Bitrix24 does (settings/app-installation/installation-finish.md): for an
admin, while the install is not finished, the page of "Initial installation path"; for anyone
else a notice that the app is not fully installed; afterwards the page of "Your handler path".
``GET /_sandbox/ui/placement/{id}`` opens a widget. Each puts the app page in a frame and POSTs the
frame form into it (the fields of :func:`.auth.frame_post`), and answers the frame's BX24.js over
``postMessage`` (``getInitData``, ``setInstallFinish``, ``resizeWindow``, ``setTitle``).

``GET /bitrix/js/rest/bx24.js`` serves the frame library itself, from the portal's own host.

The user is named in the query (``user_id``): the emulator has no sign-in of its own.
"""

from __future__ import annotations

import json
from html import escape
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from .placements import shown_placements

if TYPE_CHECKING:
    from .auth import FramePost
    from .state import PortalState

BX24_JS_PATH = "/bitrix/js/rest/bx24.js"

_TEXT = {
    "ru": {
        "menu": "Меню",
        "apps": "Приложения",
        "unfinished": (
            "Приложение еще не установлено до конца. Обратитесь к администратору вашего Битрикс24, "
            "чтобы он завершил установку."
        ),
        "no_app": "Приложение не найдено.",
    },
    "en": {
        "menu": "Menu",
        "apps": "Applications",
        "unfinished": (
            "The application is not fully installed yet. Please contact your Bitrix24 administrator "
            "to complete the installation."
        ),
        "no_app": "Application not found.",
    },
}

_SHELL = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{margin:0;font:14px/1.4 system-ui,sans-serif;display:flex;flex-wrap:wrap;background:#eef2f4}}
#left-menu{{flex:0 0 180px;background:#1f2d3a;color:#fff;padding:8px;box-sizing:border-box}}
#left-menu a{{display:block;color:#fff;padding:6px 4px;text-decoration:none}}
main{{flex:1 1 0;min-width:0;padding:8px;box-sizing:border-box}}
iframe{{width:100%;border:0;background:#fff;display:block;height:600px}}
.notice{{background:#fff;padding:16px}}
@media (max-width:600px){{#left-menu{{flex-basis:100%}}}}
</style></head>
<body>
<nav id="left-menu" aria-label="{menu}"><strong>{menu}</strong>{items}</nav>
<main>{content}</main>
{script}
</body></html>
"""

_FRAME = """<iframe id="app-frame" name="app-frame" title="{title}"></iframe>
<form id="frame-form" method="post" target="app-frame" action="{action}" hidden>{inputs}</form>"""

# The portal side of BX24.js: answers the frame, as the portal's own layout script does.
_SCRIPT = """<script>
(function () {{
  var init = {init};
  var clientId = {client_id};
  var frame = document.getElementById("app-frame");
  window.bx24Log = [];
  window.addEventListener("message", function (event) {{
    var msg = event.data;
    if (!msg || msg.bx24 !== true || event.source !== frame.contentWindow) return;
    window.bx24Log.push(msg.cmd);
    var answer = function (result) {{
      event.source.postMessage({{ bx24: true, id: msg.id, result: result }}, event.origin);
    }};
    if (msg.cmd === "getInitData") answer(init);
    else if (msg.cmd === "resizeWindow") {{
      var h = parseInt(msg.params.height, 10);
      if (h > 0) frame.style.height = h + "px";
      answer({{}});
    }} else if (msg.cmd === "setTitle") {{ document.title = msg.params.title; answer({{}}); }}
    else if (msg.cmd === "setInstallFinish" && init.INSTALL) {{
      fetch("/_sandbox/install-finish", {{
        method: "POST", headers: {{"Content-Type": "application/json"}},
        body: JSON.stringify({{ client_id: clientId }})
      }}).then(function () {{ location.reload(); }});
    }}
  }});
  document.getElementById("frame-form").submit();
}})();
</script>"""


def _lang(request: Request, state: PortalState) -> str:
    lang = request.query_params.get("lang") or state.config.language
    return lang if lang in _TEXT else "en"


def _user_id(request: Request) -> int:
    raw = request.query_params.get("user_id", "1")
    return int(raw) if raw.isdigit() else 0


def _menu(state: PortalState, user_id: int, lang: str) -> str:
    items = []
    for p in shown_placements(state, "LEFT_MENU"):
        href = f"/_sandbox/ui/placement/{p.id}?user_id={user_id}&lang={lang}"
        items.append(f'<a href="{escape(href)}" data-placement="{p.id}">{escape(p.title_in(lang))}</a>')
    return "".join(items)


def _page(state: PortalState, user_id: int, lang: str, content: str, script: str = "") -> HTMLResponse:
    text = _TEXT.get(lang, _TEXT["en"])
    return HTMLResponse(
        _SHELL.format(
            lang=lang,
            title=escape(text["apps"]),
            menu=escape(text["menu"]),
            items=_menu(state, user_id, lang),
            content=content,
            script=script,
        )
    )


def _framed(
    state: PortalState, client_id: str, handler: str, post: FramePost, *, install: bool, lang: str
) -> HTMLResponse:
    action = handler + ("&" if "?" in handler else "?") + urlencode(post.query)
    inputs = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(str(v))}">' for k, v in post.form.items()
    )
    init = {
        "DOMAIN": post.query["DOMAIN"],
        "PROTOCOL": post.query["PROTOCOL"],
        "LANG": post.query["LANG"],
        "APP_SID": post.query["APP_SID"],
        "AUTH_ID": post.form["AUTH_ID"],
        "AUTH_EXPIRES": post.form["AUTH_EXPIRES"],
        "REFRESH_ID": post.form["REFRESH_ID"],
        "MEMBER_ID": post.form["member_id"],
        "IS_ADMIN": state.is_admin(post.user_id),
        "PLACEMENT": post.form["PLACEMENT"],
        "PLACEMENT_OPTIONS": json.loads(post.form["PLACEMENT_OPTIONS"]),
        "INSTALL": install,
    }
    content = _FRAME.format(title=escape(client_id), action=escape(action), inputs=inputs)
    script = _SCRIPT.format(
        init=json.dumps(init).replace("</", "<\\/"), client_id=json.dumps(client_id).replace("</", "<\\/")
    )
    return _page(state, post.user_id, lang, content, script)


def build_ui_router(state: PortalState) -> APIRouter:
    router = APIRouter()

    @router.get(BX24_JS_PATH, include_in_schema=False)
    async def bx24_js() -> Response:
        source = resources.files(__package__).joinpath("bx24.js").read_text(encoding="utf-8")
        return Response(
            source.replace("__PORTAL_ORIGIN__", state.base_url),
            media_type="application/javascript",
            headers={"Cache-Control": "no-cache"},
        )

    @router.get("/_sandbox/ui", include_in_schema=False)
    async def home(request: Request) -> HTMLResponse:
        return _page(state, _user_id(request), _lang(request, state), "")

    @router.get("/_sandbox/ui/app/{client_id}", include_in_schema=False)
    async def open_app(request: Request, client_id: str) -> HTMLResponse:
        lang, user_id = _lang(request, state), _user_id(request)
        text = _TEXT[lang]
        app = state.apps.get(client_id)
        if app is None or not app.installed or user_id not in state.users:
            return _page(state, user_id, lang, f'<p class="notice">{escape(text["no_app"])}</p>')
        if not app.finished and not state.is_admin(user_id):
            return _page(
                state, user_id, lang, f'<p class="notice" id="unfinished">{escape(text["unfinished"])}</p>'
            )
        handler = app.install_url if not app.finished else app.handler_url
        if not handler:
            return _page(state, user_id, lang, f'<p class="notice">{escape(text["no_app"])}</p>')
        post = state.open_app_frame(client_id, user_id, lang=lang)
        return _framed(state, client_id, handler, post, install=not app.finished, lang=lang)

    @router.get("/_sandbox/ui/placement/{placement_id}", include_in_schema=False)
    async def open_placement(request: Request, placement_id: int) -> HTMLResponse:
        lang, user_id = _lang(request, state), _user_id(request)
        placement = next((p for p in state.placements if p.id == placement_id), None)
        if placement is not None and placement not in shown_placements(state, placement.placement):
            placement = None  # bound, but the app's install is not finished: not in the interface
        if placement is None or user_id not in state.users:
            return _page(state, user_id, lang, f'<p class="notice">{escape(_TEXT[lang]["no_app"])}</p>')
        post = state.open_app_frame(
            placement.client_id,
            user_id,
            placement=placement.placement,
            placement_options=placement.options,
            lang=lang,
        )
        return _framed(state, placement.client_id, placement.handler, post, install=False, lang=lang)

    return router
