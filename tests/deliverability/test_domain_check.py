"""`newsletter domain check` against zone fixtures served by a DNS server on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import dns.message
import dns.query
import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.config import Settings
from newsletter.deliverability.dkim import (
    dns_record,
    generate_key,
    load_private_key,
    txt_strings,
    write_private_key,
)
from newsletter.deliverability.dns_check import DomainReport, Finding, Status, check_domain
from tests.deliverability.common import DOMAIN, SELECTOR, dkim_settings
from tests.fakes.dns_server import LoopbackDns

RELAY = "smtp.relay.test"
RELAY_IP = "192.0.2.10"
runner = CliRunner()


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dkim") / "dkim.pem"
    write_private_key(path, generate_key())
    return path


def dkim_txt(key_file: Path) -> str:
    record = dns_record(load_private_key(key_file))
    return " ".join(f'"{s}"' for s in txt_strings(record))


def zone(key_file: Path, **replace: str | None) -> str:
    """The correct zone for an SMTP sender; ``replace`` swaps (or, with None, drops) lines."""
    lines = {
        "spf": f'{DOMAIN}. 300 IN TXT "v=spf1 a:{RELAY} ~all"',
        "other_txt": f'{DOMAIN}. 300 IN TXT "google-site-verification=abc"',
        "mx": f"{DOMAIN}. 300 IN MX 10 mx.{DOMAIN}.",
        "dmarc": f'_dmarc.{DOMAIN}. 300 IN TXT "v=DMARC1; p=quarantine; rua=mailto:d@{DOMAIN}"',
        "dkim": f"{SELECTOR}._domainkey.{DOMAIN}. 300 IN TXT {dkim_txt(key_file)}",
        "relay": f"{RELAY}. 300 IN A {RELAY_IP}",
        "ptr": f"10.2.0.192.in-addr.arpa. 300 IN PTR {RELAY}.",
    }
    lines.update(replace)
    return "\n".join(line for line in lines.values() if line) + "\n"


def smtp_settings(key_file: Path, dns_server: LoopbackDns, **more: object) -> Settings:
    smtp = {"provider": "smtp", "smtp_url": f"smtp://user:secret@{RELAY}:587"}
    return dkim_settings(key_file, dns_server, **{**smtp, **more})


def by_check(report: DomainReport) -> dict[str, Finding]:
    found: dict[str, Finding] = {}
    for finding in report.findings:
        found.setdefault(finding.check, finding)
    return found


def statuses(report: DomainReport) -> dict[str, Status]:
    return {check: f.status for check, f in by_check(report).items()}


def test_a_correct_domain_passes_every_check(dns_server: LoopbackDns, key_file: Path) -> None:
    dns_server.zone.load(zone(key_file))
    report = check_domain(smtp_settings(key_file, dns_server))
    found = by_check(report)
    assert statuses(report) == dict.fromkeys(("SPF", "DKIM", "DMARC", "MX", "PTR"), Status.PASS)
    assert found["SPF"].detail == f"authorizes a:{RELAY}: v=spf1 a:{RELAY} ~all"
    assert found["DKIM"].name == f"{SELECTOR}._domainkey.{DOMAIN}"
    assert found["DMARC"].detail == f"p=quarantine, aligned with {DOMAIN}"
    assert found["MX"].detail == f"bounces go to 10 mx.{DOMAIN}"
    assert found["PTR"].detail == f"{RELAY_IP} → {RELAY} → {RELAY_IP} (forward-confirmed)"
    assert not report.failed


def test_missing_records_fail_with_the_record_to_publish(
    dns_server: LoopbackDns, key_file: Path
) -> None:
    dns_server.zone.load(zone(key_file, spf=None, mx=None, dmarc=None, dkim=None, ptr=None))
    report = check_domain(smtp_settings(key_file, dns_server))
    found = by_check(report)
    assert statuses(report) == dict.fromkeys(("SPF", "DKIM", "DMARC", "MX", "PTR"), Status.FAIL)
    assert found["SPF"].detail == "no SPF record"
    assert found["SPF"].fix == f'{DOMAIN}. IN TXT "v=spf1 a:{RELAY} ~all"'
    assert found["DKIM"].detail == "no DKIM record for the selector"
    assert found["DKIM"].fix == f"{SELECTOR}._domainkey.{DOMAIN}. IN TXT {dkim_txt(key_file)}"
    assert found["DMARC"].fix == (
        f'_dmarc.{DOMAIN}. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@{DOMAIN}"'
    )
    assert found["MX"].detail == "no MX: bounces to this domain are lost"
    assert found["PTR"].fix == f"10.2.0.192.in-addr.arpa. IN PTR {RELAY}."
    assert report.failed


def test_a_published_key_that_is_not_ours_fails(
    dns_server: LoopbackDns, key_file: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.pem"
    write_private_key(other, generate_key())
    dns_server.zone.load(zone(other))  # the zone publishes another key
    found = by_check(check_domain(smtp_settings(key_file, dns_server)))
    assert found["DKIM"].status is Status.FAIL
    assert found["DKIM"].detail == f"the published key is not the key in {key_file}"
    assert found["DKIM"].fix == f"{SELECTOR}._domainkey.{DOMAIN}. IN TXT {dkim_txt(key_file)}"


def test_strict_dkim_alignment_with_a_parent_domain_fails(
    dns_server: LoopbackDns, key_file: Path
) -> None:
    dmarc = f'_dmarc.{DOMAIN}. 300 IN TXT "v=DMARC1; p=reject; adkim=s"'
    dkim = f"{SELECTOR}._domainkey.example.org. 300 IN TXT {dkim_txt(key_file)}"
    dns_server.zone.load(zone(key_file, dmarc=dmarc, dkim=dkim))
    report = check_domain(smtp_settings(key_file, dns_server, dkim_domain="example.org"))
    found = by_check(report)
    assert found["DKIM"].status is Status.PASS  # d=example.org is a parent: relaxed-aligned
    assert found["DMARC"].status is Status.FAIL
    assert found["DMARC"].detail.startswith(f"adkim=s (strict) needs d= to be exactly {DOMAIN}")


def test_checking_a_domain_the_from_address_is_not_in_fails_dmarc(
    dns_server: LoopbackDns, key_file: Path
) -> None:
    dns_server.zone.load(zone(key_file))
    found = by_check(check_domain(smtp_settings(key_file, dns_server), "other.example.net"))
    assert found["DMARC"].status is Status.FAIL
    assert found["DMARC"].detail == (
        f"the From address briefing@{DOMAIN} is not in other.example.net: DMARC applies to {DOMAIN}"
    )
    assert found["DKIM"].status is Status.PASS  # the key is still checked at its own domain


def test_syntax_errors_in_spf_and_dmarc_fail(dns_server: LoopbackDns, key_file: Path) -> None:
    spf = f'{DOMAIN}. 300 IN TXT "v=spf1 a:{RELAY} ip4:300.1.2.3 ~all"'
    dmarc = f'_dmarc.{DOMAIN}. 300 IN TXT "v=DMARC1; p=block"'
    dns_server.zone.load(zone(key_file, spf=spf, dmarc=dmarc))
    found = by_check(check_domain(smtp_settings(key_file, dns_server)))
    assert found["SPF"].status is Status.FAIL
    assert found["SPF"].detail == (
        f"invalid SPF (bad address in 'ip4:300.1.2.3'): v=spf1 a:{RELAY} ip4:300.1.2.3 ~all"
    )
    assert found["SPF"].fix == f'{DOMAIN}. IN TXT "v=spf1 a:{RELAY} ~all"'
    assert found["DMARC"].status is Status.FAIL
    assert found["DMARC"].detail == (
        "invalid p= policy 'block' (none, quarantine or reject): v=DMARC1; p=block"
    )


def test_spf_needing_more_than_ten_lookups_fails(dns_server: LoopbackDns, key_file: Path) -> None:
    includes = " ".join(f"include:i{n}.spf.test" for n in range(11))
    nested = [f'i{n}.spf.test. 300 IN TXT "v=spf1 ip4:198.51.100.{n} -all"' for n in range(11)]
    spf = f'{DOMAIN}. 300 IN TXT "v=spf1 a:{RELAY} {includes} ~all"'
    dns_server.zone.load(zone(key_file, spf=spf) + "\n".join(nested) + "\n")
    found = by_check(check_domain(smtp_settings(key_file, dns_server)))
    assert found["SPF"].status is Status.FAIL
    assert found["SPF"].detail.startswith("12 DNS lookups (limit 10): receivers return permerror")


def test_spf_that_leaves_out_the_relay_fails_with_the_record_extended(
    dns_server: LoopbackDns, key_file: Path
) -> None:
    spf = f'{DOMAIN}. 300 IN TXT "v=spf1 mx ip4:198.51.100.0/24 -all"'
    dns_server.zone.load(zone(key_file, spf=spf))
    found = by_check(check_domain(smtp_settings(key_file, dns_server)))
    assert found["SPF"].detail == f"does not authorize the SMTP relay {RELAY} ({RELAY_IP})"
    assert found["SPF"].fix == f'{DOMAIN}. IN TXT "v=spf1 mx ip4:198.51.100.0/24 a:{RELAY} ~all"'
    spf = f'{DOMAIN}. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"'  # covers the relay's address
    dns_server.zone.load(zone(key_file, spf=spf))
    assert by_check(check_domain(smtp_settings(key_file, dns_server)))["SPF"].status is Status.PASS


def test_reverse_name_that_does_not_resolve_back_fails(
    dns_server: LoopbackDns, key_file: Path
) -> None:
    ptr = "10.2.0.192.in-addr.arpa. 300 IN PTR host-10.cloud.test."
    dns_server.zone.load(zone(key_file, ptr=ptr))
    found = by_check(check_domain(smtp_settings(key_file, dns_server)))
    assert found["PTR"].status is Status.FAIL
    assert found["PTR"].detail == (
        f"{RELAY_IP} → host-10.cloud.test, which does not resolve back to {RELAY_IP}"
    )


def test_sendgrid_domain_authentication(dns_server: LoopbackDns, key_file: Path) -> None:
    records = [
        f'{DOMAIN}. 300 IN TXT "v=spf1 include:sendgrid.net ~all"',
        'sendgrid.net. 300 IN TXT "v=spf1 ip4:167.89.0.0/17 -all"',
        f"s1._domainkey.{DOMAIN}. 300 IN CNAME s1.domainkey.u77.wl.sendgrid.net.",
        f"s2._domainkey.{DOMAIN}. 300 IN CNAME s2.domainkey.u77.wl.elsewhere.test.",
        f"{DOMAIN}. 300 IN MX 10 mx.{DOMAIN}.",
        f'_dmarc.{DOMAIN}. 300 IN TXT "v=DMARC1; p=none"',
    ]
    dns_server.zone.load("\n".join(records) + "\n")
    config = Settings(provider="sendgrid", from_email=f"briefing@{DOMAIN}",  # type: ignore[call-arg]
                      dns_resolver=dns_server.address, sendgrid_return_path=f"em77.{DOMAIN}")  # fmt: skip
    report = check_domain(config)
    lines = {(f.check, f.name): f for f in report.findings}
    assert lines[("SPF", DOMAIN)].status is Status.PASS
    assert lines[("DKIM", f"s1._domainkey.{DOMAIN}")].status is Status.PASS
    s2 = lines[("DKIM", f"s2._domainkey.{DOMAIN}")]
    assert s2.status is Status.FAIL
    assert s2.detail.startswith("CNAME s2.domainkey.u77.wl.elsewhere.test is not a sendgrid.net")
    em = lines[("DKIM", f"em77.{DOMAIN}")]
    assert (
        em.status is Status.FAIL and em.fix == f"em77.{DOMAIN}. IN CNAME u1234567.wl.sendgrid.net."
    )
    assert lines[("DMARC", f"_dmarc.{DOMAIN}")].status is Status.WARN
    assert ("PTR", RELAY) not in lines  # no relay of ours with SendGrid
    records[0] = f'{DOMAIN}. 300 IN TXT "v=spf1 mx -all"'
    dns_server.zone.load("\n".join(records) + "\n")
    spf = by_check(check_domain(config))["SPF"]
    assert spf.detail == "does not include sendgrid.net"
    assert spf.fix == f'{DOMAIN}. IN TXT "v=spf1 mx include:sendgrid.net ~all"'


def test_an_unreachable_resolver_fails_within_the_timeout(key_file: Path) -> None:
    import socket
    import time

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # bound, never answers
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        config = Settings(from_email=f"briefing@{DOMAIN}", dns_resolver=address,  # type: ignore[call-arg]
                          dns_timeout=0.3)  # fmt: skip
        started = time.monotonic()
        report = check_domain(config)
    assert time.monotonic() - started < 5
    assert report.failed
    assert by_check(report)["SPF"].detail.startswith("DNS lookup failed: TXT news.example.org")


def test_the_server_answers_over_tcp_too(dns_server: LoopbackDns, key_file: Path) -> None:
    dns_server.zone.load(zone(key_file))
    query = dns.message.make_query(f"{SELECTOR}._domainkey.{DOMAIN}", "TXT")
    answer = dns.query.tcp(query, "127.0.0.1", port=dns_server.port, timeout=2)
    assert b"".join(answer.answer[0][0].strings).startswith(b"v=DKIM1; k=rsa; p=")


def test_cli_prints_the_table_and_json_and_exits_non_zero_on_failure(
    dns_server: LoopbackDns, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter.config import get_settings

    dns_server.zone.load(zone(key_file, dmarc=None))
    for name, value in {"PROVIDER": "smtp", "SMTP_URL": f"smtp://user:secret@{RELAY}:587",
                        "FROM_EMAIL": f"briefing@{DOMAIN}", "DKIM_DOMAIN": DOMAIN,
                        "DKIM_SELECTOR": SELECTOR, "DKIM_KEY_FILE": str(key_file),
                        "DNS_RESOLVER": dns_server.address}.items():  # fmt: skip
        monkeypatch.setenv(f"NEWSLETTER_{name}", value)
    monkeypatch.setenv("COLUMNS", "250")
    get_settings.cache_clear()
    result = runner.invoke(app, ["domain", "check"])
    assert result.exit_code == 1
    assert "DMARC" in result.stdout and "FAIL" in result.stdout and "PASS" in result.stdout
    assert f'_dmarc.{DOMAIN}. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@{DOMAIN}"' in (
        result.stdout
    )
    assert "secret" not in result.stdout and "PRIVATE" not in result.stdout
    result = runner.invoke(app, ["domain", "check", "--format", "json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["failed"] is True
    assert {f["check"]: f["status"] for f in data["findings"]}["DMARC"] == "fail"
    dns_server.zone.load(zone(key_file))
    assert runner.invoke(app, ["domain", "check"]).exit_code == 0
