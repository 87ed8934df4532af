"""`newsletter domain check`: would a receiver trust mail from this domain, as configured?

Reads the DNS as Gmail or Outlook would and compares it with the settings: SPF authorizes
the provider (SendGrid's include, or the SMTP relay's addresses), DKIM publishes the key we
sign with (or SendGrid's domain-authentication CNAMEs), DMARC exists, parses and aligns with
the From address, the bounce domain has an MX, and the SMTP relay's address has a
forward-confirmed reverse name. Each finding is pass, warn or fail; a failure carries the
exact record to publish when there is one to give. The CLI only formats this report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from newsletter.config import Settings
from newsletter.deliverability import spf
from newsletter.deliverability.dkim import (
    aligned,
    dkim_config,
    dns_name,
    load_private_key,
    public_key_b64,
    zone_line,
)
from newsletter.deliverability.lookup import Dns, LookupFailed, make_resolver, reverse_name
from newsletter.errors import ConfigurationError

SENDGRID_INCLUDE = "sendgrid.net"
_DMARC_POLICIES = ("none", "quarantine", "reject")


class Status(StrEnum):
    PASS = "pass"  # noqa: S105  (a status, not a password)
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    """One check's verdict: what was looked at, what was found, and what to publish."""

    check: str
    name: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass(frozen=True)
class DomainReport:
    domain: str
    provider: str
    findings: tuple[Finding, ...]

    @property
    def failed(self) -> bool:
        return any(f.status is Status.FAIL for f in self.findings)

    def as_dict(self) -> dict[str, object]:
        return {
            "domain": self.domain,
            "provider": self.provider,
            "failed": self.failed,
            "findings": [asdict(f) for f in self.findings],
        }


@dataclass(frozen=True)
class _Context:
    """What the settings say the DNS should show."""

    domain: str
    from_domain: str
    bounce_domain: str
    provider: str
    relay: str | None


def check_domain(settings: Settings, domain: str | None = None) -> DomainReport:
    """Every check for ``domain`` (default: the From address's domain) against ``settings``."""
    from_domain = dns_name(settings.from_email.rpartition("@")[2], "NEWSLETTER_FROM_EMAIL")
    checked = dns_name(domain, "domain") if domain else from_domain
    relay = urlsplit(settings.smtp_url).hostname if settings.smtp_url else None
    context = _Context(
        domain=checked,
        from_domain=from_domain,
        bounce_domain=dns_name(settings.bounce_domain or from_domain, "NEWSLETTER_BOUNCE_DOMAIN"),
        provider=settings.provider,
        relay=relay if settings.provider == "smtp" else None,
    )
    dns = Dns(make_resolver(settings))
    checks: list[Callable[[], list[Finding]]] = [
        lambda: _spf(dns, context),
        lambda: _dkim(dns, context, settings),
        lambda: _dmarc(dns, context, settings),
        lambda: _mx(dns, context),
        lambda: _ptr(dns, context),
    ]
    findings: list[Finding] = []
    for index, check in enumerate(checks):
        try:
            findings += check()
        except (LookupFailed, ConfigurationError) as exc:
            name = ("SPF", "DKIM", "DMARC", "MX", "PTR")[index]
            why = f"DNS lookup failed: {exc}" if isinstance(exc, LookupFailed) else str(exc)
            findings.append(Finding(name, context.domain, Status.FAIL, why))
    return DomainReport(checked, settings.provider, tuple(findings))


# SPF


def _spf_wanted(dns: Dns, context: _Context) -> tuple[str, list[str]]:
    """The mechanism our provider needs in SPF, and the relay's addresses (SMTP only)."""
    if context.provider == "sendgrid":
        return f"include:{SENDGRID_INCLUDE}", []
    if context.relay:
        addresses = dns.addresses(context.relay)
        literal = addresses == [context.relay]
        if literal:
            return f"ip{'6' if ':' in context.relay else '4'}:{context.relay}", addresses
        return f"a:{context.relay}", addresses
    return "", []


def _spf(dns: Dns, context: _Context) -> list[Finding]:
    domain = context.domain
    mechanism, addresses = _spf_wanted(dns, context)
    suggested = f"v=spf1 {mechanism} ~all".replace("  ", " ")
    fix = zone_line(domain, suggested)
    records = spf.spf_records(dns, domain)
    if not records:
        return [Finding("SPF", domain, Status.FAIL, "no SPF record", fix)]
    if len(records) > 1:
        detail = f"{len(records)} SPF records (receivers return permerror): keep one"
        return [Finding("SPF", domain, Status.FAIL, detail, fix)]
    try:
        record = spf.parse_spf(records[0])
    except spf.SpfSyntaxError as exc:
        return [Finding("SPF", domain, Status.FAIL, f"invalid SPF ({exc}): {records[0]}", fix)]
    tree = spf.Evaluation()
    spf.walk(dns, domain, tree)
    if tree.lookups > spf.MAX_LOOKUPS:
        detail = (
            f"{tree.lookups} DNS lookups (limit {spf.MAX_LOOKUPS}): receivers return "
            "permerror; flatten includes into ip4:/ip6: ranges"
        )
        return [Finding("SPF", domain, Status.FAIL, detail, fix)]
    if tree.errors:
        detail = f"an included record is broken: {'; '.join(tree.errors)}"
        return [Finding("SPF", domain, Status.FAIL, detail, fix)]
    return [_spf_coverage(dns, context, record, records[0], mechanism, addresses)]


def _spf_coverage(
    dns: Dns,
    context: _Context,
    record: spf.SpfRecord,
    text: str,
    mechanism: str,
    addresses: list[str],
) -> Finding:
    domain = context.domain
    terms = [t for t in text.split()[1:] if t.lower().lstrip("+-~?") != "all"]
    wanted = [mechanism] if mechanism and mechanism not in terms else []
    fixed = zone_line(domain, " ".join(["v=spf1", *terms, *wanted, "~all"]))
    if context.provider == "sendgrid":
        found = spf.Evaluation()
        spf.walk(dns, domain, found)
        if SENDGRID_INCLUDE not in found.includes:
            return Finding("SPF", domain, Status.FAIL, f"does not include {SENDGRID_INCLUDE}",
                           fixed)  # fmt: skip
    elif context.relay:
        found = spf.Evaluation()
        if not addresses:
            detail = f"the SMTP relay {context.relay} has no address in the DNS"
            return Finding("SPF", domain, Status.FAIL, detail)
        if not spf.authorizes(dns, domain, addresses, found):
            detail = f"does not authorize the SMTP relay {context.relay} ({', '.join(addresses)})"
            return Finding("SPF", domain, Status.FAIL, detail, fixed)
    qualifier = record.all_qualifier
    if qualifier == "+":
        return Finding("SPF", domain, Status.FAIL, "+all lets anyone send as this domain", fixed)
    if qualifier not in ("-", "~"):
        return Finding("SPF", domain, Status.WARN, "no ~all or -all: others are not refused")
    what = f"authorizes {mechanism}" if mechanism else "valid"
    return Finding("SPF", domain, Status.PASS, f"{what}: {text}")


# DKIM


def _dkim(dns: Dns, context: _Context, settings: Settings) -> list[Finding]:
    if context.provider == "sendgrid":
        return _sendgrid_dkim(dns, context, settings)
    missing = Status.WARN if context.provider == "outbox" else Status.FAIL
    try:
        config = dkim_config(settings)
    except ConfigurationError as exc:
        return [Finding("DKIM", context.domain, Status.FAIL, str(exc))]
    if config is None:
        detail = "no DKIM key configured: run `newsletter dkim keygen` and set NEWSLETTER_DKIM_*"
        return [Finding("DKIM", context.domain, missing, detail)]
    name = config.record_name
    key = load_private_key(config.key_file)
    ours = public_key_b64(key)
    fix = zone_line(name, f"v=DKIM1; k=rsa; p={ours}")
    if not aligned(f"x@{context.from_domain}", config.domain):
        detail = f"d={config.domain} does not align with the From domain {context.from_domain}"
        return [Finding("DKIM", name, Status.FAIL, detail)]
    records = [t for t in dns.txt(name) if "p=" in t]
    if not records:
        return [Finding("DKIM", name, Status.FAIL, "no DKIM record for the selector", fix)]
    tags = _tags(records[0])
    if tags is None or tags.get("v", "DKIM1") != "DKIM1" or tags.get("k", "rsa") != "rsa":
        return [Finding("DKIM", name, Status.FAIL, f"invalid DKIM record: {records[0]}", fix)]
    if "".join(tags.get("p", "").split()) != ours:
        detail = f"the published key is not the key in {config.key_file}"
        return [Finding("DKIM", name, Status.FAIL, detail, fix)]
    return [Finding("DKIM", name, Status.PASS, f"publishes the signing key (d={config.domain})")]


def _sendgrid_dkim(dns: Dns, context: _Context, settings: Settings) -> list[Finding]:
    """SendGrid's domain authentication: CNAMEs pointing at sendgrid.net hosts."""
    names = [f"s1._domainkey.{context.domain}", f"s2._domainkey.{context.domain}"]
    if settings.sendgrid_return_path:
        names.append(dns_name(settings.sendgrid_return_path, "NEWSLETTER_SENDGRID_RETURN_PATH"))
    findings = []
    for name in names:
        target = dns.cname(name)
        if target and (target == SENDGRID_INCLUDE or target.endswith("." + SENDGRID_INCLUDE)):
            findings.append(Finding("DKIM", name, Status.PASS, f"CNAME {target}"))
            continue
        label = name.split(".", 1)[0]
        example = f"{label}.domainkey.u1234567.wl.sendgrid.net" if "_domainkey" in name else (
            "u1234567.wl.sendgrid.net"
        )  # fmt: skip
        detail = (
            f"CNAME {target} is not a {SENDGRID_INCLUDE} host" if target else "no CNAME"
        ) + " (copy the exact target from SendGrid's Sender Authentication page)"
        findings.append(Finding("DKIM", name, Status.FAIL, detail, f"{name}. IN CNAME {example}."))
    return findings


# DMARC


def _dmarc(dns: Dns, context: _Context, settings: Settings) -> list[Finding]:
    from_domain = context.from_domain
    name = f"_dmarc.{from_domain}"
    fix = zone_line(name, f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{from_domain}")
    if context.domain != from_domain and not aligned(f"x@{from_domain}", context.domain):
        detail = (
            f"the From address {settings.from_email} is not in {context.domain}: DMARC "
            f"applies to {from_domain}"
        )
        return [Finding("DMARC", context.domain, Status.FAIL, detail)]
    found = _dmarc_record(dns, from_domain)
    if found is None:
        return [Finding("DMARC", name, Status.FAIL, "no DMARC record", fix)]
    where, text = found
    tags = _tags(text)
    problem = _dmarc_problem(tags)
    if problem:
        return [Finding("DMARC", where, Status.FAIL, f"{problem}: {text}", fix)]
    assert tags is not None
    misaligned = _dmarc_misaligned(tags, context, settings)
    if misaligned:
        return [Finding("DMARC", where, Status.FAIL, misaligned)]
    policy = tags["p"]
    if policy == "none":
        detail = "p=none: receivers only report; move to quarantine once reports are clean"
        return [Finding("DMARC", where, Status.WARN, detail)]
    return [Finding("DMARC", where, Status.PASS, f"p={policy}, aligned with {from_domain}")]


def _dmarc_record(dns: Dns, domain: str) -> tuple[str, str] | None:
    """The DMARC record for ``domain``, or for a parent (the organisational domain, taken
    here as any parent of two labels or more: no public-suffix list is consulted)."""
    labels = domain.split(".")
    for start in range(len(labels) - 1):
        name = "_dmarc." + ".".join(labels[start:])
        records = [t for t in dns.txt(name) if t.replace(" ", "").lower().startswith("v=dmarc1")]
        if records:
            return name, records[0]
    return None


def _dmarc_problem(tags: dict[str, str] | None) -> str | None:
    if tags is None or next(iter(tags), None) != "v" or tags["v"] != "DMARC1":
        return "invalid DMARC record (it must start with v=DMARC1)"
    if tags.get("p") not in _DMARC_POLICIES:
        return f"invalid p= policy {tags.get('p')!r} (none, quarantine or reject)"
    for tag in ("adkim", "aspf"):
        if tags.get(tag, "r") not in ("r", "s"):
            return f"invalid {tag}={tags[tag]!r} (r or s)"
    if tags.get("sp", "none") not in _DMARC_POLICIES:
        return f"invalid sp= policy {tags['sp']!r}"
    pct = tags.get("pct", "100")
    if not pct.isdigit() or int(pct) > 100:
        return f"invalid pct={pct!r} (0 to 100)"
    return None


def _dmarc_misaligned(tags: dict[str, str], context: _Context, settings: Settings) -> str | None:
    """Why neither DKIM nor SPF of our mail would align under this record's modes."""
    if context.provider == "sendgrid":
        return None
    try:
        config = dkim_config(settings)
    except ConfigurationError:
        config = None
    if (
        config is not None
        and tags.get("adkim", "r") == "s"
        and config.domain != context.from_domain
    ):
        return (
            f"adkim=s (strict) needs d= to be exactly {context.from_domain}, but the DKIM "
            f"domain is {config.domain}: set NEWSLETTER_DKIM_DOMAIN={context.from_domain} "
            "or use adkim=r"
        )
    return None


# MX and PTR


def _mx(dns: Dns, context: _Context) -> list[Finding]:
    name = context.bounce_domain
    hosts = dns.mx(name)
    fix = f"{name}. IN MX 10 mail.{name}.  (your mail server's name)"
    if not hosts:
        return [Finding("MX", name, Status.FAIL, "no MX: bounces to this domain are lost", fix)]
    if hosts == [(0, "")] or all(host in ("", ".") for _, host in hosts):
        return [Finding("MX", name, Status.FAIL, "null MX: this domain accepts no mail", fix)]
    shown = ", ".join(f"{pref} {host}" for pref, host in hosts)
    return [Finding("MX", name, Status.PASS, f"bounces go to {shown}")]


def _ptr(dns: Dns, context: _Context) -> list[Finding]:
    if not context.relay:
        return []
    addresses = dns.addresses(context.relay)
    if not addresses:
        detail = f"the SMTP relay {context.relay} has no address"
        return [Finding("PTR", context.relay, Status.FAIL, detail)]
    findings = []
    for address in addresses:
        names = dns.ptr(address)
        record = f"{reverse_name(address)}. IN PTR {context.relay}."
        confirmed = [n for n in names if address in dns.addresses(n)]
        if confirmed:
            detail = f"{address} → {confirmed[0]} → {address} (forward-confirmed)"
            findings.append(Finding("PTR", address, Status.PASS, detail))
        elif names:
            detail = f"{address} → {names[0]}, which does not resolve back to {address}"
            findings.append(Finding("PTR", address, Status.FAIL, detail, record))
        else:
            detail = f"{address} has no reverse name (ask its hosting provider to set one)"
            findings.append(Finding("PTR", address, Status.FAIL, detail, record))
    return findings


def _tags(text: str) -> dict[str, str] | None:
    """``k=v; k=v`` tag lists (DKIM, DMARC) in order; ``None`` if malformed."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            return None
        tags[key.strip().lower()] = value.strip()
    return tags
