"""`newsletter send`, `worker` and `scheduler`: the commands that deliver campaigns."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from campaigns.dispatch import DispatchStats
from campaigns.freeze import FreezeResult
from campaigns.preflight import enforced, refusal, require_preflight, run_preflight
from campaigns.retention import keep_partitions_ahead
from campaigns.sending import SendReport, run_worker, send_campaign, start_due_campaigns
from campaigns.states import CampaignStatus, DeliveryStatus
from campaigns.welcome_queue import queue_due_steps
from newsletter.cli.campaigns import (
    OverrideOption,
    ReasonOption,
    SpreadOption,
    audience_lines,
    record_overrides,
)
from newsletter.cli.common import console, open_db
from newsletter.config import Settings, get_settings
from newsletter.db import Database, utcnow
from newsletter.gc_tuning import tune_for_sending

# The summary's rows: outcomes first, then what is still to do.
SUMMARY_ORDER = (
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
    DeliveryStatus.UNKNOWN,
    DeliveryStatus.SKIPPED,
    DeliveryStatus.QUEUED,
    DeliveryStatus.SENDING,
)


def _stop_on_signals() -> threading.Event:
    """SIGINT/SIGTERM finish the batches in flight, then stop (nothing is left 'sending')."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        console.print("stopping after the batches in flight…")
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _interactive() -> bool:
    return sys.stdin.isatty()


def _confirmed(database: Database, campaign_id: int, yes: bool) -> bool:
    """Ask before sending a campaign that has not started (a resume needs no question)."""
    started, lines = audience_lines(database, campaign_id)
    if started or yes:
        return True
    if not _interactive():
        console.print(
            f"campaign {campaign_id} would go to:\n" + "\n".join(lines) + "\n"
            "not sent: there is no terminal to ask at; add --yes to send without asking"
        )
        return False
    console.print(f"campaign {campaign_id} goes to:\n" + "\n".join(lines))
    return typer.confirm("Send it now?", default=False)


def _dry_run(database: Database, campaign_id: int, settings: Settings) -> None:
    """Who would get the campaign and which pre-send checks hold it back; nothing changes."""
    started, lines = audience_lines(database, campaign_id)
    if started:
        console.print(f"campaign {campaign_id} has started: `send` would resume it")
        return
    console.print(f"campaign {campaign_id} would go to:\n" + "\n".join(lines))
    if enforced(settings):
        report = run_preflight(database, campaign_id, settings)
        console.print(refusal(report) if report.blocking else "every pre-send check passes")
    console.print("dry run: nothing was sent or changed")


def send_command(
    campaign_id: int,
    retry_unknown: Annotated[
        bool,
        typer.Option(
            "--retry-unknown",
            help="Also resend recipients whose outcome is unknown (they may get it twice).",
        ),
    ] = False,
    retry_unknown_after: Annotated[
        float | None,
        typer.Option(
            "--retry-unknown-after",
            metavar="MINUTES",
            help="Let workers resend recipients whose outcome is still unknown, with no event "
            "from the provider, after this many minutes (at least "
            "NEWSLETTER_UNKNOWN_QUARANTINE_MINUTES).",
        ),
    ] = None,
    spread_minutes: SpreadOption = None,
    override: OverrideOption = None,
    reason: ReasonOption = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Send without asking (for scripts).")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Say who would get it, and what holds it back; send nothing."[:0]
            + "Who would get it and what holds it back; nothing is sent.",
        ),
    ] = False,
) -> None:
    """Freeze a campaign (compile its variants, queue its recipients) and send it now.

    Asks first, naming the recipients per segment; without a terminal to ask at, it needs
    --yes."""
    database = open_db()
    if dry_run:
        _dry_run(database, campaign_id, get_settings())
        return
    if not _confirmed(database, campaign_id, yes):
        raise typer.Exit(1)
    record_overrides(database, campaign_id, override, reason)
    require_preflight(database, campaign_id, get_settings())
    stop = _stop_on_signals()
    tune_for_sending()
    with Progress(
        TextColumn("[bold]sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("send", total=None, detail="")

        def frozen(result: FreezeResult) -> None:
            progress.update(task, total=result.recipients)
            for variant in result.variants:
                progress.console.print(
                    f"variant [bold]{variant.name}[/]: {variant.recipients} recipients, "
                    f"{variant.size_bytes / 1000:.0f} KB, subject “{variant.subject}”"
                )
                for warning in variant.warnings:
                    progress.console.print(f"  [yellow]warning:[/] {warning}")

        def advanced(stats: DispatchStats) -> None:
            progress.update(
                task,
                completed=stats.sent + stats.failed + stats.unknown,
                detail=f"failed {stats.failed} · unknown {stats.unknown} · retries {stats.retries}",
            )

        report = send_campaign(
            database,
            get_settings(),
            campaign_id,
            retry_unknown=retry_unknown,
            retry_unknown_after=retry_unknown_after,
            spread_minutes=spread_minutes,
            stop=stop,
            progress=advanced,
            on_frozen=frozen,
        )
    _summary(report)
    if report.status == CampaignStatus.PAUSED:
        raise typer.Exit(1)


def _summary(report: SendReport) -> None:
    table = Table("status", "recipients", title=f"campaign {report.campaign_id}: {report.status}")
    for status in SUMMARY_ORDER:
        if report.counts.get(status):
            table.add_row(status, str(report.counts[status]))
    table.add_row("this run: batches", str(report.stats.batches))
    table.add_row("this run: retries", str(report.stats.retries))
    console.print(table)
    if report.status_reason:
        console.print(f"[yellow]{report.status_reason}[/]")
    if report.next_local is not None:
        console.print(
            f"readers' local time: the next rows are due at {report.next_local:%Y-%m-%d %H:%M} UTC"
        )
    if report.status == CampaignStatus.SENDING:
        console.print(
            "still sending: `newsletter worker` (or `newsletter serve`'s worker) goes on with it"
        )


def worker_command(
    once: Annotated[bool, typer.Option("--once", help="Send what is due, then exit.")] = False,
    schedule: Annotated[
        bool,
        typer.Option(
            "--schedule",
            help="Also start scheduled campaigns when due and queue the welcome series "
            "(without it, this worker queues no welcome mail).",
        ),
    ] = False,
) -> None:
    """Send every campaign that is sending; run as many as you like against PostgreSQL."""
    stop = _stop_on_signals()
    database = open_db()
    tune_for_sending()
    stats = run_worker(database, get_settings(), stop=stop, once=once, schedule=schedule)
    console.print(
        f"worker stopped: {stats.sent} sent, {stats.failed} failed, {stats.unknown} unknown"
    )


def scheduler_command(
    once: Annotated[
        bool, typer.Option("--once", help="Start due campaigns and send them, then exit (cron).")
    ] = False,
) -> None:
    """Start scheduled campaigns when they fall due (safe to run as several copies)."""
    database = open_db()
    settings = get_settings()
    tune_for_sending()
    if once:
        keep_partitions_ahead(database.engine, utcnow().date())
        started = start_due_campaigns(database, settings)
        for result in started:
            console.print(f"started campaign {result.campaign_id}: {result.recipients} recipients")
        _queue_welcome(database, settings)
        stats = run_worker(database, settings, stop=threading.Event(), once=True)
        console.print(f"{stats.sent} sent, {stats.failed} failed, {stats.unknown} unknown")
        return
    stop = _stop_on_signals()
    while not stop.is_set():
        keep_partitions_ahead(database.engine, utcnow().date())  # once a month: a set look-up
        for result in start_due_campaigns(database, settings):
            console.print(f"started campaign {result.campaign_id}: {result.recipients} recipients")
        _queue_welcome(database, settings)
        stop.wait(settings.worker_poll_seconds)


def _queue_welcome(database: Database, settings: Settings) -> None:
    for queued in queue_due_steps(database, settings):
        console.print(
            f"welcome step {queued.step_id}: {queued.readers} readers queued "
            f"(campaign {queued.campaign_id})"
        )
