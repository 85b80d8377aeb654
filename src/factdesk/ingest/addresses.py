"""Which addresses factdesk may fetch on a user's behalf: public ones only, unless configured.

Once people can name URLs (on the command line, in a feed, from Slack), the bot must not be made
to reach cloud metadata, loopback services or the office network (server-side request forgery).
Every address a host name resolves to is checked, on every request of a redirect chain, and again
when the connection is opened, so a name that changes its answer between the two (DNS
rebinding) still only ever reaches the address that was checked.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import httpcore

from factdesk.errors import FetchError

ALLOW_HINT = "FACTDESK_FETCH_ALLOW_PRIVATE=true allows it"
# IETF protocol assignments (192.0.0.8 is the "dummy" address): not reachable on the internet,
# except the two anycast services IANA lists as global.
_PROTOCOL_ASSIGNMENTS = ipaddress.ip_network("192.0.0.0/24")
_GLOBAL_ASSIGNMENTS = frozenset(ipaddress.ip_address(a) for a in ("192.0.0.9", "192.0.0.10"))


class BlockedAddress(FetchError):
    """A URL whose host is, or resolves to, a loopback, private, link-local or reserved address."""

    def __init__(self, host: str, address: str, kind: str) -> None:
        self.host, self.address, self.kind = host, address, kind
        self.shown = host if host == address else f"{host} ({address})"
        super().__init__(f"{self.shown} is {_a(kind)} address: refused ({ALLOW_HINT})")

    def after_redirect(self) -> FetchError:
        return FetchError(
            f"redirected to {self.shown}, {_a(self.kind)} address: refused ({ALLOW_HINT})"
        )


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def address_kind(address: str) -> str | None:
    """What makes an IP address internal ("loopback", "private" ...), or None if it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one (mapped, or 6to4's 2002::/16) reaches that IPv4
        # address: it is what counts.
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is not None:
            return address_kind(str(inner))
        if ip.is_site_local:  # fec0::/10, deprecated but still routed inside networks
            return "private"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (cloud metadata)" if str(ip).startswith("169.254.") else "link-local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved"
    assigned = isinstance(ip, ipaddress.IPv4Address) and ip in _PROTOCOL_ASSIGNMENTS
    if assigned and ip not in _GLOBAL_ASSIGNMENTS:
        return "reserved"  # Python before 3.13 calls 192.0.0.8 global
    return None


def public_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to; BlockedAddress if any is internal, FetchError if none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"cannot resolve {host}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        if kind := address_kind(address):
            raise BlockedAddress(host, address, kind)
    return addresses


def check_url(url: Any) -> None:
    """Refuse an httpx URL whose host is internal (used as a request hook, on every redirect)."""
    port = url.port or (443 if url.scheme == "https" else 80)
    public_addresses(url.host, port)


class PublicOnlyBackend(httpcore.NetworkBackend):
    """Opens connections only to checked public addresses: the address connected to is the one
    that was checked, whatever the name resolves to a moment later."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        address = public_addresses(host, port)[0]
        return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        raise FetchError("refused: a Unix socket is not a web address")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
