"""Test helpers for campaigns: sample briefs in the database, many subscribers fast, two
overlapping segments with their readers, an issue sent to them, and two scheduler copies
racing each other."""

from __future__ import annotations

import contextlib
import mailbox
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import insert, select, update

from campaigns.freeze import freeze_campaign
from campaigns.model import Delivery, Variant
from campaigns.payloads import StoredPayload, payloads_of
from campaigns.sending import send_campaign
from campaigns.service import CampaignDraft, create_campaign
from campaigns.welcome_model import WelcomeReceipt
from newsletter.briefs.document import Brief
from newsletter.briefs.importer import import_briefs, read_brief_file
from newsletter.briefs.store import save_brief
from newsletter.config import Settings
from newsletter.db import Database, open_database, utcnow
from newsletter.tokens import Purpose, TokenSigner
from subscribers.addresses import email_digest
from subscribers.model import ConsentRecord, Segment, Subscriber
from tests.conftest import ROOT
from tests.fakes.sendgrid_server import DEFAULT_KEY, FakeSendGrid

EXAMPLES = ROOT / "examples" / "briefs"
SLUGS = (
    "eu-gas-prices-climb-as-early-cold-snap-drains-storage",
    "bank-of-england-cuts-rates-split-vote",
    "judge-orders-google-to-sell-its-ad-exchange",
)


def import_examples(db: Database, *, ready: bool = True) -> list[str]:
    return [r.brief.slug for r in import_briefs(db, [EXAMPLES], mark_ready=ready)]


CITED = "gas-prices-with-cited-narratives"


def import_cited_brief(
    db: Database, *, slug: str = CITED, edit: Callable[[dict[str, Any]], object] | None = None
) -> str:
    """An example brief whose narratives cite its sources (the examples' narratives cite
    none; two forecasts link their question), so that clicks can be told apart by
    narrative; returns its slug. Narrative N
    cites source N % 6 + 1; ``edit`` may change the brief's data before it is stored."""
    brief = read_brief_file(EXAMPLES / "001_eu-gas-prices-cold-snap.txt")
    data = brief.model_dump()
    data["slug"] = slug
    data["title"] = "Gas prices, with narratives that cite their sources"
    for number, narrative in enumerate(data["narratives"], 1):
        narrative["paragraphs"] = [
            f"{narrative['paragraphs'][0]} [{number % 6 + 1}]",
            *narrative["paragraphs"][1:],
        ]
    if edit is not None:
        edit(data)
    with db.transaction() as session:
        save_brief(session, Brief.model_validate(data))
    return slug


def ready_brief(
    db: Database, slug: str, updated: date, *, status: str = "ready", sourced: bool = True
) -> str:
    """A brief titled "Story <slug>" updated on ``updated`` (example 001's content); without
    ``sourced`` it keeps its citations [1]–[6] but loses its sources, like the seed brief."""
    data = read_brief_file(EXAMPLES / "001_eu-gas-prices-cold-snap.txt").model_dump()
    data.update(slug=slug, title=f"Story {slug}", updated=updated, status=status)
    if not sourced:
        data["sources"] = []
    with db.transaction() as session:
        save_brief(session, Brief.model_validate(data))
    return slug


def add_subscribers(
    db: Database,
    count: int,
    *,
    start: int = 0,
    status: str = "active",
    topics: Sequence[str] = (),
    domain: str = "example.org",
    named: bool = True,
    narratives: str = "all",
) -> list[str]:
    """``count`` subscribers inserted in bulk; returns their addresses."""
    now = utcnow()
    rows = []
    for n in range(start, start + count):
        email = f"reader{n}@{domain}"
        rows.append(
            {
                "uid": secrets.token_urlsafe(16),
                "email": email,
                "email_key": email,
                "email_hash": email_digest(email),
                "name": f"Reader {n}" if named else None,
                "status": status,
                "topics": list(topics),
                "narratives": narratives,
                "attributes": {},
                "source": "test",
                "created_at": now,
                "confirmed_at": now if status == "active" else None,
                "welcome_from": now if status == "active" else None,  # as by double opt-in
            }
        )
    with db.transaction() as session:
        for chunk in range(0, len(rows), 5000):
            session.execute(insert(Subscriber), rows[chunk : chunk + 5000])
    return [r["email"] for r in rows]


def record_confirmations(db: Database) -> None:
    """A ``confirm`` consent record at each active reader's ``confirmed_at``: the history a
    double opt-in leaves (:func:`add_subscribers` writes none), which migration 0039 reads."""
    with db.transaction() as session:
        readers = session.execute(
            select(Subscriber.id, Subscriber.confirmed_at).where(Subscriber.status == "active")
        ).all()
        for reader_id, confirmed_at in readers:
            session.add(ConsentRecord(subscriber_id=reader_id, kind="confirm", at=confirmed_at))


def add_segment(
    db: Database, name: str, rule: dict[str, object], options: dict[str, object]
) -> None:
    with db.transaction() as session:
        session.add(Segment(name=name, rule=rule, options=options))


def add_tech_and_economy(db: Database) -> dict[str, int]:
    """Two overlapping segments, in match order: ``tech`` (facts only) then ``economy``
    (economy or tech readers); returns their ids by name."""
    add_segment(db, "tech", {"type": "topics", "any": ["tech"]}, {"narratives": "facts-only"})
    add_segment(db, "economy", {"type": "topics", "any": ["economy", "tech"]}, {})
    with db.transaction() as session:
        rows = session.execute(
            select(Segment.name, Segment.id).where(Segment.name.in_(["tech", "economy"]))
        )
        return dict(rows.all())


def add_topic_readers(db: Database, *, inactive: str = "pending") -> None:
    """Readers for :func:`add_tech_and_economy`: 5 of tech (``reader0``–``reader4``), 4 of
    economy (``reader100``–``reader103``), 3 of neither (``reader200``–``reader202``), and 2
    with the status ``inactive`` (``reader300``–``reader301``)."""
    add_subscribers(db, 5, topics=["tech"])
    add_subscribers(db, 4, start=100, topics=["economy"])
    add_subscribers(db, 3, start=200)
    add_subscribers(db, 2, start=300, status=inactive)


def new_campaign(
    db: Database,
    *,
    segments: Sequence[str] = (),
    more_briefs: Sequence[str] = (),
    name: str = "Issue",
) -> int:
    """A draft campaign of the three example briefs and ``more_briefs`` (for ``segments``)."""
    briefs = [*SLUGS, *more_briefs]
    draft = CampaignDraft(name=name, brief_slugs=briefs, segment_names=list(segments))
    with db.transaction() as session:
        return create_campaign(session, draft).id


def sendgrid_settings(server: FakeSendGrid, **changes: object) -> Settings:
    """Settings that send through the fake SendGrid, with short retry delays."""
    values: dict[str, object] = {
        "provider": "sendgrid",
        "sendgrid_api_key": DEFAULT_KEY,
        "sendgrid_host": server.url,
        "sendgrid_timeout": 2.0,
        "send_retry_base_delay": 0.01,
        "send_retry_max_delay": 0.05,
        "send_batch_size": 100,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


def frozen_recipients(
    db: Database, server: FakeSendGrid, *, segments: Sequence[str] = ()
) -> set[str]:
    """Freeze a new campaign (for ``segments``) and return the addresses it queued."""
    campaign_id = new_campaign(db, segments=segments)
    freeze_campaign(db, campaign_id, sendgrid_settings(server))
    with db.transaction() as session:
        return set(
            session.scalars(
                select(Subscriber.email)
                .join(Delivery, Delivery.subscriber_id == Subscriber.id)
                .where(Delivery.campaign_id == campaign_id)
            )
        )


def welcomed(db: Database, step_id: int) -> list[str]:
    """The addresses a welcome step has been queued for, sorted."""
    with db.transaction() as session:
        return sorted(
            session.scalars(
                select(Subscriber.email)
                .join(WelcomeReceipt, WelcomeReceipt.subscriber_id == Subscriber.id)
                .where(WelcomeReceipt.step_id == step_id)
            )
        )


@dataclass(frozen=True)
class SentIssue:
    """A campaign that went out an hour ago (so that no click is a scanner's for being too
    fast), with each recipient's tracking token and variant by address."""

    campaign_id: int
    tokens: dict[str, str]
    variants: dict[str, int]


def send_issue(db: Database, settings: Settings, campaign_id: int) -> SentIssue:
    """Send ``campaign_id`` with ``settings`` and date its deliveries an hour back."""
    send_campaign(db, settings, campaign_id)
    signer = TokenSigner(settings.signing_key())
    with db.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.campaign_id == campaign_id)
            .values(sent_at=utcnow() - timedelta(hours=1))
        )
        rows = session.execute(
            select(Subscriber.email, Delivery.id, Delivery.variant_id)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.campaign_id == campaign_id)
        ).all()
    return SentIssue(
        campaign_id,
        {email: signer.sign(Purpose.TRACKING, str(delivery)) for email, delivery, _ in rows},
        {email: variant for email, _, variant in rows},
    )


def links_by_section(db: Database, variant_id: int) -> dict[str, list[dict[str, Any]]]:
    """A frozen variant's links (``link_id``, ``url``, ``brief_slug``, ``narrative`` …) by
    section (``fact-citation``, ``narrative``, ``source``, ``footer`` …)."""
    with db.transaction() as session:
        links = session.scalars(select(Variant.links).where(Variant.id == variant_id)).one()
    found: dict[str, list[dict[str, Any]]] = {}
    for link in links:
        found.setdefault(link["section"], []).append(link)
    return found


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return cast(str, part.get_content())


def outbox_mails(folder: Path) -> list[EmailMessage]:
    """The messages in an outbox Maildir (none if it was never made)."""
    if not folder.exists():
        return []
    box = mailbox.Maildir(folder, create=False)
    return [
        cast(EmailMessage, message_from_bytes(box.get_bytes(key), policy=policy.default))
        for key in sorted(box.iterkeys())
    ]


def payload_of(db: Database, event_id: int) -> StoredPayload | None:
    """The payload (raw event, user agent) kept for the event whose ``events.id`` is given."""
    with db.transaction() as session:
        return payloads_of(session.connection(), [event_id]).get(event_id)


def meet_before(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
    """Make ``module.name`` wait (up to 3 s) for a second caller before it runs: two copies
    that both reach it are then certain to have both read "not done yet". A copy that is
    correctly held back before it (by a lock) leaves the first to go on alone after 3 s."""
    real = getattr(module, name)
    meeting = threading.Barrier(2, timeout=3)

    def waiting(*args: Any, **kwargs: Any) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):
            meeting.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, waiting)


def race(db: Database, work: Callable[[Database], object]) -> list[BaseException]:
    """Run ``work`` in two threads at once, each with a database connection of its own (two
    scheduler copies); the errors they raised."""
    url = db.engine.url.render_as_string(hide_password=False)
    copies = [open_database(url) for _ in range(2)]
    errors: list[BaseException] = []

    def run(database: Database) -> None:
        try:
            work(database)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(copy,)) for copy in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for copy in copies:
        copy.dispose()
    return errors
