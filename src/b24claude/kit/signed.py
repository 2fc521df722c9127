"""Short signed tokens: JSON claims + HMAC-SHA256, stdlib only.

``<base64url(json claims)>.<base64url(mac)>``. The claims are readable by whoever holds the token
(nothing secret goes in them); the MAC makes them unforgeable without the key. ``purpose`` is mixed
into the MAC so a token minted for one use never verifies for another under the same key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

MAX_TOKEN_CHARS = 2048


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SignedTokens:
    def __init__(self, key: bytes, *, purpose: str) -> None:
        if len(key) < 16:
            raise ValueError("signing key must be at least 16 bytes")
        self._key = key
        self._purpose = purpose.encode()

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, self._purpose + b"\x00" + body.encode("ascii"), hashlib.sha256).digest()

    def issue(self, claims: Mapping[str, Any], *, expires_at: float) -> str:
        """A token carrying ``claims`` (JSON-serialisable) that :meth:`read` accepts until ``expires_at``."""
        payload = {**claims, "exp": int(expires_at)}
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{_b64(self._mac(body))}"

    def read(self, token: str, *, now: float) -> dict[str, Any] | None:
        """The claims of a genuine, unexpired token; ``None`` for anything else (never raises)."""
        if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        try:
            given = _unb64(mac)
            expected = self._mac(body)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            return None
        if not hmac.compare_digest(given, expected):
            return None
        try:
            claims = json.loads(_unb64(body))
        except (binascii.Error, ValueError):
            return None
        if not isinstance(claims, dict):
            return None
        exp = claims.get("exp")
        if not isinstance(exp, int) or isinstance(exp, bool) or exp <= now:
            return None
        return claims
