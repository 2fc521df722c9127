"""The one outbound-URL check (kit.urls): what a portal address may be, in production and the sandbox."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from b24claude.adapters.bitrix24.client import Bitrix24Client
from b24claude.errors import Bitrix24AuthError
from b24claude.kit.clock import SystemClock
from b24claude.kit.urls import (
    UnsafeURL,
    check_host,
    check_url,
    is_public_address,
    oauth_origin,
    portal_endpoint,
    same_origin,
)
from b24claude.ports.bitrix import PortalAuth


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("acme.bitrix24.ru", "acme.bitrix24.ru"),
        ("ACME.Bitrix24.COM", "acme.bitrix24.com"),
        ("crm.my-company.co.uk", "crm.my-company.co.uk"),
        ("портал.рф", "xn--80awhdgm.xn--p1ai"),
        ("acme.bitrix24.ru.", "acme.bitrix24.ru"),
    ],
)
def test_public_names_pass_normalised(host: str, expected: str) -> None:
    assert check_host(host) == expected


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "IP address"),
        ("127.1", "IP address"),
        ("2130706433", "IP address"),  # 127.0.0.1 as one integer
        ("0x7f.0.0.1", "IP address"),
        ("0177.0.0.1", "IP address"),
        ("169.254.169.254", "IP address"),  # cloud metadata
        ("10.0.0.7", "IP address"),
        ("192.168.1.1", "IP address"),
        ("8.8.8.8", "IP address"),  # even a public literal: a portal has a name
        ("[::1]", "IP address"),
        ("::ffff:127.0.0.1", "IP address"),
        ("localhost", "local"),
        ("api.localhost", "private"),
        ("nas.local", "private"),
        ("metadata.google.internal", "private"),
        ("router.home.arpa", "private"),
        ("intranet", "fully qualified"),
        ("-bad.example.com", "valid domain"),
        ("bad_name.example.com", "valid domain"),
        ("a" * 64 + ".com", "valid domain"),
        (("a" * 60 + ".") * 5 + "com", "longer"),
        ("evil.com ", "white space"),
        ("evil.com\n", "white space"),
        ("", "empty"),
    ],
)
def test_non_public_hosts_are_refused(host: str, reason: str) -> None:
    with pytest.raises(UnsafeURL, match=reason):
        check_host(host)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://acme.bitrix24.ru/rest/", "https"),
        ("ftp://acme.bitrix24.ru/rest/", "scheme"),
        ("https://user:pw@acme.bitrix24.ru/rest/", "credentials"),
        ("https://acme.bitrix24.ru@evil.com/rest/", "credentials"),
        ("https://acme.bitrix24.ru:8443/rest/", "port"),
        ("https://acme.bitrix24.ru:99999/rest/", "malformed"),
        ("https://acme.bitrix24.ru/rest/?a=1", "query"),
        ("https://acme.bitrix24.ru/rest/#x", "fragment"),
        ("https://acme.bitrix24.ru/rest/../admin/", "canonical"),
        ("https://acme.bitrix24.ru\\@evil.com/rest/", "backslash"),
        ("https://127.0.0.1/rest/", "IP address"),
        ("https://[::1]/rest/", "IP address"),
        ("https://" + "a" * 5000 + ".com/rest/", "longer"),
        ("", "empty"),
        ("rest/", "scheme"),
    ],
)
def test_unsafe_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURL, match=reason):
        check_url(url)


def test_path_rules() -> None:
    assert check_url("https://acme.bitrix24.ru/rest/", path="/rest/").url == "https://acme.bitrix24.ru/rest/"
    assert check_url("https://acme.bitrix24.ru/rest/1/abc/", path_prefix="/rest/").path == "/rest/1/abc/"
    with pytest.raises(UnsafeURL, match="path must be /rest/"):
        check_url("https://acme.bitrix24.ru/api/", path="/rest/")
    with pytest.raises(UnsafeURL, match="start with /rest/"):
        check_url("https://acme.bitrix24.ru/api/", path_prefix="/rest/")


def test_sandbox_lets_loopback_through_and_nothing_else() -> None:
    ok = check_url("http://127.0.0.1:8081/rest/", allow_loopback=True)
    assert (ok.scheme, ok.host, ok.port) == ("http", "127.0.0.1", 8081)
    assert check_url("http://localhost:9/rest/", allow_loopback=True).origin == "http://localhost:9"
    assert check_url("http://[::1]:9/rest/", allow_loopback=True).host == "[::1]"
    for url in (
        "http://10.0.0.7:8080/rest/",
        "http://169.254.169.254/rest/",
        "http://user:pw@127.0.0.1:9/rest/",
        "http://acme.bitrix24.ru/rest/",  # http only for loopback
        "https://acme.bitrix24.ru:8443/rest/",  # ports only for loopback
    ):
        with pytest.raises(UnsafeURL):
            check_url(url, allow_loopback=True)


def test_helpers() -> None:
    assert portal_endpoint("Acme.Bitrix24.ru") == "https://acme.bitrix24.ru/rest/"
    with pytest.raises(UnsafeURL):
        portal_endpoint("10.0.0.1")
    assert same_origin("https://a.bitrix24.ru/rest/", "https://A.bitrix24.ru/other/")
    assert not same_origin("https://a.bitrix24.ru/rest/", "https://b.bitrix24.ru/rest/")
    assert not same_origin("https://127.0.0.1/rest/", "https://127.0.0.1/rest/")
    assert oauth_origin("https://oauth.bitrix.info/rest/") == "https://oauth.bitrix.info"
    assert is_public_address("93.184.216.34") and is_public_address("2606:2800:220:1:248:1893:25c8:1946")
    for private in (
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
        "junk",
    ):
        assert not is_public_address(private), private


@given(st.text(max_size=80))
def test_check_url_only_ever_raises_unsafe_url(url: str) -> None:
    try:
        checked = check_url(url, allow_loopback=True)
    except UnsafeURL:
        return
    assert checked.scheme in ("http", "https") and checked.host


# --- the client side: every request, and the DNS check before a new portal's first call ------------


class _Store:
    def __init__(self, auth: PortalAuth) -> None:
        self.auth = auth

    async def load_auth(self, member_id: str) -> PortalAuth:
        return self.auth

    async def save_tokens(
        self, member_id: str, *, access_token: str, refresh_token: str, expires_at: float
    ) -> None:
        raise AssertionError("no refresh expected")


def _refusing_transport(seen: list[httpx.Request]) -> httpx.MockTransport:
    # A transport that records: nothing may reach it (this is no Bitrix24 emulation, just a tripwire).
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(599)

    return httpx.MockTransport(handler)


async def test_client_refuses_a_stored_unsafe_endpoint_without_sending() -> None:
    seen: list[httpx.Request] = []
    auth = PortalAuth(member_id="m", client_endpoint="https://169.254.169.254/rest/", access_token="t")
    async with httpx.AsyncClient(transport=_refusing_transport(seen)) as http:
        client = Bitrix24Client(
            _Store(auth),
            oauth_client_id="c",
            oauth_client_secret="s",
            oauth_url="https://oauth.bitrix.info",
            http=http,
            clock=SystemClock(),
        )
        with pytest.raises(Bitrix24AuthError, match="endpoint refused"):
            await client.call("m", "app.info")
    assert seen == []


@pytest.mark.parametrize("addresses", [["10.0.0.5"], ["93.184.216.34", "127.0.0.1"], []])
async def test_install_call_refuses_a_name_resolving_to_a_private_address(addresses: list[str]) -> None:
    seen: list[httpx.Request] = []

    async def resolve(host: str) -> list[str]:
        assert host == "acme.bitrix24.ru"
        return addresses

    async with httpx.AsyncClient(transport=_refusing_transport(seen)) as http:
        client = Bitrix24Client(
            _Store(PortalAuth(member_id="m", client_endpoint="")),
            oauth_client_id="c",
            oauth_client_secret="s",
            oauth_url="https://oauth.bitrix.info",
            http=http,
            clock=SystemClock(),
            resolve=resolve,
        )
        with pytest.raises(Bitrix24AuthError, match="non-public"):
            await client.call_with("m", "https://acme.bitrix24.ru/rest/", "token", "app.info")
    assert seen == []


def test_a_portal_download_link_must_be_on_the_portals_own_origin() -> None:
    from b24claude.kit.urls import check_portal_download

    endpoint = "https://acme.bitrix24.ru/rest/"
    link = "https://acme.bitrix24.ru/rest/download.json?auth=abc&token=disk%7CaWQ9OTA0Mw"
    assert check_portal_download(link, endpoint) == link  # the query (auth, token) is kept as given
    for bad in (
        "https://files.elsewhere.com/rest/download.json?token=disk%7Cx",  # another host
        "https://acme.bitrix24.ru.evil.com/rest/download.json?token=x",  # a look-alike host
        "http://acme.bitrix24.ru/rest/download.json?token=x",  # not https
        "https://acme.bitrix24.ru:8443/rest/download.json?token=x",  # a port of someone's choosing
        "https://user@acme.bitrix24.ru/rest/download.json?token=x",  # credentials
        "https://acme.bitrix24.ru/rest/../x?token=x",  # not canonical
        "https://acme.bitrix24.ru/rest/download.json?token=x#frag",
        "",
    ):
        with pytest.raises(UnsafeURL):
            check_portal_download(bad, endpoint)
    # the sandbox: loopback with the emulator's own port only
    assert check_portal_download(
        "http://127.0.0.1:8001/rest/download.json?token=x", "http://127.0.0.1:8001/rest/", allow_loopback=True
    )
    with pytest.raises(UnsafeURL):
        check_portal_download(
            "http://127.0.0.1:9999/x?token=x", "http://127.0.0.1:8001/rest/", allow_loopback=True
        )
