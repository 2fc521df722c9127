"""The HTML of the app page (bilingual; plain string templates, everything user-supplied escaped)."""

from __future__ import annotations

import json
from html import escape
from string import Template

from b24claude.privacy.policy import PrivacyPolicy

PII_LABELS: dict[str, tuple[str, str]] = {
    "phone": ("Телефоны", "Phone numbers"),
    "email": ("Адреса e-mail", "E-mail addresses"),
    "card": ("Банковские карты", "Bank cards"),
    "inn": ("ИНН", "INN (taxpayer number)"),
    "snils": ("СНИЛС", "SNILS"),
    "passport": ("Паспорта", "Passports"),
    "ogrn": ("ОГРН / ОГРНИП", "OGRN / OGRNIP"),
    "birthdate": ("Даты рождения", "Birth dates"),
    "address": ("Адреса", "Postal addresses"),
    "name": ("Имена людей", "People's names"),
}

RETENTION_LABELS: dict[str, tuple[str, str]] = {
    "dialogues_days": ("Диалоги", "Dialogues"),
    "inbox_days": ("Входящие события", "Inbound events"),
    "ledger_days": ("Учёт расходов", "Cost ledger"),
    "logs_days": ("Журналы", "Logs"),
}


def both(ru: str, en: str, lang: str) -> str:
    """Both languages, the user's first (Russian unless Bitrix24 says English)."""
    return f"{en} / {ru}" if lang == "en" else f"{ru} / {en}"


_PAGE = Template("""<!doctype html>
<html lang="$lang"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="b24c-session" content="$token">
<title>$title</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}textarea{width:100%;min-height:14em}
.note{color:#555}</style></head>
<body>
<h1>$title</h1>
<p class="note">$who</p>
<h2>$masked_title</h2>
<table><tr><th>$type_col</th><th>$masked_col</th><th>$consent_col</th></tr>$type_rows</table>
<p>$respect_consent</p>
<p>$log_text</p>
<h2>$retention_title</h2>
<table>$retention_rows</table>
$editor
</body></html>
""")

_EDITOR = Template(r"""<h2>$edit_title</h2>
<p class="note">$edit_note</p>
<textarea id="policy">$policy_json</textarea>
<p><button id="save">$save</button> <span id="status"></span></p>
<script nonce="$nonce">
document.getElementById("save").onclick = async () => {
  const token = document.querySelector('meta[name="b24c-session"]').content;
  const status = document.getElementById("status");
  let body;
  try { body = JSON.parse(document.getElementById("policy").value); }
  catch (e) { status.textContent = "JSON?"; return; }
  const url = location.pathname.replace(/\/+$$/, "") + "/api/privacy";
  const r = await fetch(url, {method: "PUT", body: JSON.stringify(body),
    headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"}});
  const answer = await r.json();
  status.textContent = r.ok ? "$saved" : (answer.reason || r.status);
};
</script>
""")

_ERROR = Template("""<!doctype html>
<html lang="$lang"><head><meta charset="utf-8"><title>$title</title></head>
<body><h1>$title</h1><p>$text</p><p><small>$reason</small></p></body></html>
""")


def yes_no(value: bool, lang: str) -> str:
    return both("да", "yes", lang) if value else both("нет", "no", lang)


def render_page(
    policy: PrivacyPolicy, *, user_id: int, is_admin: bool, token: str, lang: str, nonce: str
) -> str:
    role = both("администратор", "administrator", lang) if is_admin else both("пользователь", "user", lang)
    rows = "".join(
        f"<tr><td>{escape(both(ru, en, lang))}</td><td>{yes_no(t in policy.masked_types, lang)}</td>"
        f"<td>{yes_no(t in policy.types_for(True), lang)}</td></tr>"
        for t, (ru, en) in PII_LABELS.items()
    )
    retention = policy.to_dict()["retention"]
    retention_rows = "".join(
        f"<tr><td>{escape(both(ru, en, lang))}</td><td>{_days(int(retention[key]), lang)}</td></tr>"
        for key, (ru, en) in RETENTION_LABELS.items()
    )
    editor = (
        _EDITOR.substitute(
            edit_title=both("Изменить настройки", "Change the settings", lang),
            edit_note=escape(
                both(
                    "Политика целиком в JSON; пропущенные поля получают значения по умолчанию.",
                    "The whole policy as JSON; fields left out take their defaults.",
                    lang,
                )
            ),
            policy_json=escape(json.dumps(policy.to_dict(), ensure_ascii=False, indent=2)),
            save=both("Сохранить", "Save", lang),
            saved=both("Сохранено", "Saved", lang),
            nonce=escape(nonce),
        )
        if is_admin
        else '<p class="note">'
        + both(
            "Изменять настройки может только администратор Битрикс24.",
            "Only a Bitrix24 administrator can change these settings.",
            lang,
        )
        + "</p>"
    )
    return _PAGE.substitute(
        lang="en" if lang == "en" else "ru",
        token=escape(token),
        title=both("Claude: конфиденциальность", "Claude: privacy", lang),
        who=escape(both(f"Вы вошли как {role} #{user_id}", f"Signed in as {role} #{user_id}", lang)),
        masked_title=both("Что скрывается от Claude", "What is hidden from Claude", lang),
        type_col=both("Данные", "Data", lang),
        masked_col=both("Скрывать", "Mask", lang),
        consent_col=both("Скрывать при согласии клиента", "Mask with the client's consent", lang),
        type_rows=rows,
        respect_consent=both("Учитывать согласие клиента", "Respect the client's consent", lang)
        + ": "
        + yes_no(policy.respect_consent, lang),
        log_text=both("Текст сообщений в журналах", "Message text in logs", lang)
        + ": "
        + yes_no(policy.log_message_text, lang),
        retention_title=both("Сроки хранения", "Retention", lang),
        retention_rows=retention_rows,
        editor=editor,
    )


def render_error(status: int, reason: str, *, lang: str) -> str:
    if status == 401:
        text = both(
            "Не удалось подтвердить вход через Битрикс24. Откройте приложение из портала заново.",
            "Could not confirm your Bitrix24 sign-in. Open the application from your portal again.",
            lang,
        )
    elif status == 429:
        text = both(
            "Слишком много запросов, попробуйте через минуту.", "Too many requests, try in a minute.", lang
        )
    elif status >= 500:
        text = both(
            "Портал сейчас недоступен, попробуйте позже.", "The portal is unavailable, try later.", lang
        )
    else:
        text = both("Запрос не понят.", "The request was not understood.", lang)
    return _ERROR.substitute(
        lang="en" if lang == "en" else "ru",
        title=both("Claude для Битрикс24", "Claude for Bitrix24", lang),
        text=escape(text),
        reason=escape(reason),
    )


def _days(days: int, lang: str) -> str:
    if days <= 0:
        return both("бессрочно", "until erased", lang)
    return both(f"{days} дн.", f"{days} days", lang)
