"""``b24claude privacy …`` — redaction, keys, retention, the rights of the people in the chats.

Each group of commands lives in its own section; the heavy imports happen inside the commands so
``b24claude --help`` stays fast.
"""

from __future__ import annotations

import typer

privacy_app = typer.Typer(
    no_args_is_help=True,
    help="PII redaction, keys, retention, erasure and export / ПДн: маскирование, ключи, сроки хранения, "
    "удаление и выгрузка.",
)


# --- detection: redact ------------------------------------------------------------------------------


# --- keys: rotate-keys --------------------------------------------------------------------------------


# --- retention and rights: purge, erase, export, consent, audit ---------------------------------------
