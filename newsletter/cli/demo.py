"""`newsletter demo`: the whole job end to end on embedded defaults, narrated step by step.

One function that grows with the product: import the sample briefs, add sample subscribers
in three segments, create this week's digest, send it to the local outbox, report, and send
the confirmed readers the welcome series' first step (made with the default text if the
series is empty).
Running it again is safe: what exists is reused, nothing is sent twice.
"""

from __future__ import annotations

import mailbox
import threading

from rich.table import Table
from sqlalchemy.orm import Session

from campaigns.audience import frozen_counts
from campaigns.digest import create_weekly_digest
from campaigns.reports import campaign_report
from campaigns.sending import run_worker, send_campaign
from campaigns.service import get_campaign
from campaigns.subject_tests import SubjectTestPlan, set_subject_test
from campaigns.weeks import IsoWeek
from campaigns.welcome_queue import queue_due_steps
from campaigns.welcome_steps import DEFAULT_BODY, DEFAULT_SUBJECT, StepText, add_step, list_steps
from newsletter.briefs.importer import import_briefs
from newsletter.cli.common import console, open_db
from newsletter.cli.report import print_subject_test
from newsletter.config import Settings, get_settings
from newsletter.db import Database
from newsletter.errors import ConflictError, NotFoundError
from newsletter.resources import data_path
from subscribers.directory import NewSubscriber, add_subscriber, find_by_email, status_counts
from subscribers.segment_store import create_segment, get_segment
from subscribers.signup import Origin

# (email, name, topics, narrative display)
SAMPLE_READERS: tuple[tuple[str, str | None, tuple[str, ...], str], ...] = (
    ("amara.okafor@example.org", "Amara", ("economy", "europe"), "all"),
    ("jonas.lindqvist@example.org", "Jonas", ("tech", "ai"), "all"),
    ("sofia.marquez@example.org", "Sofía", ("climate", "energy"), "all"),
    ("wei.zhang@example.org", "Wei", ("science", "space", "tech"), "all"),
    ("olena.kovalenko@example.org", "Олена", ("ukraine", "europe"), "all"),
    ("malik.haddad@example.org", "Malik", ("middle-east", "politics"), "all"),
    ("priya.raman@example.org", "Priya", ("health", "science"), "all"),
    ("tom.becker@example.org", None, ("economy", "uk"), "all"),
    ("lucia.ferri@example.org", "Lucia", ("tech", "economy"), "facts-only"),
    ("kenji.sato@example.org", "Kenji", ("sports", "economy"), "facts-only"),
    ("nadia.benali@example.org", "Nadia", ("politics", "us"), "facts-only"),
    ("erik.nilsen@example.org", "Erik", (), "all"),
    ("grace.mensah@example.org", "Grace", ("climate",), "no-forecast"),
    ("ivan.petrov@example.org", "Ivan", ("ukraine", "energy"), "no-forecast"),
)

DEMO_SUBJECT_B = "This week: {{ first_title }}"

# (name, rule, variant options, description)
SAMPLE_SEGMENTS: tuple[tuple[str, dict[str, object], dict[str, object], str], ...] = (
    (
        "quick-read",
        {"type": "narratives", "in": ["facts-only"]},
        {
            "narratives": "facts-only",
            "greeting": "Morning {name} — just the facts today.",
            "name_fallback": "there",
        },
        "Readers who asked for facts only",
    ),
    (
        "markets-and-tech",
        {"type": "topics", "any": ["economy", "tech", "ai"]},
        {
            "topics": ["economy", "tech", "ai", "uk", "us"],
            "order": "topics",
            "intro": "Markets and technology first this week.",
            "subject": "{{ newsletter_name }} · markets & tech: {{ first_title }}",
        },
        "Readers following the economy and technology",
    ),
    (
        "everyone-else",
        {"type": "everyone"},
        {"intro": "Here is the week in review, with every side of each story."},
        "Everybody else gets the full digest",
    ),
)


def demo_command() -> None:
    """Run the main job end to end on the configured (by default embedded) database."""
    settings = get_settings()
    console.rule("[bold]newsletter demo")
    console.print(f"database: {settings.database_url} · provider: {settings.provider}")
    database = open_db()
    try:
        samples = _import_briefs(database)
        _add_readers(database)
        _add_segments(database)
        campaign_id = _digest(database, settings, samples)
        settings = _subject_test(database, settings, campaign_id)
        _send(database, settings, campaign_id)
        _report(database, settings, campaign_id)
        _welcome(database, settings)
    finally:
        database.dispose()


def _import_briefs(database: Database) -> list[str]:
    """Import the samples; returns the slugs of those whose citations all have a source."""
    console.rule("1. import the sample briefs")
    imported = import_briefs(database, [data_path("examples") / "briefs"], mark_ready=True)
    for item in imported:
        brief = item.brief
        console.print(
            f"{'added' if item.created else 'updated'} [bold]{brief.slug}[/]: "
            f"{len(brief.facts)} facts, {len(brief.narratives)} narratives, "
            f"topics {', '.join(brief.topics) or '-'}"
        )
    console.print(f"{len(imported)} briefs imported and marked ready")
    return [item.brief.slug for item in imported if not item.brief.unsourced_citations]


def _add_readers(database: Database) -> None:
    console.rule("2. add sample subscribers (confirmed)")
    added = 0
    with database.transaction() as session:
        known = {topic for _, _, topics, _ in SAMPLE_READERS for topic in topics}
        for email, name, topics, narratives in SAMPLE_READERS:
            if _known(session, email):
                continue
            new = NewSubscriber(
                email,
                name,
                list(topics),
                confirmed=True,
                welcome=True,  # the demo shows the welcome series (step 7)
                source="demo",
                narratives=narratives,
            )
            add_subscriber(session, new, known_topics=known, origin=Origin(source="demo"))
            added += 1
        total = status_counts(session).get("active", 0)
    console.print(f"{added} added; {total} active subscribers in all")


def _known(session: Session, email: str) -> bool:
    try:
        find_by_email(session, email)
    except NotFoundError:
        return False
    return True


def _has_segment(session: Session, name: str) -> bool:
    try:
        get_segment(session, name)
    except NotFoundError:
        return False
    return True


def _add_segments(database: Database) -> None:
    console.rule("3. segments (first match wins)")
    with database.transaction() as session:
        for name, rule, options, description in SAMPLE_SEGMENTS:
            if not _has_segment(session, name):
                create_segment(session, name, rule, options=options, description=description)
            console.print(f"[bold]{name}[/]: {description}")


def _digest(database: Database, settings: Settings, samples: list[str]) -> int:
    """This week's digest. The samples are dated November 2026, so most are not this week's
    news: the demo includes the ones whose citations have sources *on purpose*, and says so;
    the seed brief (2023, no Sources section) stays out and is named with the reason."""
    console.rule("4. this week's digest")
    week = IsoWeek.current()
    console.print(
        f"a digest holds the ready briefs updated in {week} or the "
        f"{settings.digest_grace_days} days before; the sample briefs are older, so the demo "
        f"includes these {len(samples)} explicitly (--include)"
    )
    result = create_weekly_digest(
        database,
        week,
        settings=settings,
        segment_names=tuple(name for name, *_ in SAMPLE_SEGMENTS),
        include=samples,
    )
    state = "created" if result.created else "already existed"
    console.print(
        f"digest {week} {state}: campaign {result.campaign_id} with "
        f"{len(result.brief_slugs)} briefs"
    )
    for item in result.left_out:
        console.print(f"left out {item.slug}: {item.reason}", markup=False, soft_wrap=True)
    return result.campaign_id


def _subject_test(database: Database, settings: Settings, campaign_id: int) -> Settings:
    """A second subject on test cells of a quarter of the readers each. Fourteen readers
    cannot tell subjects apart, so the demo lowers the minimum cell to 1 and decides at once
    (no wait, no clicks yet): it shows the machinery and says "no clear winner"."""
    console.rule("4b. a subject test")
    with database.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        if campaign.frozen_at is None and not campaign.subject_candidates:
            plan = SubjectTestPlan([(DEMO_SUBJECT_B, None)], share=0.25, wait_minutes=0)
            set_subject_test(session, campaign_id, plan)
    console.print(
        f"subject B “{DEMO_SUBJECT_B}” against each segment's own subject: 25 % of the readers "
        "per cell, the winner by unique human clicks to the rest. With 14 readers and no wait "
        "(demo only: NEWSLETTER_SUBJECT_TEST_MIN_CELL lowered to 1 here) it is decided as soon "
        "as the cells are out, before anyone can click: no clear winner, the first subject wins",
        markup=False,
        soft_wrap=True,
    )
    return settings.model_copy(update={"subject_test_min_cell": 1})


def _send(database: Database, settings: Settings, campaign_id: int) -> None:
    console.rule("5. send it to the outbox")
    try:
        report = send_campaign(database, settings, campaign_id)
    except ConflictError as exc:
        console.print(f"not sent again: {exc}")
        return
    if report.freeze is not None:
        empty = sum(1 for variant in report.freeze.variants if not variant.recipients)
        for variant in report.freeze.variants:
            if not variant.recipients:
                continue
            console.print(
                f"variant [bold]{variant.name}[/]: {variant.recipients} recipients, "
                f"{variant.size_bytes / 1000:.0f} KB, subject “{variant.subject}”"
            )
        if empty:
            console.print(f"({empty} variants compiled for nobody in this audience not listed)")
    console.print(f"campaign {campaign_id}: {report.status}")


def _report(database: Database, settings: Settings, campaign_id: int) -> None:
    console.rule("6. report")
    table = Table("segment", "recipients", "sent", "failed", "unknown", "skipped")
    with database.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        progress = [v for v in frozen_counts(session, campaign_id) if v.counts]
    for variant in progress:
        table.add_row(
            variant.name,
            str(variant.total),
            *(str(variant.counts.get(s, 0)) for s in ("sent", "failed", "unknown", "skipped")),
        )
    console.print(table)
    with database.transaction() as session:
        tested = campaign_report(session, campaign_id).subject_test
    if tested is not None:
        print_subject_test(tested)
    outbox = settings.outbox.resolve()
    if outbox.is_dir():
        messages = len(mailbox.Maildir(outbox, create=False))
        console.print(
            f"{messages} messages in the outbox: {outbox}/new (open them in a mail client)"
        )
    console.print(f"campaign {campaign.id} “{campaign.name}”: {campaign.status}")


def _welcome(database: Database, settings: Settings) -> None:
    """The welcome series' day-0 step for the readers just confirmed, as a worker's schedule
    round sends it (a second run queues nobody: each reader gets a step once)."""
    console.rule("7. welcome series")
    with database.transaction() as session:
        if not list_steps(session):
            add_step(session, StepText(0, DEFAULT_SUBJECT, DEFAULT_BODY))
            console.print("added the default welcome step (day 0): edit it at /editor/welcome")
    queued = queue_due_steps(database, settings)
    for item in queued:
        console.print(
            f"welcome step {item.step_id}: {item.readers} readers queued "
            f"(campaign {item.campaign_id})"
        )
    if not queued:
        console.print("no reader is due a welcome step (each gets a step once)")
    stats = run_worker(database, settings, stop=threading.Event(), once=True)
    console.print(f"welcome mails sent: {stats.sent}")
    outbox = settings.outbox.resolve()
    if outbox.is_dir():
        messages = len(mailbox.Maildir(outbox, create=False))
        console.print(f"{messages} messages in the outbox: {outbox}/new (the welcome mails too)")
