"""``b24claude privacy …`` — redaction, keys, retention, the rights of the people in the chats.

Each group of commands lives in its own section; the heavy imports happen inside the commands so
``b24claude --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from b24claude.adapters.crypto import Keyring
    from b24claude.settings import Settings

privacy_app = typer.Typer(
    no_args_is_help=True,
    help="PII redaction, keys, retention, erasure and export / ПДн: маскирование, ключи, сроки хранения, "
    "удаление и выгрузка.",
)


# --- detection: redact ------------------------------------------------------------------------------


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
    from b24claude.settings import Settings

    typer.echo(_keyring_or_exit(Settings()).digest_key_entry())


@privacy_app.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored secret (portal tokens, PII vault values) with the newest key.

    Перешифровать все хранимые секреты (токены порталов, значения хранилища ПДн) новейшим ключом.
    """
    import asyncio

    from b24claude.errors import B24ClaudeError
    from b24claude.settings import Settings

    settings = Settings()
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
