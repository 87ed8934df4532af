"""`newsletter subscribers …`: import, export, add, list, show, GDPR export and erase."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from campaigns.sunset import SunsetPolicy, run_sunset
from newsletter.cli.common import console, err_console, opened_db
from newsletter.cli.listing import Column, ListFormat, ListFormatOption, print_listing
from newsletter.cli.mailers import confirmation_sender
from newsletter.config import get_settings
from newsletter.db import Database
from newsletter.delivery.capabilities import delivers_unicode_local_parts
from newsletter.errors import InvalidInput
from subscribers.csv_io import TOPIC_SEPARATORS, ImportOptions, export_csv, import_csv
from subscribers.directory import (
    NewSubscriber,
    add_subscriber,
    consent_history,
    find_by_email,
    list_subscribers,
    shown_status,
    status_counts,
)
from subscribers.gdpr import EraseResult, erase_subscriber, export_personal_data
from subscribers.signup import Origin
from subscribers.topics import known_topics

app = typer.Typer(help="Who receives the newsletter.", no_args_is_help=True)

CLI_ORIGIN = Origin(source="cli", user_agent="newsletter command line")


def _topics(database: Database) -> frozenset[str]:
    with database.transaction() as session:
        return known_topics(session, get_settings().topics)


@app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="A CSV file with an 'email' column.")],
    confirmed: Annotated[
        bool, typer.Option("--confirmed", help="They opted in elsewhere: make them active.")
    ] = False,
    welcome: Annotated[
        bool,
        typer.Option(
            "--welcome",
            help="With --confirmed: they get the welcome series, from their confirmed_at "
            "(default: none; readers who confirm by mail always get it).",
        ),
    ] = False,
    source: Annotated[str, typer.Option(help="Signup source recorded for each row.")] = "import",
    strict: Annotated[
        bool, typer.Option("--strict", help="Import nothing if any row is bad.")
    ] = False,
) -> None:
    """Import subscribers from CSV; bad rows are reported by line and the rest imported.

    Exits 1 when any row was refused (with --strict: nothing was imported).
    """
    _welcome_needs_confirmed(welcome, confirmed)
    try:
        stream = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InvalidInput(str(path), f"cannot be read: {exc.strerror}") from None
    with stream, opened_db() as database:
        options = ImportOptions(
            known_topics=_topics(database),
            confirmed=confirmed,
            welcome=welcome,
            source=source,
            strict=strict,
            ascii_local_part=not delivers_unicode_local_parts(get_settings().provider),
        )
        try:
            report = import_csv(database, stream, source_name=path.name, options=options)
        except UnicodeDecodeError as exc:
            raise InvalidInput(path.name, f"is not UTF-8 text ({exc.reason})") from None
    for problem in report.errors:
        err_console.print(f"error: {problem}", markup=False, soft_wrap=True)
    for problem in report.skipped:
        console.print(f"skipped: {problem}", markup=False, soft_wrap=True)
    status = "active" if confirmed else "pending"
    if report.rolled_back:
        err_console.print(f"nothing imported: {len(report.errors)} bad row(s) and --strict")
    else:
        console.print(
            f"{report.imported} imported as {status}, {len(report.skipped)} skipped, "
            f"{len(report.errors)} bad row(s)"
        )
    if report.errors:
        raise typer.Exit(1)


@app.command("export")
def export_command(
    path: Annotated[Path | None, typer.Argument(help="Output file (default: stdout).")] = None,
    status: Annotated[str | None, typer.Option(help="Only subscribers with this status.")] = None,
) -> None:
    """Write subscribers as CSV (the columns `import` reads back)."""
    with opened_db() as database, database.transaction() as session:
        if path is None:
            count = export_csv(session, sys.stdout, status=status)
        else:
            with path.open("w", encoding="utf-8", newline="") as out:
                count = export_csv(session, out, status=status)
    err_console.print(f"{count} subscriber(s) exported")


def _attributes(pairs: list[str] | None) -> dict[str, str]:
    """``--attr KEY=VALUE`` options as a mapping (each checked by ``add_subscriber``)."""
    attributes: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInput("--attr", f"{pair!r}: write KEY=VALUE")
        attributes[key.strip()] = value
    return attributes


def _welcome_needs_confirmed(welcome: bool, confirmed: bool) -> None:
    if welcome and not confirmed:
        raise InvalidInput(
            "--welcome",
            "needs --confirmed (a pending reader gets the welcome series when they confirm)",
        )


@app.command("add")
def add_command(
    email: str,
    name: Annotated[str | None, typer.Option(help="The reader's name.")] = None,
    topics: Annotated[
        str, typer.Option(help="Topics, separated by commas (or ; or |, as in the CSV).")
    ] = "",
    narratives: Annotated[
        str | None,
        typer.Option(help="Which narratives they get: all (default), facts-only, no-forecast."),
    ] = None,
    source: Annotated[str, typer.Option(help="Where they signed up (recorded).")] = "cli",
    attr: Annotated[
        list[str] | None,
        typer.Option("--attr", help="A custom attribute, KEY=VALUE (repeat for more)."),
    ] = None,
    time_zone: Annotated[
        str | None,
        typer.Option(help="Their IANA time zone, e.g. Europe/Berlin (default: the settings')."),
    ] = None,
    confirmed: Annotated[
        bool, typer.Option("--confirmed", help="Active now; else pending with a mail queued.")
    ] = False,
    welcome: Annotated[
        bool,
        typer.Option(
            "--welcome",
            help="With --confirmed: the welcome series starts now (default: none; a reader "
            "who confirms by mail always gets it).",
        ),
    ] = False,
) -> None:
    """Add one subscriber by hand, with the fields a CSV import takes and the same checks."""
    _welcome_needs_confirmed(welcome, confirmed)
    new = NewSubscriber(
        email=email,
        name=name,
        topics=TOPIC_SEPARATORS.split(topics),
        confirmed=confirmed,
        welcome=welcome,
        source=source,
        ascii_local_part=not delivers_unicode_local_parts(get_settings().provider),
        narratives=narratives,
        attributes=_attributes(attr),
        time_zone=time_zone,
    )
    with opened_db() as database:
        known = _topics(database)
        with database.transaction() as session:
            subscriber = add_subscriber(session, new, known_topics=known, origin=CLI_ORIGIN)
    what = "active" if confirmed else "pending (a confirmation mail is queued)"
    if confirmed:
        what += ", welcome series from now" if welcome else ", no welcome series"
    console.print(f"added {subscriber.email}: {what}", markup=False)


LIST_COLUMNS = (
    Column("email", identifier=True),
    Column("name"),
    Column("status"),
    Column("topics"),
    Column("narratives"),
    Column("source"),
    Column("created_at", "since", shown=lambda at: f"{at:%Y-%m-%d}"),
)


@app.command("list")
def list_command(
    status: Annotated[
        str | None, typer.Option(help="Only this status (or 'lapsed': not mailed, kept).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    fmt: ListFormatOption = ListFormat.table,
) -> None:
    """List subscribers, newest first, with a count per status (on stderr for json and csv)."""
    with opened_db() as database, database.transaction() as session:
        rows = [
            {
                "email": row.email,
                "name": row.name,
                "status": shown_status(row),
                "topics": list(row.topics),
                "narratives": row.narratives,
                "source": row.source,
                "created_at": row.created_at,
            }
            for row in list_subscribers(session, status=status, limit=limit)
        ]
        counts = status_counts(session)
    print_listing(rows, LIST_COLUMNS, fmt, empty="no subscribers yet")
    summary = " · ".join(f"{name}: {count}" for name, count in counts.items())
    (console if fmt is ListFormat.table else err_console).print(summary, markup=False)


@app.command("show")
def show_command(email: str) -> None:
    """Everything about one subscriber, with their consent history."""
    with opened_db() as database, database.transaction() as session:
        subscriber = find_by_email(session, email)
        records = consent_history(session, subscriber)
        history = [
            f"{r.at:%Y-%m-%d %H:%M} {r.kind} from {r.ip or '-'} ({r.source or '-'})"
            for r in records
        ]
    fields = {
        "email": subscriber.email,
        "name": subscriber.name,
        "status": shown_status(subscriber),
        "topics": ", ".join(subscriber.topics) or "(all)",
        "narratives": subscriber.narratives,
        "attributes": json.dumps(subscriber.attributes, ensure_ascii=False),
        "source": subscriber.source,
        "created": subscriber.created_at.isoformat(),
        "confirmed": subscriber.confirmed_at and subscriber.confirmed_at.isoformat(),
        "unsubscribed": subscriber.unsubscribed_at and subscriber.unsubscribed_at.isoformat(),
    }
    for key, value in fields.items():
        console.print(f"{key:>12}: {value if value is not None else '-'}", markup=False)
    console.print("     consent:", markup=False)
    for line in history:
        console.print(f"              {line}", markup=False)


@app.command("export-data")
def export_data_command(email: str) -> None:
    """Print all we hold about one address as JSON (a data-protection access request)."""
    with opened_db() as database, database.transaction() as session:
        data = export_personal_data(session, email)
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@app.command("erase")
def erase_command(
    email: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a subscriber: anonymise them and suppress the address for good."""
    if not yes:
        typer.confirm(f"Erase {email} for good (it can never be mailed again)?", abort=True)
    with opened_db() as database, database.transaction() as session:
        result = erase_subscriber(session, email)
    messages = {
        EraseResult.ERASED: "erased; the address is suppressed",
        EraseResult.ALREADY_ERASED: "was already erased",
        EraseResult.NOT_FOUND: "no subscriber with this address; it is suppressed all the same",
    }
    console.print(f"{email}: {messages[result]}", markup=False)


@app.command("sunset")
def sunset_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would happen; change nothing.")
    ] = False,
) -> None:
    """Sunset policy: ask unengaged readers whether to stay, lapse those who did not answer.

    Run it once a day (cron); the questions go out with the confirmation mails
    (`send-confirmations`, or `newsletter serve`). Off while NEWSLETTER_SUNSET_ISSUES is 0.
    """
    policy = SunsetPolicy.from_settings(get_settings())
    if not policy.enabled:
        console.print("the sunset policy is off (NEWSLETTER_SUNSET_ISSUES is 0): nothing to do")
        return
    with opened_db() as database, database.transaction() as session:
        report = run_sunset(session, policy, dry_run=dry_run)
    console.print(
        f"{'dry run, nothing changed: ' if dry_run else ''}asked to stay: {report.asked} · "
        f"lapsed: {report.lapsed} · answered by reading again: {report.answered} "
        f"(policy: {policy.issues} issues, {policy.days} days, {policy.grace_days} days' grace)",
        markup=False,
    )


@app.command("send-confirmations")
def send_confirmations_command() -> None:
    """Send the queued confirmation (and keep-me-subscribed) mails now (`newsletter serve`
    also does it every 2 s)."""
    settings = get_settings()
    with opened_db() as database:
        sender = confirmation_sender(settings, database)
        report = sender.drain_once()
    console.print(
        f"{report.sent} sent, {report.retried} to retry later, {report.failed} failed, "
        f"{report.skipped} no longer needed"
    )
    if report.failed:
        raise typer.Exit(1)
