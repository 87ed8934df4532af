"""Where a webhook may be sent: http(s) URLs whose host resolves only to public addresses.

An admin-registered URL must not turn the server into a proxy into its own network (SSRF):
loopback, private, link-local, multicast and other non-global addresses are refused unless
``NEWSLETTER_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES`` is on. The check runs at registration and
again before every attempt, and the sender connects to the very address it checked
(:func:`resolve_target`), so a DNS answer that changes in between (rebinding) cannot slip
a private address in.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from newsletter.errors import NewsletterError

URL_MAX = 2000
_DEFAULT_PORTS = {"http": 80, "https": 443}


class AddressRefused(NewsletterError):
    """A webhook URL is not one we send to; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one request goes: the checked address, and the name it is for (Host, SNI)."""

    url: str  # the URL with the host replaced by the checked IP address
    host_header: str
    server_name: str


def check_url(url: str, *, allow_private: bool) -> SplitResult:
    """The URL split; :class:`AddressRefused` for one never sent to, whatever it resolves to."""
    if len(url) > URL_MAX:
        raise AddressRefused(f"longer than {URL_MAX} characters")
    url = url.strip()
    if any(char.isspace() or not char.isprintable() for char in url):
        raise AddressRefused("spaces and control characters are not allowed in the URL")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError as exc:
        raise AddressRefused(f"not a URL ({exc})") from exc
    if parts.scheme not in _DEFAULT_PORTS:
        raise AddressRefused("only http:// and https:// URLs can receive webhooks")
    if parts.scheme != "https" and not allow_private:
        raise AddressRefused("use https:// (plain http is allowed only with private addresses on)")
    if not parts.hostname:
        raise AddressRefused("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("credentials in the URL are not allowed (they would be shown)")
    if parts.fragment:
        raise AddressRefused("a URL with a #fragment cannot be requested")
    return parts


def refused_address(address: str) -> str | None:
    """Why an IP address may not receive webhooks, or None when it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        ip = _embedded_ipv4(ip) or ip
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip in _LOCAL_NAT64:
        return f"{ip} is a local-use NAT64 address"
    if ip.is_multicast or not ip.is_global:
        return f"{ip} is a private, link-local or reserved address"
    return None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the well-known prefix: IPv4 in the low bits
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # a site's own translator (RFC 8215)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one is delivered to (mapped, NAT64, 6to4, IPv4-compatible;
    Teredo's 2001::/32 is refused whole): Python 3.11 calls most of these global, though a
    DNS64 network's gateway or a tunnel takes them straight into a private IPv4 network."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    low = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64:
        return low
    if int(ip) >> 32 == 0 and int(ip) > 1:  # ::a.b.c.d (not :: or ::1)
        return low
    return None


def resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Every address ``host`` resolves to, each allowed; else :class:`AddressRefused`."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise AddressRefused(f"cannot resolve {host!r} ({exc})") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise AddressRefused(f"{host!r} resolves to no address")
    if not allow_private:
        for address in addresses:
            why = refused_address(address)
            if why:
                raise AddressRefused(f"{host!r} resolves to {why}")
    return addresses


def check_endpoint_url(url: str, *, allow_private: bool) -> str:
    """The URL to store, after the shape and address checks of registration."""
    parts = check_url(url, allow_private=allow_private)
    assert parts.hostname is not None
    resolve(parts.hostname, _port(parts), allow_private=allow_private)
    return parts.geturl()


def resolve_target(url: str, *, allow_private: bool) -> Target:
    """Check ``url`` again and pin the request to the address checked (see the module doc)."""
    parts = check_url(url, allow_private=allow_private)
    host = parts.hostname
    assert host is not None
    address = resolve(host, _port(parts), allow_private=allow_private)[0]
    shown = f"[{address}]" if ":" in address else address
    netloc = shown if parts.port is None else f"{shown}:{parts.port}"
    host_header = parts.netloc  # no credentials: check_url refuses them
    pinned = parts._replace(netloc=netloc).geturl()
    return Target(url=pinned, host_header=host_header, server_name=host)


def _port(parts: SplitResult) -> int:
    return parts.port or _DEFAULT_PORTS[parts.scheme]
