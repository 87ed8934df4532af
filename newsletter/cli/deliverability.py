"""`newsletter dkim …` and `newsletter domain …`: the signing key, the domain's DNS, warm-up.

The work is in ``newsletter.deliverability``; these commands read the settings and format.
The private key is never printed, only its path and the public record.
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from newsletter.cli.common import console
from newsletter.config import get_settings
from newsletter.deliverability.dkim import (
    dkim_config,
    dns_name,
    dns_record,
    generate_key,
    load_private_key,
    txt_strings,
    write_private_key,
    zone_line,
)
from newsletter.deliverability.dns_check import Status, check_domain
from newsletter.errors import ConfigurationError

dkim_app = typer.Typer(help="The DKIM key that signs SMTP and outbox mail.", no_args_is_help=True)
domain_app = typer.Typer(
    help="Sending domains: their DNS records and their warm-up.", no_args_is_help=True
)


def print_record(name: str, record: str) -> None:
    """The TXT record to publish: name, value, and the strings DNS stores it as."""
    console.print("Publish this DNS TXT record:", markup=False)
    console.print(f"  name:  {name}", markup=False, soft_wrap=True)
    console.print(f"  value: {record}", markup=False, soft_wrap=True)
    strings = " ".join(f'"{part}"' for part in txt_strings(record))
    console.print(f"  as DNS strings (≤255 characters each): {strings}", markup=False,
                  soft_wrap=True)  # fmt: skip
    console.print(f"  zone file: {zone_line(name, record)}", markup=False, soft_wrap=True)


@dkim_app.command("keygen")
def keygen_command(
    domain: Annotated[
        str | None, typer.Option(help="The d= domain (default NEWSLETTER_DKIM_DOMAIN).")
    ] = None,
    selector: Annotated[
        str | None, typer.Option(help="The s= selector (default NEWSLETTER_DKIM_SELECTOR).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing key (republish the record).")
    ] = False,
) -> None:
    """Make an RSA-2048 key at NEWSLETTER_DKIM_KEY_FILE (mode 0600) and print its DNS record."""
    settings = get_settings()
    domain = domain or settings.dkim_domain
    selector = selector or settings.dkim_selector
    if not domain or not selector:
        raise ConfigurationError(
            "give --domain and --selector (or set NEWSLETTER_DKIM_DOMAIN/_SELECTOR)"
        )
    if settings.dkim_key_file is None:
        raise ConfigurationError(
            "set NEWSLETTER_DKIM_KEY_FILE to where the private key should be written "
            "(outside the repository, e.g. /etc/newsletter/dkim.pem)"
        )
    domain = dns_name(domain, "--domain")
    selector = dns_name(selector, "--selector")
    path = Path(settings.dkim_key_file).absolute()
    key = generate_key()
    write_private_key(path, key, force=force)
    console.print(f"DKIM private key written to {path} (mode 0600; never share it)", markup=False)
    print_record(f"{selector}._domainkey.{domain}", dns_record(key))
    console.print(
        f"Sign with: NEWSLETTER_DKIM_DOMAIN={domain} NEWSLETTER_DKIM_SELECTOR={selector} "
        f"NEWSLETTER_DKIM_KEY_FILE={path}",
        markup=False,
        soft_wrap=True,
    )


@dkim_app.command("record")
def record_command() -> None:
    """Print the DNS record of the configured key again (the public half only)."""
    config = dkim_config(get_settings())
    if config is None:
        raise ConfigurationError(
            "DKIM is not configured: set NEWSLETTER_DKIM_DOMAIN, _SELECTOR and _KEY_FILE "
            "(see `newsletter dkim keygen`)"
        )
    print_record(config.record_name, dns_record(load_private_key(config.key_file)))


class Format(StrEnum):
    table = "table"
    json = "json"


_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "red"}


@domain_app.command("check")
def check_command(
    domain: Annotated[
        str | None, typer.Argument(help="The domain (default: the From address's).")
    ] = None,
    output: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = (
        Format.table
    ),
) -> None:
    """SPF, DKIM, DMARC, MX and reverse DNS, as receivers see them; exit 1 on any failure."""
    report = check_domain(get_settings(), domain)
    if output is Format.json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        table = Table("check", "status", "name", "detail", title=f"{report.domain} "
                      f"(provider {report.provider})")  # fmt: skip
        for finding in report.findings:
            status = Text(finding.status.value.upper(), style=_STYLE[finding.status])
            table.add_row(finding.check, status, Text(finding.name), Text(finding.detail))
        console.print(table)
        for finding in report.findings:
            if finding.status is Status.FAIL and finding.fix:
                console.print(f"{finding.check} {finding.name}: publish", markup=False)
                console.print(f"  {finding.fix}", markup=False, soft_wrap=True)
    if report.failed:
        raise typer.Exit(1)


@domain_app.command("warmup")
def warmup_command(
    domain: Annotated[
        str | None, typer.Argument(help="With --first-day: the From domain to record.")
    ] = None,
    first_day: Annotated[
        str | None,
        typer.Option(
            "--first-day",
            metavar="YYYY-MM-DD",
            help="Record DOMAIN's first sending day: an earlier one for a domain that sent "
            "before, today to start its warm-up again.",
        ),
    ] = None,
) -> None:
    """Each From domain's warm-up: its first sending day, its day, today's limit and sent."""
    from campaigns.shaping import set_first_day, warmup_status
    from newsletter.cli.common import open_db

    database = open_db()
    settings = get_settings()
    if first_day is not None or domain is not None:
        if first_day is None or domain is None:
            raise typer.BadParameter("give both DOMAIN and --first-day", param_hint="--first-day")
        set_first_day(database, domain, _day(first_day))
    rows = warmup_status(database, settings)
    if not rows:
        console.print("no From domain has sent yet", markup=False)
        return
    table = Table("domain", "first sent", "day", "limit today", "sent today",
                  title="warm-up of the From domains")  # fmt: skip
    for row in rows:
        limit = f"{row.limit_today:,}" if row.limit_today is not None else "no warm-up"
        sent = f"{row.sent_today:,}" if row.sent_today is not None else ""
        table.add_row(Text(row.domain), row.first_sent_on.isoformat(), str(row.day), limit, sent)
    console.print(table)
    if settings.warmup_start is None:
        console.print("warm-up is off: set NEWSLETTER_WARMUP_START to turn it on", markup=False)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r} is not a YYYY-MM-DD date", param_hint="--first-day"
        ) from exc
