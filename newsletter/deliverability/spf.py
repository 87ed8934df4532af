"""SPF records (RFC 7208): parse one, and ask whether it authorizes an address or a provider.

Enough of ``check_host`` for a sender's own check: ``ip4``/``ip6``/``a``/``mx``/``include``
and ``redirect`` are followed through the DNS; ``exists`` and ``ptr`` (which depend on the
connecting host) are counted but never match. Terms that cause DNS lookups are counted over
the whole tree: past 10, receivers return ``permerror`` and SPF fails for every message.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from newsletter.deliverability.lookup import Dns

MAX_LOOKUPS = 10
_MECHANISMS = {"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"}
_LOOKUP_TERMS = {"include", "a", "mx", "ptr", "exists", "redirect"}
_TERM = re.compile(r"([+\-~?]?)([a-z0-9]+)(?:([:=])(.*))?", re.I)


class SpfSyntaxError(ValueError):
    """The record is not valid SPF; receivers return ``permerror``."""


@dataclass(frozen=True)
class Term:
    qualifier: str  # + - ~ ?
    name: str  # mechanism or modifier name, lower case
    value: str | None


@dataclass(frozen=True)
class SpfRecord:
    terms: tuple[Term, ...]

    @property
    def all_qualifier(self) -> str | None:
        return next((t.qualifier for t in self.terms if t.name == "all"), None)

    def modifier(self, name: str) -> str | None:
        return next((t.value for t in self.terms if t.name == name and t.qualifier == "="), None)


def parse_spf(text: str) -> SpfRecord:
    """One ``v=spf1 …`` record, or :class:`SpfSyntaxError` naming the first bad term."""
    words = text.split()
    if not words or words[0].lower() != "v=spf1":
        raise SpfSyntaxError("does not start with v=spf1")
    terms = []
    for word in words[1:]:
        match = _TERM.fullmatch(word)
        if not match:
            raise SpfSyntaxError(f"bad term {word!r}")
        qualifier, name, sep, value = match.groups()
        name = name.lower()
        if sep == "=":
            if qualifier or name in _MECHANISMS:
                raise SpfSyntaxError(f"bad modifier {word!r}")
            terms.append(Term("=", name, value))
            continue
        if name not in _MECHANISMS:
            raise SpfSyntaxError(f"unknown mechanism {word!r}")
        _check_value(word, name, value)
        terms.append(Term(qualifier or "+", name, value))
    return SpfRecord(tuple(terms))


def _check_value(word: str, name: str, value: str | None) -> None:
    if name in ("include", "exists") and not value:
        raise SpfSyntaxError(f"{word!r} needs a domain")
    if name in ("ip4", "ip6"):
        try:
            network = ipaddress.ip_network(value or "", strict=False)
        except ValueError:
            raise SpfSyntaxError(f"bad address in {word!r}") from None
        if network.version != int(name[-1]):
            raise SpfSyntaxError(f"{word!r}: not an IPv{name[-1]} address")
    if name == "all" and value is not None:
        raise SpfSyntaxError(f"{word!r}: all takes no value")


def spf_records(dns: Dns, domain: str) -> list[str]:
    """The TXT records at ``domain`` that are SPF (receivers want exactly one)."""
    return [t for t in dns.txt(domain) if t.lower().split(" ", 1)[0] == "v=spf1"]


@dataclass
class Evaluation:
    """What following a record's tree found: lookups made, includes seen, the verdict."""

    lookups: int = 0
    includes: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def authorizes(dns: Dns, domain: str, addresses: list[str], found: Evaluation) -> bool:
    """Whether ``domain``'s SPF passes every one of ``addresses`` (follows the includes)."""
    return all(_passes(dns, domain, ipaddress.ip_address(a), found, 0) for a in addresses)


def walk(dns: Dns, domain: str, found: Evaluation) -> None:
    """Follow the record's includes and redirect (to count lookups and collect includes)."""
    _passes(dns, domain, None, found, 0)


def _passes(
    dns: Dns,
    domain: str,
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    found: Evaluation,
    depth: int,
) -> bool:
    records = spf_records(dns, domain)
    if len(records) != 1 or depth > MAX_LOOKUPS:
        found.errors.append(f"{domain}: {len(records)} SPF records")
        return False
    try:
        record = parse_spf(records[0])
    except SpfSyntaxError as exc:
        found.errors.append(f"{domain}: {exc}")
        return False
    for term in record.terms:
        if term.name in _LOOKUP_TERMS:
            found.lookups += 1
        if term.qualifier == "=":
            continue
        if term.name == "include" and term.value:
            found.includes.add(term.value.lower())
        matched = _matches(dns, domain, term, address, found, depth)
        if matched and address is not None:
            return term.qualifier == "+"
    redirect = record.modifier("redirect")
    if redirect:
        found.lookups += 1
        return _passes(dns, redirect, address, found, depth + 1)
    return False


def _matches(
    dns: Dns,
    domain: str,
    term: Term,
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    found: Evaluation,
    depth: int,
) -> bool:
    name = term.name
    if name == "include":
        assert term.value is not None
        return _passes(dns, term.value, address, found, depth + 1)
    if address is None:
        return False
    if name == "all":
        return True
    if name in ("ip4", "ip6"):
        return address in ipaddress.ip_network(term.value or "", strict=False)
    if name in ("a", "mx"):
        target, _, cidr = (term.value or domain).partition("/")
        hosts = [target] if name == "a" else [h for _, h in dns.mx(target or domain)]
        prefix = int(cidr) if cidr.isdigit() else address.max_prefixlen
        for host in hosts:
            for ip in dns.addresses(host):
                network = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
                if network.version == address.version and address in network:
                    return True
    return False
