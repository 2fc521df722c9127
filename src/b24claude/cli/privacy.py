"""``b24claude privacy …`` — redaction, keys, retention, the rights of the people in the chats.

Each group of commands lives in its own section; the heavy imports happen inside the commands so
``b24claude --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from b24claude.adapters.crypto import Keyring
    from b24claude.ports.privacy import AuditRecord, PiiType
    from b24claude.privacy.admin import PrivacyAdminService
    from b24claude.privacy.retention import PurgeReport, RetentionService
    from b24claude.privacy.rights import ErasureReport, PrivacyRights
    from b24claude.settings import Settings

_T = TypeVar("_T")

privacy_app = typer.Typer(
    no_args_is_help=True,
    help="PII redaction, keys, retention, erasure and export / ПДн: маскирование, ключи, сроки хранения, "
    "удаление и выгрузка.",
)


# --- detection: redact ------------------------------------------------------------------------------


def _parse_types(value: str | None) -> list[PiiType] | None:
    from b24claude.ports.privacy import PII_TYPES

    if not value:
        return None
    names = [t.strip() for t in value.split(",") if t.strip()]
    unknown = sorted(set(names) - set(PII_TYPES))
    if unknown:
        raise typer.BadParameter(
            f"unknown PII types / неизвестные типы ПДн: {', '.join(unknown)}; known / известные: {', '.join(PII_TYPES)}"
        )
    return [t for t in PII_TYPES if t in names]


@privacy_app.command("redact")
def redact(
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print {text, spans} per line / Печатать {text, spans} на каждую строку",
        ),
    ] = False,
    types: Annotated[
        str | None,
        typer.Option(
            "--types",
            help="Only these types, comma-separated (default: all) / Только эти типы через запятую (по умолчанию все): "
            "phone,email,card,inn,snils,passport,ogrn,birthdate,address,name",
        ),
    ] = None,
) -> None:
    """Mask PII in messages read one per line on stdin / Замаскировать ПДн в сообщениях со stdin.

    One output line per input line. With --json: {"text": masked, "spans": [{type, start, end, value}]};
    offsets refer to the original line without its newline.

    По строке на каждую входную. С --json: {"text": с заменами, "spans": [...]}; смещения — в исходной
    строке без перевода строки.
    """
    import io
    import json
    import sys

    from b24claude.privacy.detect import PiiDetector

    wanted = _parse_types(types)
    detector = PiiDetector()
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="\n")
    out = sys.stdout.buffer
    interactive = sys.stdout.isatty()
    for raw in stdin:
        line = raw[:-1] if raw.endswith("\n") else raw
        if line.endswith("\r"):
            line = line[:-1]
        masked, spans = detector.redact(line, wanted)
        if as_json:
            record = {
                "text": masked,
                "spans": [{"type": s.type, "start": s.start, "end": s.end, "value": s.value} for s in spans],
            }
            text = json.dumps(record, ensure_ascii=False)
        else:
            text = masked
        out.write(text.encode("utf-8") + b"\n")
        if interactive:
            out.flush()
    out.flush()


# --- keys: rotate-keys --------------------------------------------------------------------------------


@privacy_app.command("new-key")
def new_key() -> None:
    """Print a fresh Fernet key (for B24C_SECRET_KEYS or the key file).

    Напечатать новый ключ Fernet (для B24C_SECRET_KEYS или файла ключей).
    """
    from b24claude.adapters.crypto import new_key as make_key

    typer.echo(make_key())


@privacy_app.command("encrypt-secret")
def encrypt_secret() -> None:
    """Read a secret on stdin, print enc:<token> to put in .env (B24C_ANTHROPIC_API_KEY,
    B24C_B24_CLIENT_SECRET); it is decrypted at start-up with the configured keys.

    Прочитать секрет со стандартного ввода и напечатать enc:<токен> для .env (B24C_ANTHROPIC_API_KEY,
    B24C_B24_CLIENT_SECRET); при запуске он расшифровывается настроенными ключами.
    """
    import sys

    from b24claude.settings import Settings

    secret = sys.stdin.read().strip()
    if not secret:
        typer.echo("Nothing on stdin / На стандартном вводе пусто", err=True)
        raise typer.Exit(2)
    keyring = _keyring_or_exit(Settings())
    typer.echo(keyring.encrypt_setting(secret))


@privacy_app.command("digest-key")
def digest_key() -> None:
    """Print the digest key as a digest:<key> entry (pins it before the oldest key is dropped).

    Напечатать ключ дайджестов как запись digest:<ключ> (закрепить его перед удалением самого старого
    ключа).
    """
    from b24claude.cli.preflight import load_settings

    settings = load_settings()
    key_file = Path(settings.secret_key_file).expanduser().absolute()
    if not settings.secret_keys.get_secret_value().strip() and not key_file.exists():
        # Making a key file here would print the digest key of keys nothing was ever encrypted with.
        _fail(
            f"No B24C_SECRET_KEYS and no key file {key_file}: run this where the service runs / "
            f"Нет B24C_SECRET_KEYS и файла ключей {key_file}: запустите команду там, где работает сервис"
        )
    typer.echo(_keyring_or_exit(settings).digest_key_entry())


@privacy_app.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored secret (portal tokens, PII vault values) with the newest key.

    Перешифровать все хранимые секреты (токены порталов, значения хранилища ПДн) новейшим ключом.
    """
    import asyncio

    from b24claude.cli.preflight import store_settings
    from b24claude.errors import B24ClaudeError

    settings = store_settings()
    keyring = _keyring_or_exit(settings)
    try:
        counts = asyncio.run(_rotate(settings, keyring))
    except B24ClaudeError as exc:
        typer.echo(f"Rotation stopped / Перешифрование остановлено: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"Newest key / Новейший ключ: {keyring.primary_id} ({keyring.key_count} configured / настроено)"
    )
    typer.echo(
        f"Portals / Порталы: {counts['portals_seen']}, "
        f"secrets re-encrypted / секретов перешифровано: {counts['portal_secrets_rewritten']}"
    )
    typer.echo(
        f"PII vault values / Значения ПДн: {counts['vault_seen']}, "
        f"re-encrypted / перешифровано: {counts['vault_values_rewritten']}"
    )
    if counts["changed_meanwhile"]:
        typer.echo(
            f"Changed meanwhile by the service (already under the newest key) / Изменены сервисом во время "
            f"работы (уже под новейшим ключом): {counts['changed_meanwhile']}"
        )
    typer.echo(
        "Settings given as enc:… are not re-encrypted: redo them with `b24claude privacy encrypt-secret` "
        "before dropping an old key. / Настройки вида enc:… не перешифровываются: повторите для них "
        "`b24claude privacy encrypt-secret` до удаления старого ключа."
    )


async def _rotate(settings: Settings, keyring: Keyring) -> dict[str, int]:
    from b24claude.adapters.sql.rekey import rekey_secrets
    from b24claude.bootstrap import open_store
    from b24claude.ports.privacy import AuditRecord

    store = await open_store(settings, keyring)
    try:
        counts = (await rekey_secrets(store.db, keyring.codec.rekey)).as_dict()
        await store.audit.add(
            AuditRecord(
                member_id="*",
                action="rotate-keys",
                actor="cli",
                details={**counts, "key_id": keyring.primary_id, "keys": keyring.key_count},
            )
        )
    finally:
        await store.close()
    return counts


def _keyring_or_exit(settings: Settings) -> Keyring:
    from b24claude.bootstrap import build_keyring
    from b24claude.errors import ConfigurationError

    try:
        return build_keyring(settings)
    except ConfigurationError as exc:
        typer.echo(f"Keys / Ключи: {exc.message}", err=True)
        raise typer.Exit(2) from None


# --- retention and rights: purge, erase, export, consent, audit ---------------------------------------


_PORTAL_HELP = "Portal member_id / member_id портала"
_CONTACT_HELP = "CRM contact id / ID контакта в CRM"
_PHONE_HELP = "Phone, any format / Телефон в любом формате"
_EMAIL_HELP = "E-mail"
_LABELS = {
    "dialogues": "dialogues / диалогов",
    "turns": "turns / реплик",
    "inbox": "inbox events / входящих событий",
    "effects": "effects / действий",
    "vault": "vault entries / значений в хранилище ПДн",
    "subjects": "subject bindings / привязок к людям",
    "consents": "consents / согласий",
    "ledger": "ledger rows unlinked (cost kept) / строк учёта обезличено (стоимость сохранена)",
    "log_lines": "log lines / строк журнала",
    "log_files": "log files / файлов журнала",
}


def _label(name: str) -> str:
    return _LABELS.get(name, name)


def _fail(message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(2)


def _run(work: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run one privacy command; our errors become a message and exit code 2."""
    from b24claude.errors import B24ClaudeError

    try:
        return asyncio.run(work())
    except B24ClaudeError as exc:
        _fail(f"Error / Ошибка: {exc.message}")


def _check_person(contact: int | None, phone: str | None, email: str | None) -> None:
    """Refuse a request that names nobody before the store is even opened."""
    from b24claude.errors import BadRequest
    from b24claude.privacy.rights import Person

    try:
        Person.of(contact_id=contact, phone=phone, email=email)
    except BadRequest as exc:
        _fail(f"Error / Ошибка: {exc.message}")


@asynccontextmanager
async def _privacy() -> AsyncIterator[tuple[RetentionService, PrivacyRights]]:
    """The store of ``Settings()`` (its database URL, its log_dir) and the services over it."""
    from b24claude.bootstrap import open_store, privacy_services
    from b24claude.cli.preflight import store_settings
    from b24claude.kit.clock import SystemClock

    settings = store_settings()
    store = await open_store(settings, _keyring_or_exit(settings))
    try:
        yield privacy_services(settings, store, SystemClock())
    finally:
        await store.close()


@asynccontextmanager
async def _admin() -> AsyncIterator[PrivacyAdminService]:
    """The privacy settings and consents service over the configured store (the operator acts as admin)."""
    from b24claude.bootstrap import open_store
    from b24claude.cli.preflight import store_settings
    from b24claude.kit.clock import SystemClock
    from b24claude.privacy.admin import PrivacyAdminService

    settings = store_settings()
    store = await open_store(settings, _keyring_or_exit(settings))
    try:
        yield PrivacyAdminService(
            portals=store.portals, consents=store.consents, audit=store.audit, clock=SystemClock()
        )
    finally:
        await store.close()


@privacy_app.command("purge")
def purge(
    portal: Annotated[
        str | None, typer.Option("--portal", help=f"{_PORTAL_HELP} (default: all / все)")
    ] = None,
) -> None:
    """Delete what is older than each portal's retention periods (the service runs it by itself).

    Удалить то, что старше сроков хранения каждого портала (сервис делает это и сам).
    """

    async def work() -> PurgeReport:
        async with _privacy() as (retention, _):
            return await retention.purge(time.time(), member_id=portal, actor="cli")

    report = _run(work)
    if not report.portals and not report.service_log_files:
        typer.echo("Nothing to purge / Удалять нечего")
    for member, counts in report.portals.items():
        typer.echo(f"{member}:")
        for name, n in counts.items():
            typer.echo(f"  {_label(name)}: {n}")
    if report.service_log_files:
        typer.echo(f"_service: {_label('log_files')}: {report.service_log_files}")
    for member, code in report.errors.items():
        typer.echo(f"{member}: failed / ошибка: {code}", err=True)
    if report.errors:
        raise typer.Exit(1)


@privacy_app.command("erase")
def erase(
    portal: Annotated[str, typer.Option("--portal", help=_PORTAL_HELP)],
    contact: Annotated[int | None, typer.Option("--contact", help=_CONTACT_HELP)] = None,
    phone: Annotated[str | None, typer.Option("--phone", help=_PHONE_HELP)] = None,
    email: Annotated[str | None, typer.Option("--email", help=_EMAIL_HELP)] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask / Не спрашивать")] = False,
) -> None:
    """Erase everything the service holds about one person (CRM contact, phone or e-mail); audited.

    Удалить всё, что сервис хранит об одном человеке (контакт CRM, телефон или e-mail); с аудитом.
    """
    from b24claude.privacy.rights import Person

    _check_person(contact, phone, email)

    async def work() -> ErasureReport | None:
        async with _privacy() as (_, rights):
            person = Person.of(contact_id=contact, phone=phone, email=email)
            found = await rights.find(portal, person)
            typer.echo(
                f"Found / Найдено: {_label('dialogues')}: {len(found.dialog_keys)}, "
                f"{_label('inbox')}: {len(found.inbox_ids)}"
            )
            if not yes and not typer.confirm(
                f"Erase them for good in portal {portal}? / Удалить их безвозвратно на портале {portal}?"
            ):
                return None
            return await rights.erase(portal, contact_id=contact, phone=phone, email=email, actor="cli")

    report = _run(work)
    if report is None:
        typer.echo("Cancelled / Отменено")
        raise typer.Exit(1)
    typer.echo(f"Erased / Удалено ({_label('dialogues')}: {report.dialogues}):")
    for name, n in report.counts.items():
        typer.echo(f"  {_label(name)}: {n}")
    typer.echo(f"Audit record / Запись аудита: #{report.audit_id}")


@privacy_app.command("export")
def export(
    portal: Annotated[str, typer.Option("--portal", help=_PORTAL_HELP)],
    contact: Annotated[int | None, typer.Option("--contact", help=_CONTACT_HELP)] = None,
    phone: Annotated[str | None, typer.Option("--phone", help=_PHONE_HELP)] = None,
    email: Annotated[str | None, typer.Option("--email", help=_EMAIL_HELP)] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write to this file (mode 0600) / Записать в файл (права 0600)"),
    ] = None,
) -> None:
    """Export everything the service holds about one person as JSON (real values restored); audited.

    Выгрузить в JSON всё, что сервис хранит об одном человеке (с настоящими значениями); с аудитом.
    """
    _check_person(contact, phone, email)

    async def work() -> dict[str, Any]:
        async with _privacy() as (_, rights):
            return await rights.export(portal, contact_id=contact, phone=phone, email=email, actor="cli")

    data = _run(work)
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if out is None:
        typer.echo(text)
        return
    # The file holds personal data: readable by its owner only, from the moment it exists.
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    typer.echo(
        f"Exported / Выгружено: {_label('dialogues')}: {len(data['dialogues'])} -> {out}",
        err=True,
    )


@privacy_app.command("consent")
def consent(
    portal: Annotated[str, typer.Option("--portal", help=_PORTAL_HELP)],
    client: Annotated[
        str, typer.Option("--client", help="Client key, e.g. user:42 / Ключ клиента, например user:42")
    ],
    granted: Annotated[
        bool | None,
        typer.Option("--granted/--revoked", help="Consent given or withdrawn / Согласие дано или отозвано"),
    ] = None,
) -> None:
    """Record a client's consent to processing of their data (as the portal admin says); audited.

    Записать согласие клиента на обработку его данных (со слов администратора портала); с аудитом.
    """
    if granted is None:
        _fail("Say --granted or --revoked / Укажите --granted или --revoked")

    async def work() -> None:
        async with _admin() as admin:
            await admin.set_consent(portal, client, granted, user_id=0, is_admin=True, actor="cli")

    _run(work)
    state = "granted / дано" if granted else "revoked / отозвано"
    typer.echo(f"{client}: {state}")


@privacy_app.command("policy")
def policy(
    portal: Annotated[str, typer.Option("--portal", help=_PORTAL_HELP)],
    set_json: Annotated[
        str | None,
        typer.Option(
            "--set",
            help='New policy as JSON, e.g. \'{"masked_types": ["card", "passport"]}\' (fields left out take '
            "their defaults) / Новая политика в JSON (пропущенные поля — по умолчанию)",
        ),
    ] = None,
) -> None:
    """Show or replace the portal's privacy policy (what is masked, consent, text in logs, retention); audited.

    Показать или заменить политику портала (что маскируется, согласия, текст в логах, сроки хранения).
    """
    from b24claude.privacy.policy import PrivacyPolicy

    raw: Any = None
    if set_json is not None:
        try:
            raw = json.loads(set_json)
        except json.JSONDecodeError as exc:
            _fail(f"--set is not JSON / --set — не JSON: {exc}")

    async def work() -> PrivacyPolicy:
        async with _admin() as admin:
            if raw is None:
                return await admin.policy(portal)
            return await admin.set_policy(portal, raw, user_id=0, is_admin=True, actor="cli")

    result = _run(work)
    typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))


@privacy_app.command("audit")
def audit(
    portal: Annotated[str, typer.Option("--portal", help=_PORTAL_HELP)],
    limit: Annotated[
        int, typer.Option("--limit", help="How many, newest first / Сколько, новые первыми")
    ] = 100,
) -> None:
    """Show the portal's audit trail: purges, erasures, exports, consents.

    Показать журнал аудита портала: очистки, удаления, выгрузки, согласия.
    """

    async def work() -> list[AuditRecord]:
        async with _privacy() as (_, rights):
            return await rights.audit_trail(portal, limit=limit)

    records = _run(work)
    if not records:
        typer.echo("No records / Записей нет")
    for r in records:
        when = datetime.fromtimestamp(r.created_at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        details = json.dumps(dict(r.details), ensure_ascii=False, sort_keys=True)
        typer.echo(f"#{r.id} {when} {r.action} {r.actor} {r.subject or '-'} {details}")
