"""`newsletter campaigns …` and `newsletter digest create`: make campaigns and steer them."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from campaigns.audience import audience, delivery_problems, delivery_totals
from campaigns.checks import Check
from campaigns.digest import DigestResult, create_weekly_digest
from campaigns.model import Campaign
from campaigns.preflight import PreflightReport, refusal, require_preflight, run_preflight
from campaigns.service import (
    LIST_PAGE_SIZE,
    CampaignDraft,
    brief_labels,
    cancel_campaign,
    create_campaign,
    delivery_counts,
    frozen_variants,
    get_campaign,
    list_campaigns,
    override_check,
    pause_campaign,
    resume_campaign,
    schedule_campaign,
    set_local_time,
    set_spread,
)
from campaigns.subject_tests import SubjectTestPlan, set_subject_test
from campaigns.weeks import IsoWeek
from newsletter.cli.common import console, err_console, open_db, split_values
from newsletter.cli.listing import Column, ListFormat, ListFormatOption, print_listing
from newsletter.config import Settings, get_settings, without_password
from newsletter.db import Database
from newsletter.deliverability.dns_check import Status
from newsletter.render.environment import long_date
from newsletter.zones import parse_local_time

app = typer.Typer(help="Create campaigns and steer their sending.", no_args_is_help=True)
digest_app = typer.Typer(help="The weekly digest.", no_args_is_help=True)

STATUS_ORDER = ("queued", "sending", "sent", "failed", "unknown", "skipped")

OverrideOption = Annotated[
    list[Check] | None,
    typer.Option(
        "--override",
        help="Pass a check on purpose (recorded with --reason): "
        + ", ".join(str(c) for c in Check)
        + ".",
    ),
]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="Why the check is overridden (recorded).")
]
SpreadOption = Annotated[
    float | None,
    typer.Option(
        "--spread-minutes",
        metavar="MINUTES",
        help="Delivery window: pace the send, across all workers, to last about this long.",
    ),
]

LocalTimeOption = Annotated[
    str | None,
    typer.Option(
        "--local-time",
        metavar="HH:MM",
        help="Send at this time on each reader's own clock (their time zone, else "
        "NEWSLETTER_DEFAULT_TIME_ZONE): each gets the first such moment after the campaign "
        "starts, so start it up to a day ahead.",
    ),
]


def apply_local_time(session: Session, campaign_id: int, value: str | None) -> None:
    """``--local-time``: set when given ('' or 'none' clears it)."""
    if value is None:
        return
    cleared = value.strip().lower() in ("", "none")
    set_local_time(session, campaign_id, None if cleared else parse_local_time(value))


def record_overrides(
    database: Database, campaign_id: int, checks: list[Check] | None, reason: str | None
) -> None:
    """Record ``--override`` choices on the campaign before it is scheduled or sent."""
    if not checks:
        return
    if not (reason or "").strip():
        raise typer.BadParameter("--override needs --reason: say why", param_hint="--reason")
    by = f"cli:{getpass.getuser()}"
    with database.transaction() as session:
        for check in checks:
            override_check(session, campaign_id, check, reason or "", by)
            console.print(f"override recorded on campaign {campaign_id}: {check} ({reason})")


def parse_when(text: str | None) -> datetime | None:
    """An ISO 8601 time with a zone (2026-11-30T07:00:00+01:00, or …Z)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise typer.BadParameter("give the time zone too, e.g. 2026-11-30T07:00:00+01:00")
    return moment


@app.command("create")
def create_command(
    name: Annotated[str, typer.Option("--name", help="The campaign's name (for editors).")],
    more_slugs: Annotated[
        list[str] | None, typer.Argument(metavar="SLUG", help="More slugs after --briefs.")
    ] = None,
    briefs: Annotated[
        list[str] | None, typer.Option("--briefs", "-b", help="Brief slugs, in order.")
    ] = None,
    segments: Annotated[
        list[str] | None,
        typer.Option("--segment", "-s", help="Target segments in match order (default: everyone)."),
    ] = None,
    subject: Annotated[str | None, typer.Option(help="Subject template (Jinja).")] = None,
    preheader: Annotated[str | None, typer.Option(help="Preheader template (Jinja).")] = None,
    send_at: Annotated[str | None, typer.Option(help="Schedule: ISO time with zone.")] = None,
    subject_tests: Annotated[
        list[str] | None,
        typer.Option(
            "--subject-test",
            help="Another subject (Jinja) to test against --subject, 1 to 3 times: each gets "
            "a test cell; the winner by unique human clicks goes to the rest.",
        ),
    ] = None,
    test_share: Annotated[
        float, typer.Option(help="Share of the audience in each subject's test cell.")
    ] = 0.1,
    test_wait: Annotated[
        float, typer.Option(help="Minutes after the start before the subject test is decided.")
    ] = 240.0,
    local_time: LocalTimeOption = None,
) -> None:
    """Create a campaign from briefs. Prints its id (alone on stdout, for scripts) and what
    it made on stderr: briefs, segments with their readers, provider, the next command."""
    slugs = split_values(briefs) + list(more_slugs or [])
    draft = CampaignDraft(
        name=name,
        brief_slugs=slugs,
        segment_names=split_values(segments),
        subject=subject,
        preheader=preheader,
        send_at=parse_when(send_at),
    )
    settings = get_settings()
    database = open_db()
    with database.transaction() as session:
        campaign = create_campaign(session, draft, settings=settings)
        campaign_id = campaign.id
        if subject_tests:
            tried = [(subject, None) for subject in subject_tests]
            plan = SubjectTestPlan(tried, test_share, test_wait)
            set_subject_test(session, campaign_id, plan)
        apply_local_time(session, campaign_id, local_time)
    typer.echo(campaign_id)
    for line in created_lines(database, campaign_id, settings):
        err_console.print(line, markup=False, soft_wrap=True)


def audience_lines(database: Database, campaign_id: int) -> tuple[bool, list[str]]:
    """Whether the campaign started already, and its recipients per segment, in words."""
    with database.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        if campaign.frozen_at is not None:
            return True, []
        found = audience(session, campaign)
    lines = [f"  {s.name}: {s.recipients:,} recipients" for s in found]
    lines += [f"  note: {s.shadowed}" for s in found if s.shadowed]
    lines.append(f"  in all: {sum(s.recipients for s in found):,}")
    return False, lines


def created_lines(database: Database, campaign_id: int, settings: Settings) -> list[str]:
    """What a new campaign is, in words, and the command to run next."""
    with database.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        name, status, send_at = campaign.name, campaign.status, campaign.send_at
        slugs = [slug for slug, _ in brief_labels(session, campaign)]
        tested = subject_test_lines(campaign)
    _, reach = audience_lines(database, campaign_id)
    lines = [
        f"created campaign {campaign_id} “{name}” ({status})",
        f"briefs ({len(slugs)}), in this order: {', '.join(slugs)}",
        "segments, in match order (each reader gets the first that takes them):",
        *reach,
        f"provider: {provider_line(settings)}",
        *tested,
    ]
    if send_at is not None:
        lines.append(
            f"scheduled for {send_at:%Y-%m-%d %H:%M} UTC: a worker starts it when due "
            "(`newsletter worker --schedule`, or the one `newsletter serve` runs)"
        )
        lines.append(f"next: newsletter campaigns check {campaign_id}   # the pre-send checks now")
    else:
        lines.append(
            f"next: newsletter send {campaign_id} --dry-run   # who gets it, what holds it back; "
            f"then newsletter send {campaign_id}"
        )
    return lines


def subject_test_lines(campaign: Campaign) -> list[str]:
    """The campaign's subject test in words (none: no line)."""
    if campaign.test_share is None or not campaign.subject_candidates:
        return []
    cells = len(campaign.subject_candidates) + 1
    return [
        f"subject test: {cells} subjects, {campaign.test_share:.1%} of the audience each; "
        f"{campaign.test_wait or 0:g} minutes after the start the best by unique human clicks "
        "(if clearly best, else the first) goes to the rest"
    ]


def provider_line(settings: Settings) -> str:
    """Where mail goes with these settings (passwords hidden)."""
    if settings.provider == "outbox":
        return f"outbox (the Maildir {settings.outbox.resolve()}: nothing leaves this machine)"
    if settings.provider == "smtp":
        return f"smtp via {without_password(settings.smtp_url or '(NEWSLETTER_SMTP_URL unset)')}"
    return "sendgrid"


LIST_COLUMNS = (
    Column("id", identifier=True),
    Column("name"),
    Column("status"),
    Column("send_at", "send at", shown=lambda at: f"{at:%Y-%m-%d %H:%M} UTC" if at else ""),
    Column("briefs"),
    Column("recipients"),
    Column("sent"),
)


@app.command("list")
def list_command(
    fmt: ListFormatOption = ListFormat.table,
    page: Annotated[
        int | None,
        typer.Option(min=1, max=100_000, help="Only page N, 25 campaigns a page (newest first)."),
    ] = None,
) -> None:
    """Campaigns, newest first, with their progress."""
    with open_db().transaction() as session:
        found = list_campaigns(session, page=page)
        more = page is not None and len(found) > LIST_PAGE_SIZE
        found = found[:LIST_PAGE_SIZE] if page is not None else found
        totals = delivery_totals(session, [c.id for c in found])
        rows = [
            {
                "id": c.id,
                "name": c.name,
                "status": c.status,
                "send_at": c.send_at,
                "briefs": len(c.briefs),
                "recipients": totals.get(c.id, (None, None))[0],
                "sent": totals.get(c.id, (None, None))[1],
            }
            for c in found
        ]
    empty = "no campaigns yet: try `newsletter digest create`"
    if page is not None and page > 1:
        empty = f"no campaigns on page {page}"
    print_listing(rows, LIST_COLUMNS, fmt, empty=empty)
    if more and page is not None and fmt == ListFormat.table:
        err_console.print(f"older campaigns: newsletter campaigns list --page {page + 1}")


@app.command("show")
def show_command(campaign_id: int) -> None:
    """A campaign's briefs, variants, delivery counts and any errors."""
    with open_db().transaction() as session:
        campaign = get_campaign(session, campaign_id)
        console.print(f"[bold]{campaign.name}[/] (id {campaign.id}) · {campaign.status}")
        if campaign.status_reason:
            console.print(f"[yellow]{campaign.status_reason}[/]", markup=True, soft_wrap=True)
        when = campaign.send_at.isoformat() if campaign.send_at else "not scheduled"
        console.print(f"issue date {long_date(campaign.issue_date)} · send at {when}")
        if campaign.spread_minutes:
            console.print(f"delivery window: spread over {campaign.spread_minutes:g} minutes")
        if campaign.local_send_time is not None:
            console.print(f"at the readers' local time: {campaign.local_send_time:%H:%M}")
        _print_briefs(session, campaign)
        _print_variants(session, campaign)
        counts = delivery_counts(session, campaign.id)
        if counts:
            console.print(
                "deliveries: " + ", ".join(f"{s} {counts[s]}" for s in STATUS_ORDER if s in counts)
            )
        _print_errors(session, campaign)


def _print_briefs(session, campaign: Campaign) -> None:  # type: ignore[no-untyped-def]
    console.print("briefs: " + ", ".join(slug for slug, _ in brief_labels(session, campaign)))


def _print_variants(session, campaign: Campaign) -> None:  # type: ignore[no-untyped-def]
    variants = frozen_variants(session, campaign.id)
    if not variants:
        return
    table = Table("variant", "subject", "size", "warnings", title="frozen variants")
    for v in variants:
        table.add_row(
            Text(v.name),
            Text(v.subject),
            f"{v.size_bytes / 1000:.0f} KB",
            Text("; ".join(v.warnings)),
        )
    console.print(table)


def _print_errors(session, campaign: Campaign) -> None:  # type: ignore[no-untyped-def]
    for problem in delivery_problems(session, campaign.id):
        console.print(
            f"{problem.count} {problem.status}: {problem.error}", markup=False, soft_wrap=True
        )


@app.command("schedule")
def schedule_command(
    campaign_id: int,
    at: Annotated[str, typer.Option("--at", help="ISO time with zone, e.g. 2026-11-30T07:00Z")],
    spread_minutes: SpreadOption = None,
    override: OverrideOption = None,
    reason: ReasonOption = None,
    local_time: LocalTimeOption = None,
) -> None:
    """Schedule a campaign; `newsletter scheduler` (or cron) sends it when it is due."""
    moment = parse_when(at)
    assert moment is not None
    database = open_db()
    record_overrides(database, campaign_id, override, reason)
    require_preflight(database, campaign_id, get_settings())
    with database.transaction() as session:
        apply_local_time(session, campaign_id, local_time)
        campaign = schedule_campaign(session, campaign_id, moment, get_settings())
        if spread_minutes is not None:
            set_spread(session, campaign_id, spread_minutes)
        window = f", spread over {spread_minutes:g} minutes" if spread_minutes else ""
        if campaign.local_send_time is not None:
            window += f", each reader at {campaign.local_send_time:%H:%M} their time"
        console.print(f"campaign {campaign.id} scheduled for {moment.isoformat()}{window}")


STATUS_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "red"}


@app.command("check")
def check_command(
    campaign_id: int,
    output: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table (for people) or json.")
    ] = ListFormat.table,
) -> None:
    """Run every pre-send check (compliance, domain, size, links, images, briefs, complaints).

    Exits 1 when a failure would hold the send back."""
    if output is ListFormat.csv:
        raise typer.BadParameter("choose table or json", param_hint="--format")
    report = run_preflight(open_db(), campaign_id, get_settings())
    if output is ListFormat.json:
        typer.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        _print_preflight(report)
    if report.blocking:
        raise typer.Exit(1)


def _print_preflight(report: PreflightReport) -> None:
    table = Table("check", "", "finding", title=f"pre-send checks of campaign {report.campaign_id}")
    for item in report.items:
        mark = Text(str(item.status), style=STATUS_STYLE[item.status])
        if item.overridden:
            mark = Text("overridden", style="cyan")
        lines = [item.summary, *(f"  {d}" for d in item.details)]
        table.add_row(item.check, mark, Text("\n".join(lines)))
    console.print(table)
    if not report.enforced:
        console.print(f"(not enforced for the {report.provider} provider)")
    elif report.blocking:
        console.print(Text(refusal(report), style="red"))


@app.command("pause")
def pause_command(campaign_id: int) -> None:
    """Stop handing out batches (batches already with the provider finish)."""
    with open_db().transaction() as session:
        console.print(f"campaign {pause_campaign(session, campaign_id).id} paused")


@app.command("resume")
def resume_command(campaign_id: int) -> None:
    """Resume a paused campaign; workers (or `newsletter send`) pick it up again."""
    with open_db().transaction() as session:
        campaign = resume_campaign(session, campaign_id)
        console.print(f"campaign {campaign.id} is {campaign.status} again")


@app.command("cancel")
def cancel_command(campaign_id: int) -> None:
    """Cancel for good; recipients still queued are skipped."""
    with open_db().transaction() as session:
        counts = delivery_counts(session, campaign_id)
        cancel_campaign(session, campaign_id)
    console.print(f"campaign {campaign_id} cancelled; {counts.get('queued', 0)} queued skipped")


@digest_app.command("create")
def digest_create_command(
    week: Annotated[
        str | None, typer.Option(help="ISO week, e.g. 2026-W48 (default: this week).")
    ] = None,
    segments: Annotated[
        list[str] | None, typer.Option("--segment", "-s", help="Target segments, in order.")
    ] = None,
    send_at: Annotated[str | None, typer.Option(help="Schedule: ISO time with zone.")] = None,
    include: Annotated[
        list[str] | None,
        typer.Option("--include", "-i", help="A ready brief to take although left out (SLUG)."),
    ] = None,
) -> None:
    """Make the week's digest from the ready briefs updated that week (or return it).

    Ready briefs left out (stale, or in an earlier digest) are listed with the reason."""
    iso_week = IsoWeek.parse(week) if week else IsoWeek.current()
    result = create_weekly_digest(
        open_db(),
        iso_week,
        settings=get_settings(),
        segment_names=tuple(split_values(segments)),
        send_at=parse_when(send_at),
        include=split_values(include),
    )
    _print_digest(result)


def _print_digest(result: DigestResult) -> None:
    verb = "created" if result.created else "already exists:"
    console.print(f"digest {result.week} {verb} campaign {result.campaign_id}")
    for slug in result.brief_slugs:
        console.print(f"  {slug}", markup=False)
    new = result.new
    if new:
        console.print(f"[yellow]new since you created this ({len(new)}):[/]")
        for item in new:
            console.print(f"  {item.slug}: {item.title}", markup=False, soft_wrap=True)
        slugs = ",".join(item.slug for item in new)
        console.print(
            f"add {'it' if len(new) == 1 else 'them'}: "
            f"newsletter digest create --week {result.week} --include {slugs}",
            markup=False,
            soft_wrap=True,
        )
    left_out = [item for item in result.left_out if not item.new]
    if left_out:
        console.print(f"[yellow]left out ({len(left_out)}):[/]")
    for item in left_out:
        console.print(f"  {item.slug}: {item.reason}", markup=False, soft_wrap=True)
    if left_out:
        console.print(
            f"include one on purpose: newsletter digest create --week {result.week} --include SLUG",
            markup=False,
            soft_wrap=True,
        )
