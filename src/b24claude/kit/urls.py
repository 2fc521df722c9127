"""The one check for every outbound URL built from outside input (issue: forged installs).

An install, an event or a frame names hosts — the portal's ``domain``, its ``client_endpoint``,
later features' callback URLs. Each of them is hostile until checked: the service must never be
made to call loopback, the cloud metadata address, a private network, or a URL with credentials or
a port of the caller's choosing. Everything that builds such a URL goes through :func:`check_url`
(or :func:`check_host` for a bare host name); nothing else parses them.

``allow_loopback`` exists for the sandbox alone (``B24C_SANDBOX=true``): the emulators listen on
``http://127.0.0.1:<port>``. Even then only loopback is let through — never a private or link-local
address, never credentials.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HOST_CHARS = 253
MAX_URL_CHARS = 2048
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Names that are never a public host, whatever they resolve to (RFC 6761, RFC 8375, common intranets).
_PRIVATE_SUFFIXES = (
    ".localhost",
    ".local",
    ".localdomain",
    ".internal",
    ".intranet",
    ".lan",
    ".home",
    ".home.arpa",
    ".corp",
    ".test",
    ".invalid",
    ".example",
    ".onion",
    ".arpa",
)
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


# The Bitrix24 OAuth servers (international docs / Russian docs, settings/oauth/index.md). An
# install's server_endpoint must name one of these or the configured server: compared, never called.
KNOWN_OAUTH_SERVERS = ("https://oauth.bitrix.info", "https://oauth.bitrix24.tech")


class UnsafeURL(ValueError):
    """A URL or host that the service must not call; the message says why, for a 400 reason."""


@dataclass(frozen=True, slots=True)
class CheckedURL:
    """A URL that passed :func:`check_url`: its parts, normalised (host lower case, IDNA)."""

    scheme: str
    host: str
    port: int | None
    path: str

    @property
    def origin(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{self.host}{port}"

    @property
    def url(self) -> str:
        return self.origin + self.path


def check_host(host: str, *, allow_loopback: bool = False) -> str:
    """A well-formed public DNS name (lower case, IDNA-encoded), else :class:`UnsafeURL`.

    IP literals of any spelling (dotted, bracketed IPv6, a bare integer, hex or octal parts), and
    names that are private by definition, are refused. With ``allow_loopback`` a loopback address
    or ``localhost`` passes too (the sandbox), and nothing else that is not public.
    """
    if not isinstance(host, str) or not host:
        raise UnsafeURL("host is empty")
    raw = host.strip()
    if raw != host or any(ch.isspace() or ord(ch) < 0x20 for ch in raw):
        raise UnsafeURL("host contains white space or control characters")
    raw = raw.rstrip(".") if raw.endswith(".") and not raw.endswith("..") else raw
    candidate = raw[1:-1] if raw.startswith("[") and raw.endswith("]") else raw
    address = _ip_literal(candidate)
    if address is not None:
        if allow_loopback and address.is_loopback:
            return str(address) if address.version == 4 else f"[{address}]"
        raise UnsafeURL("host is an IP address, not a portal's domain name")
    try:
        name = candidate.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise UnsafeURL("host is not a valid domain name") from None
    if name in _LOOPBACK_NAMES:
        if allow_loopback:
            return name
        raise UnsafeURL("host is a local or private name")
    if len(name) > MAX_HOST_CHARS:
        raise UnsafeURL(f"host is longer than {MAX_HOST_CHARS} characters")
    labels = name.split(".")
    if len(labels) < 2:
        raise UnsafeURL("host is not a fully qualified domain name")
    if not all(_LABEL.match(label) for label in labels):
        raise UnsafeURL("host is not a valid domain name")
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        raise UnsafeURL("host is not a valid domain name")
    if any(("." + name).endswith(s) for s in _PRIVATE_SUFFIXES):
        raise UnsafeURL("host is a local or private name")
    return name


def check_url(
    url: str,
    *,
    allow_loopback: bool = False,
    path: str | None = None,
    path_prefix: str | None = None,
) -> CheckedURL:
    """An ``https`` URL to a public host, with no credentials, port, query or fragment.

    ``path``: the path must be exactly this; ``path_prefix``: it must start with this. In the
    sandbox (``allow_loopback``) a loopback host may use ``http`` and a port.
    """
    if not isinstance(url, str) or not url:
        raise UnsafeURL("URL is empty")
    if len(url) > MAX_URL_CHARS:
        raise UnsafeURL(f"URL is longer than {MAX_URL_CHARS} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\\" for ch in url):
        raise UnsafeURL("URL contains white space, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("URL is malformed") from None
    if parts.scheme not in ("https", "http"):
        raise UnsafeURL("URL scheme must be https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeURL("URL must not carry credentials")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise UnsafeURL("URL must not carry a query or a fragment")
    host = check_host(parts.hostname or "", allow_loopback=allow_loopback)
    loopback = is_loopback_host(host)
    if parts.scheme != "https" and not loopback:
        raise UnsafeURL("URL scheme must be https")
    if port is not None and not loopback:
        raise UnsafeURL("URL must not name a port")
    url_path = parts.path or "/"
    if ".." in url_path.split("/") or "//" in url_path:
        raise UnsafeURL("URL path is not canonical")
    if path is not None and url_path != path:
        raise UnsafeURL(f"URL path must be {path}")
    if path_prefix is not None and not url_path.startswith(path_prefix):
        raise UnsafeURL(f"URL path must start with {path_prefix}")
    return CheckedURL(parts.scheme, host, port, url_path)


def check_portal_download(url: str, client_endpoint: str, *, allow_loopback: bool = False) -> str:
    """A file download URL a portal handed out (Disk's ``DOWNLOAD_URL``), checked to be on that
    portal's own origin: https (loopback http in the sandbox), the same host and port as
    ``client_endpoint``, no credentials or fragment, a canonical path. Its query (``auth=…&token=…``)
    is kept as given. Returns the URL; refuses anything else with :class:`UnsafeURL`."""
    if not isinstance(url, str) or not url:
        raise UnsafeURL("URL is empty")
    if len(url) > MAX_URL_CHARS:
        raise UnsafeURL(f"URL is longer than {MAX_URL_CHARS} characters")
    head, sep, query = url.partition("?")
    if "#" in url:
        raise UnsafeURL("URL must not carry a fragment")
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\\" for ch in query):
        raise UnsafeURL("URL contains white space, control characters or backslashes")
    checked = check_url(head, allow_loopback=allow_loopback)
    portal = check_url(client_endpoint, allow_loopback=allow_loopback, path_prefix="/rest/")
    if checked.origin != portal.origin:
        raise UnsafeURL(f"download URL is not on the portal's own host {portal.host}")
    return checked.url + (sep + query if sep else "")


def portal_endpoint(domain: str) -> str:
    """The REST endpoint Bitrix24 serves a portal's OAuth calls at: ``https://<domain>/rest/``."""
    return f"https://{check_host(domain)}/rest/"


def same_origin(a: str, b: str, *, allow_loopback: bool = False) -> bool:
    """True when both URLs pass :func:`check_url` and name the same scheme, host and port."""
    try:
        return (
            check_url(a, allow_loopback=allow_loopback).origin
            == check_url(b, allow_loopback=allow_loopback).origin
        )
    except UnsafeURL:
        return False


def oauth_origin(url: str) -> str:
    """``https://oauth.bitrix.info/rest/`` → ``https://oauth.bitrix.info`` (lower case, no tail)."""
    endpoint = url.strip().rstrip("/")
    if endpoint.endswith("/rest"):
        endpoint = endpoint[: -len("/rest")]
    return endpoint.lower()


def is_public_address(address: str) -> bool:
    """For resolved addresses: True only for a globally routable unicast address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (the only hosts the sandbox adds)."""
    if host in _LOOPBACK_NAMES:
        return True
    address = _ip_literal(host[1:-1] if host.startswith("[") else host)
    return address is not None and address.is_loopback


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host string denotes as an IP literal, in any spelling ``inet_aton`` accepts
    (``127.1``, ``2130706433``, ``0x7f.0.0.1``, ``0177.0.0.1``), else None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(parts):
        return None
    values: list[int] = []
    for part in parts:
        try:
            if part.lower().startswith("0x"):
                values.append(int(part, 16))
            elif len(part) > 1 and part.startswith("0"):
                values.append(int(part, 8))
            elif part.isdigit():
                values.append(int(part))
            else:
                return None
        except ValueError:
            return None
    # inet_aton: the last part fills the remaining bytes.
    head, last = values[:-1], values[-1]
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    number = number * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(number)
