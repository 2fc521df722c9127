"""The seam for encryption at rest of secrets and vault values."""

from __future__ import annotations

from typing import Protocol


class SecretsCodec(Protocol):
    """Turns a secret (OAuth tokens, the application token) into what is stored, and back.

    The seam for encryption at rest: today :class:`IdentityCodec`; a Fernet codec plugs in here.
    """

    def encode(self, plain: str) -> str: ...

    def decode(self, stored: str) -> str: ...


class IdentityCodec:
    """Stores secrets as given."""

    def encode(self, plain: str) -> str:
        return plain

    def decode(self, stored: str) -> str:
        return stored
