"""DNS lookups for the checks, through dnspython with the configured resolver and timeouts.

``NEWSLETTER_DNS_RESOLVER`` names one server (``HOST`` or ``HOST:PORT``; tests point it at a
dnslib server on loopback); unset, the system's resolvers answer. Every query is bounded by
``NEWSLETTER_DNS_TIMEOUT``. A name that does not exist, or has no record of the type, is an
empty answer; anything else (timeout, SERVFAIL) is a :class:`LookupFailed` naming the query.
"""

from __future__ import annotations

import ipaddress

import dns.exception
import dns.rdata
import dns.rdatatype
import dns.resolver
import dns.reversename

from newsletter.config import Settings
from newsletter.errors import ConfigurationError


class LookupFailed(Exception):
    """The DNS gave no usable answer (timeout, server failure): nothing can be concluded."""


def make_resolver(settings: Settings) -> dns.resolver.Resolver:
    """A resolver asking the configured server (or the system's), with bounded timeouts."""
    if settings.dns_resolver:
        host, port = parse_server(settings.dns_resolver)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    else:
        resolver = dns.resolver.Resolver()
    resolver.timeout = settings.dns_timeout
    resolver.lifetime = settings.dns_timeout
    resolver.cache = None
    return resolver


def parse_server(value: str) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT`` or ``[IPv6]:PORT`` as an IP address and a port."""
    text = value.strip()
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        return str(ipaddress.ip_address(host)), int(port)
    except ValueError:
        raise ConfigurationError(
            f"NEWSLETTER_DNS_RESOLVER must be an IP address with an optional port "
            f"(e.g. 127.0.0.1:5353), got {value!r}"
        ) from None


class Dns:
    """The few queries the checks make, with DNS errors turned into empty answers or
    :class:`LookupFailed`. Counts queries, so tests can bound them."""

    def __init__(self, resolver: dns.resolver.Resolver) -> None:
        self.resolver = resolver
        self.queries = 0

    def _answer(self, name: str, rdtype: str) -> list[dns.rdata.Rdata]:
        self.queries += 1
        try:
            answer = self.resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return []
        except (dns.exception.DNSException, OSError) as exc:
            raise LookupFailed(f"{rdtype} {name}: {type(exc).__name__}: {exc}") from exc
        wanted = dns.rdatatype.from_text(rdtype)
        return [rdata for rrset in answer.response.answer if rrset.rdtype == wanted
                for rdata in rrset]  # fmt: skip

    def txt(self, name: str) -> list[str]:
        """Each TXT record at ``name``, its strings joined (as SPF, DKIM and DMARC read them)."""
        return [
            b"".join(rdata.strings).decode("utf-8", "replace")  # type: ignore[attr-defined]
            for rdata in self._answer(name, "TXT")
        ]

    def cname(self, name: str) -> str | None:
        found = self._answer(name, "CNAME")
        return str(found[0].target).rstrip(".").lower() if found else None  # type: ignore[attr-defined]

    def addresses(self, name: str) -> list[str]:
        """The IPv4 and IPv6 addresses of ``name`` (or ``name`` itself if it is an address)."""
        try:
            return [str(ipaddress.ip_address(name))]
        except ValueError:
            pass
        return [r.address for r in self._answer(name, "A") + self._answer(name, "AAAA")]  # type: ignore[attr-defined]

    def mx(self, name: str) -> list[tuple[int, str]]:
        return sorted(
            (r.preference, str(r.exchange).rstrip(".").lower())  # type: ignore[attr-defined]
            for r in self._answer(name, "MX")
        )

    def ptr(self, address: str) -> list[str]:
        reverse = dns.reversename.from_address(address).to_text()
        return [str(r.target).rstrip(".").lower() for r in self._answer(reverse, "PTR")]  # type: ignore[attr-defined]


def reverse_name(address: str) -> str:
    """``10.2.0.192.in-addr.arpa`` for ``192.0.2.10`` (the PTR record's name)."""
    return str(dns.reversename.from_address(address)).rstrip(".")


def dkim_txt_function(dns_: Dns) -> object:
    """A ``dnsfunc`` for dkimpy's ``verify``: its TXT lookups through this resolver."""

    def get_txt(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode("ascii") if isinstance(name, bytes) else name
        records = dns_.txt(text.rstrip("."))
        return records[0].encode("utf-8") if records else None

    return get_txt
