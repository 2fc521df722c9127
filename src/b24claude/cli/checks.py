"""What is wrong with the settings and the environment, one readable line per problem.

``b24claude check`` prints every problem; ``b24claude serve`` runs the same checks before it binds
its port and refuses to start on a fatal one; the commands that read the store refuse a SQLite file
that does not exist (they would create an empty database and report zeros).

Fatal (the service cannot work, or would damage data): no client id / secret, no Anthropic API key,
keys that are not Fernet keys or do not open the database's secrets, an ``enc:`` setting no key
opens, a database URL that is not valid or a database that does not answer, a public URL that is not
a URL. Warnings (it works, but not as the admin probably wants): no or an empty knowledge folder, a
public URL without HTTPS (the sandbox on loopback is fine; an on-premise portal on a LAN may use
http), a database or key file that will be created now.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError

from b24claude.adapters.crypto import DIGEST_PREFIX, Keyring
from b24claude.adapters.sql import SqlStore, probe, sqlite_file
from b24claude.adapters.sql.rekey import sample_secrets
from b24claude.errors import B24ClaudeError, ConfigurationError
from b24claude.settings import Settings

Purpose = Literal["serve", "check", "read"]
NEW_KEY = "`b24claude privacy new-key`"


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    fatal: bool
    en: str
    ru: str

    def line(self) -> str:
        level = "ERROR / ОШИБКА" if self.fatal else "WARNING / ПРЕДУПРЕЖДЕНИЕ"
        return f"{level} [{self.code}] {self.en} / {self.ru}"


def _fatal(code: str, en: str, ru: str) -> Problem:
    return Problem(code, True, en, ru)


def _warning(code: str, en: str, ru: str) -> Problem:
    return Problem(code, False, en, ru)


# --- settings that do not even parse ------------------------------------------------------------------


def settings_problems(error: ValidationError) -> list[Problem]:
    """A ``Settings()`` that pydantic refused: one line per bad variable."""
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item.get("loc", ())) or "?"
        name = f"B24C_{field.upper()}"
        msg = str(item.get("msg", "invalid value"))
        problems.append(_fatal("setting_invalid", f"{name}: {msg}", f"{name}: недопустимое значение ({msg})"))
    return problems


# --- credentials ----------------------------------------------------------------------------------------


def credential_problems(settings: Settings) -> list[Problem]:
    problems = []
    if not settings.b24_client_id.strip():
        problems.append(
            _fatal(
                "b24_client_id_missing",
                "B24C_B24_CLIENT_ID is empty: set the application's client_id (local.…) from the portal",
                "B24C_B24_CLIENT_ID не задан: укажите client_id приложения (local.…) из портала",
            )
        )
    if not settings.b24_client_secret.get_secret_value().strip():
        problems.append(
            _fatal(
                "b24_client_secret_missing",
                "B24C_B24_CLIENT_SECRET is empty: set the application's client_secret from the portal",
                "B24C_B24_CLIENT_SECRET не задан: укажите client_secret приложения из портала",
            )
        )
    if not settings.anthropic_api_key.get_secret_value().strip():
        problems.append(
            _fatal(
                "anthropic_api_key_missing",
                "B24C_ANTHROPIC_API_KEY is empty: the bot cannot answer without a Claude API key",
                "B24C_ANTHROPIC_API_KEY не задан: без ключа Claude API бот не сможет отвечать",
            )
        )
    return problems


# --- keys -------------------------------------------------------------------------------------------------


def _bad_fernet_entries(entries: list[str]) -> list[int]:
    """1-based positions of the Fernet entries (not ``digest:``) that are not Fernet keys."""
    bad = []
    keys = [e for e in entries if not e.startswith(DIGEST_PREFIX)]
    for i, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            bad.append(i)
    return bad


def load_keyring(settings: Settings) -> tuple[Keyring | None, list[Problem]]:
    """The configured keys without creating anything; ``None`` with a problem when they are unusable."""
    configured = settings.secret_keys.get_secret_value().strip()
    if configured:
        entries = [e.strip() for e in configured.split(",") if e.strip()]
        bad = _bad_fernet_entries(entries)
        if bad:
            which = ", ".join(str(i) for i in bad)
            return None, [
                _fatal(
                    "secret_keys_invalid",
                    f"B24C_SECRET_KEYS: key {which} is not a Fernet key (32 bytes, urlsafe base64); "
                    f"make one with {NEW_KEY}",
                    f"B24C_SECRET_KEYS: ключ {which} — не ключ Fernet (32 байта, urlsafe base64); "
                    f"создайте его командой {NEW_KEY}",
                )
            ]
        source = "B24C_SECRET_KEYS"
        try:
            return Keyring.parse(entries, source), []
        except ConfigurationError as exc:
            return None, [_keys_unusable(exc)]
    path = Path(settings.secret_key_file).expanduser().absolute()
    if not path.exists():
        return None, [
            _warning(
                "key_file_new",
                f"no B24C_SECRET_KEYS and no key file {path}: `b24claude serve` creates one; back it up",
                f"нет B24C_SECRET_KEYS и файла ключей {path}: `b24claude serve` создаст его; "
                "сохраните его резервную копию",
            )
        ]
    try:
        return Keyring.from_file(path), []
    except ConfigurationError as exc:
        return None, [_keys_unusable(exc)]


def _keys_unusable(exc: ConfigurationError) -> Problem:
    return _fatal(
        "secret_keys_invalid",
        f"{exc.message}",
        f"ключи шифрования не годятся ({exc.message}); новый ключ: {NEW_KEY}",
    )


def encrypted_setting_problems(settings: Settings, keyring: Keyring | None) -> list[Problem]:
    """``enc:…`` settings that the configured keys do not open."""
    problems = []
    secrets: dict[str, SecretStr] = {
        "B24C_B24_CLIENT_SECRET": settings.b24_client_secret,
        "B24C_ANTHROPIC_API_KEY": settings.anthropic_api_key,
    }
    for name, value in secrets.items():
        if not value.get_secret_value().startswith("enc:"):
            continue
        if keyring is None:
            continue  # the key problem is reported already
        try:
            keyring.resolve(value.get_secret_value(), name=name)
        except ConfigurationError:
            problems.append(
                _fatal(
                    "secret_setting_undecryptable",
                    f"{name} is enc:… but no configured key opens it: redo it with "
                    "`b24claude privacy encrypt-secret`",
                    f"{name} задан как enc:…, но ни один настроенный ключ его не открывает: "
                    "зашифруйте заново командой `b24claude privacy encrypt-secret`",
                )
            )
    return problems


# --- the database ---------------------------------------------------------------------------------------


def database_file_problems(settings: Settings, purpose: Purpose) -> list[Problem]:
    """A SQLite file that is not there (created by ``serve``, refused by the commands that read)."""
    try:
        path = sqlite_file(settings.database_url)
    except ConfigurationError as exc:
        return [
            _fatal(
                "database_url_invalid",
                f"B24C_DATABASE_URL: {exc.message}",
                f"B24C_DATABASE_URL: адрес базы данных неверен ({exc.message})",
            )
        ]
    if path is None or path.exists():
        return []
    if not path.parent.is_dir():
        return [
            _fatal(
                "database_dir_missing",
                f"B24C_DATABASE_URL: the folder {path.parent} does not exist",
                f"B24C_DATABASE_URL: папки {path.parent} не существует",
            )
        ]
    if purpose == "read":
        return [
            _fatal(
                "database_missing",
                f"no database at {path}: run this in the service's working directory or set "
                "B24C_DATABASE_URL (nothing was created)",
                f"базы данных {path} нет: запустите команду в рабочей папке сервиса или задайте "
                "B24C_DATABASE_URL (ничего не создано)",
            )
        ]
    return [
        _warning(
            "database_new",
            f"no database at {path} yet: `b24claude serve` creates it",
            f"базы данных {path} ещё нет: `b24claude serve` создаст её",
        )
    ]


async def database_problems(settings: Settings, keyring: Keyring | None, purpose: Purpose) -> list[Problem]:
    problems = database_file_problems(settings, purpose)
    if problems:
        return problems  # probing a SQLite file that is not there would create it
    try:
        await probe(settings.database_url)
    except ConfigurationError as exc:
        return [
            _fatal(
                "database_url_invalid",
                f"B24C_DATABASE_URL: {exc.message}",
                f"B24C_DATABASE_URL: адрес базы данных неверен ({exc.message})",
            )
        ]
    except B24ClaudeError as exc:
        return [
            _fatal(
                "database_unreachable",
                f"the database does not answer ({exc.message})",
                f"база данных не отвечает ({exc.message})",
            )
        ]
    if keyring is not None:
        return await _stored_secret_problems(settings, keyring)
    return []


async def _stored_secret_problems(settings: Settings, keyring: Keyring) -> list[Problem]:
    """Whether the keys open the secrets the database already holds (another installation's key,
    a key dropped too early)."""
    store = await SqlStore.open(settings.database_url, run_migrations=False)
    try:
        try:
            stored = await sample_secrets(store.db)
        except B24ClaudeError:
            return []  # not migrated yet: nothing stored to open
        for value in stored:
            try:
                keyring.codec.decode(value)
            except ConfigurationError:
                return [
                    _fatal(
                        "secret_key_mismatch",
                        f"the configured keys (newest id {keyring.primary_id}) do not open the secrets in "
                        "the database: another installation's key, or an old key dropped before "
                        "`b24claude privacy rotate-keys`",
                        f"настроенные ключи (новейший {keyring.primary_id}) не открывают секреты в базе: "
                        "ключ другой установки или старый ключ удалён до `b24claude privacy rotate-keys`",
                    )
                ]
    finally:
        await store.close()
    return []


# --- knowledge and the public URL ----------------------------------------------------------------------


def knowledge_problems(settings: Settings) -> list[Problem]:
    if not settings.knowledge_dir.strip():
        return [
            _warning(
                "knowledge_dir_unset",
                "B24C_KNOWLEDGE_DIR is not set: the bot answers without a knowledge base",
                "B24C_KNOWLEDGE_DIR не задан: бот отвечает без базы знаний",
            )
        ]
    path = Path(settings.knowledge_dir).expanduser().absolute()
    if not path.is_dir():
        return [
            _warning(
                "knowledge_dir_missing",
                f"B24C_KNOWLEDGE_DIR: the folder {path} does not exist: the bot answers without a "
                "knowledge base",
                f"B24C_KNOWLEDGE_DIR: папки {path} нет: бот отвечает без базы знаний",
            )
        ]
    if not any(path.glob("*.md")) and not any(path.glob("*.txt")):
        return [
            _warning(
                "knowledge_dir_empty",
                f"B24C_KNOWLEDGE_DIR: no *.md or *.txt files in {path}",
                f"B24C_KNOWLEDGE_DIR: в {path} нет файлов *.md или *.txt",
            )
        ]
    return []


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_url_problems(settings: Settings) -> list[Problem]:
    url = settings.public_url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [
            _fatal(
                "public_url_invalid",
                f"B24C_PUBLIC_URL {url!r} is not an http(s) URL: the portal is given handler URLs built from it",
                f"B24C_PUBLIC_URL {url!r} — не адрес http(s): из него строятся адреса обработчиков для портала",
            )
        ]
    if parts.scheme == "https":
        return []
    if _loopback(parts.hostname):
        return [
            _warning(
                "public_url_not_https",
                f"B24C_PUBLIC_URL {url} is loopback http: fine for the sandbox, a real portal needs an "
                "HTTPS address it can reach",
                f"B24C_PUBLIC_URL {url} — локальный http: подходит для песочницы, реальному порталу нужен "
                "доступный ему адрес HTTPS",
            )
        ]
    return [
        _warning(
            "public_url_not_https",
            f"B24C_PUBLIC_URL {url} is not HTTPS: the portal sends tokens to it in clear text",
            f"B24C_PUBLIC_URL {url} — не HTTPS: портал передаёт на него токены открытым текстом",
        )
    ]


# --- all of them ------------------------------------------------------------------------------------------


async def run_checks(settings: Settings, purpose: Purpose = "check") -> list[Problem]:
    """Every check, fatal problems first (in the order an admin would fix them)."""
    keyring, key_problems = load_keyring(settings)
    problems = [
        *credential_problems(settings),
        *key_problems,
        *encrypted_setting_problems(settings, keyring),
        *await database_problems(settings, keyring, purpose),
        *public_url_problems(settings),
        *knowledge_problems(settings),
    ]
    return sorted(problems, key=lambda p: not p.fatal)
