"""Secrets at rest: Fernet keys with rotation, and a stable keyed digest.

Where the keys come from
    ``B24C_SECRET_KEYS`` — comma-separated Fernet keys, newest first — or, when that is empty, the key
    file ``B24C_SECRET_KEY_FILE`` (``./b24claude.key``), created on first use with a fresh key and
    mode 0600. A key file readable by group or others, or one that does not parse, is refused.

    Key file format (one entry per line, ``#`` starts a comment)::

        digest:<urlsafe base64 of 32 bytes>   # the HMAC key for digests; never rotated
        <Fernet key, newest>
        <Fernet key, older> ...

The digest key (HMAC-SHA256 of PII values, so the vault can be searched without plain text) must
stay the same through rotations, or lookups by phone / e-mail would silently find nothing:

* it is the ``digest:<key>`` entry of the key file (written once, when the file is created) or of
  ``B24C_SECRET_KEYS`` (one item of the list);
* without such an entry it is derived (HKDF-SHA256) from the OLDEST Fernet key of the list. Before
  dropping that key, pin the digest key: put the ``digest:…`` entry that
  ``b24claude privacy digest-key`` prints in its place.

Stored forms
    ``fernet:<token>`` — a secret in the database (tokens of a portal, PII vault values), encrypted
    with the newest key and decrypted with any configured key (MultiFernet). A stored value without
    the prefix is legacy plain text: it reads as is and is encrypted by the next write or by
    ``b24claude privacy rotate-keys``.

    ``enc:<token>`` — a secret in the settings (``B24C_ANTHROPIC_API_KEY``, ``B24C_B24_CLIENT_SECRET``),
    made by ``b24claude privacy encrypt-secret`` and decrypted at start-up. Rotation does not touch
    settings: re-encrypt them before dropping the key they were made with.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from b24claude.errors import ConfigurationError
from b24claude.settings import Settings

STORED_PREFIX = "fernet:"
SETTING_PREFIX = "enc:"
DIGEST_PREFIX = "digest:"

_HKDF_INFO = b"b24claude digest key v1"
_KEY_FILE_HEADER = (
    "# b24claude secret keys. Keep this file private (mode 0600) and back it up: without it the\n"
    "# encrypted tokens and PII vault values in the database cannot be read.\n"
    "# 'digest:' is the HMAC key of the vault's search digests: never change it.\n"
    "# Fernet keys follow, newest first. Rotation: put a new key (`b24claude privacy new-key`) on the\n"
    "# first key line, run `b24claude privacy rotate-keys`, then delete the old key's line.\n"
)


def new_key() -> str:
    """A fresh Fernet key (urlsafe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode("ascii")


def new_digest_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def key_id(key: str) -> str:
    """A short, non-secret name of a key (for audit records and messages)."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:12]


def _fernet(key: str, where: str) -> Fernet:
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise ConfigurationError(
            f"{where}: not a Fernet key (32 bytes, urlsafe base64; make one with `b24claude privacy new-key`)"
        ) from None


def _digest_key(text: str, where: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii"))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raw = b""
    if len(raw) < 32:
        raise ConfigurationError(f"{where}: the digest key must be urlsafe base64 of at least 32 bytes")
    return raw


def _derive_digest_key(oldest: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
    return hkdf.derive(base64.urlsafe_b64decode(oldest.encode("ascii")))


class FernetCodec:
    """A :class:`b24claude.adapters.sql.codec.SecretsCodec`: ``fernet:`` tokens, legacy plain text."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def encode(self, plain: str) -> str:
        if not plain:
            return ""  # "no secret" stays visible as such (an uninstalled portal, a webhook)
        return STORED_PREFIX + self._keyring.encrypt(plain)

    def decode(self, stored: str) -> str:
        if not stored.startswith(STORED_PREFIX):
            return stored  # legacy plain text (written before encryption was configured)
        return self._keyring.decrypt(stored[len(STORED_PREFIX) :], what="a stored secret")

    def rekey(self, stored: str) -> str | None:
        """The stored form under the newest key, or ``None`` when ``stored`` needs no change.

        Plain text gets encrypted; a token of an older key is re-encrypted; empty values and tokens
        of the newest key are left alone. A token no configured key opens raises ConfigurationError.
        """
        if not stored:
            return None
        if not stored.startswith(STORED_PREFIX):
            return self.encode(stored)
        token = stored[len(STORED_PREFIX) :]
        if self._keyring.is_current(token):
            return None
        return STORED_PREFIX + self._keyring.reencrypt(token, what="a stored secret")


class Keyring:
    """The configured Fernet keys (newest first) and the digest key."""

    def __init__(self, keys: Sequence[str], *, digest_key: bytes, source: str) -> None:
        if not keys:
            raise ConfigurationError(f"{source}: no Fernet key configured")
        self.source = source  # where the keys came from, for messages ("B24C_SECRET_KEYS", a path)
        self._keys = [k.strip() for k in keys]
        self._fernets = [_fernet(k, f"{source}: key {i + 1}") for i, k in enumerate(self._keys)]
        self._multi = MultiFernet(self._fernets)
        self._digest_key = digest_key
        self.codec = FernetCodec(self)

    # --- building ------------------------------------------------------------------------------------

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        """From ``B24C_SECRET_KEYS`` when set, else from the key file (created when missing)."""
        configured = settings.secret_keys.get_secret_value().strip()
        if configured:
            return cls.parse([item for item in configured.split(",") if item.strip()], "B24C_SECRET_KEYS")
        return cls.from_file(Path(settings.secret_key_file))

    @classmethod
    def parse(cls, entries: Sequence[str], source: str) -> Keyring:
        """Fernet keys (newest first) plus at most one ``digest:<key>`` entry."""
        keys: list[str] = []
        digest: bytes | None = None
        for entry in (e.strip() for e in entries):
            if entry.startswith(DIGEST_PREFIX):
                if digest is not None:
                    raise ConfigurationError(f"{source}: more than one digest key")
                digest = _digest_key(entry[len(DIGEST_PREFIX) :].strip(), source)
            elif entry:
                keys.append(entry)
        if not keys:
            raise ConfigurationError(f"{source}: no Fernet key configured")
        for i, k in enumerate(keys):
            _fernet(k, f"{source}: key {i + 1}")  # a clear message before anything derives from it
        return cls(keys, digest_key=digest or _derive_digest_key(keys[-1]), source=source)

    @classmethod
    def from_file(cls, path: Path) -> Keyring:
        if not path.exists():
            _create_key_file(path)
        _check_key_file(path)
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"key file {path}: cannot be read ({type(exc).__name__})") from None
        entries = [line.split("#", 1)[0].strip() for line in text.splitlines()]
        return cls.parse([e for e in entries if e], f"key file {path}")

    # --- use -----------------------------------------------------------------------------------------

    @property
    def primary_id(self) -> str:
        """The non-secret id of the newest key."""
        return key_id(self._keys[0])

    @property
    def key_count(self) -> int:
        return len(self._keys)

    def encrypt(self, plain: str) -> str:
        """A Fernet token (no prefix) under the newest key."""
        return self._multi.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, *, what: str = "a secret") -> str:
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise self._wrong_key(what) from None

    def is_current(self, token: str) -> bool:
        """Whether the newest key opens ``token`` (then rotation leaves it alone)."""
        try:
            self._fernets[0].decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def reencrypt(self, token: str, *, what: str = "a secret") -> str:
        try:
            return self._multi.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise self._wrong_key(what) from None

    def _wrong_key(self, what: str) -> ConfigurationError:
        return ConfigurationError(
            f"{what} cannot be decrypted with any key of {self.source} (newest key id "
            f"{self.primary_id}): was a key dropped before `b24claude privacy rotate-keys` finished, "
            "or is this another installation's key?",
            code="secret_key_mismatch",
        )

    def digest(self, value: str) -> str:
        """HMAC-SHA256 (hex) under the digest key: stable through key rotations."""
        return hmac.new(self._digest_key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def digest_key_entry(self) -> str:
        """The ``digest:<key>`` entry that pins the current digest key (a secret: handle as a key)."""
        return DIGEST_PREFIX + base64.urlsafe_b64encode(self._digest_key).decode("ascii")

    def resolve(self, value: str, *, name: str = "a setting") -> str:
        """A settings value: ``enc:<token>`` decrypted, anything else as given."""
        if not value.startswith(SETTING_PREFIX):
            return value
        return self.decrypt(value[len(SETTING_PREFIX) :].strip(), what=name)

    def encrypt_setting(self, plain: str) -> str:
        return SETTING_PREFIX + self.encrypt(plain)

    new_key = staticmethod(new_key)


# --- the key file -----------------------------------------------------------------------------------


def _check_key_file(path: Path) -> None:
    try:
        st = path.stat()
    except OSError as exc:
        raise ConfigurationError(f"key file {path}: {type(exc).__name__}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigurationError(f"key file {path}: not a regular file")
    if os.name == "posix" and st.st_mode & 0o077:
        raise ConfigurationError(
            f"key file {path}: permissions {stat.S_IMODE(st.st_mode):04o} let others read the keys; "
            f"run `chmod 600 {path}`"
        )


def _create_key_file(path: Path) -> None:
    """Write a fresh key file atomically: a temporary file, then a hard link that fails if another
    process created the file first (then theirs is used)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    content = f"{_KEY_FILE_HEADER}{DIGEST_PREFIX}{new_digest_key()}\n{new_key()}\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, content.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: its file is the one
        except OSError:  # a file system without hard links
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, content.encode("ascii"))
            finally:
                os.close(fd)
    except OSError as exc:
        raise ConfigurationError(
            f"key file {path}: cannot be created ({type(exc).__name__}: {exc})"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
