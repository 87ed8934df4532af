"""The report counters kept at ingest (campaigns.rollups) say exactly what the stored events
say, under provider replays, in any order, from concurrent ingest threads on PostgreSQL; a
report keeps its totals once its events are deleted; migration 0020 fills them from the
events already stored; and the report reads them by their keys."""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, event, insert, select

from campaigns.events import OWN_LINK_SECTIONS, Event, EventRecord
from campaigns.ingest import IngestPolicy, record_events
from campaigns.linkmap import LinkIndexCache
from campaigns.model import Delivery
from campaigns.reports import CampaignReport, campaign_report, report_queries
from campaigns.rollups import (
    FIGURES,
    NARRATIVE_SEPARATOR,
    CampaignTally,
    DeliveryClick,
    DeliveryRollup,
    VariantDeliveries,
    VariantRollup,
)
from campaigns.sending import send_campaign
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.migrate import alembic_config
from subscribers.model import Subscriber
from tests.campaigns.helpers import (
    add_subscribers,
    import_examples,
    links_by_section,
    new_campaign,
)

# the index each counter table is read by, on each database
KEYS = {
    "variant_rollups": dict.fromkeys(("sqlite", "postgresql"), "ix_variant_rollups_campaign_id"),
    "variant_deliveries": dict.fromkeys(
        ("sqlite", "postgresql"), "ix_variant_deliveries_campaign_id"
    ),
    "campaign_tallies": {
        "sqlite": "sqlite_autoindex_campaign_tallies_1",
        "postgresql": "pk_campaign_tallies",
    },
}
POLICY = IngestPolicy.from_settings(Settings())
ELSEWHERE = "https://elsewhere.example/rewritten"
KINDS = ["delivered", "bounced", "dropped", "deferred", "opened", "opened", "clicked", "clicked"]
KINDS += ["unsubscribed", "complained", "processed"]
READER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"


@dataclass(frozen=True)
class Sent:
    campaign_id: int
    deliveries: list[int]
    links: list[str]  # content links, then one of our own (footer)


def _sent(db: Database, tmp_path: Path, readers: int = 24) -> Sent:
    import_examples(db)
    add_subscribers(db, readers)
    campaign_id = new_campaign(db)
    send_campaign(db, Settings(outbox=tmp_path / "box"), campaign_id)
    with db.transaction() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.variant_id)
            .where(Delivery.campaign_id == campaign_id)
            .order_by(Delivery.id)
        ).all()
    sections = links_by_section(db, rows[0][1])
    content = [
        link["link_id"]
        for section, links in sections.items()
        if section not in OWN_LINK_SECTIONS
        for link in links
    ]
    own = sections["footer"][0]["link_id"]
    return Sent(campaign_id, [r[0] for r in rows], [*content[:5], own])


def _events(sent: Sent, count: int, seed: int) -> list[EventRecord]:
    """``count`` random events of every kind for the campaign's deliveries (some machines',
    some clicks on our own link or on a URL we did not send)."""
    pick = random.Random(seed)
    later = utcnow() + timedelta(hours=2)  # past the scanners' window after sending
    found = []
    for n in range(count):
        kind = pick.choice(KINDS)
        machine = kind in ("opened", "clicked") and pick.random() < 0.3
        if n % 10 == 0:
            kind, machine = "opened", True
        link = pick.choice([*sent.links, None]) if kind == "clicked" else None
        found.append(
            EventRecord(
                source="first-party",
                event_id=f"{seed}-{n}",
                type=kind,  # type: ignore[arg-type]
                occurred_at=later,
                received_at=later,
                # several events each; the last few get machine opens only
                delivery_ref=pick.choice(sent.deliveries[:12])
                if n % 10
                else sent.deliveries[12 + n % 3],
                campaign_ref=sent.campaign_id,
                machine_reason="head" if machine else None,
                bounce_type=pick.choice(["hard", "soft", None]) if kind == "bounced" else None,
                link_id=link,
                url=ELSEWHERE if kind == "clicked" and link is None else None,
                user_agent=READER,
            )
        )
    return found


def _ingest(db: Database, records: list[EventRecord]) -> None:
    with db.transaction() as session:
        record_events(session, records, POLICY, LinkIndexCache())


def _report(db: Database, campaign_id: int) -> CampaignReport:
    with db.transaction() as session:
        return campaign_report(session, campaign_id, top_links=100)


def _from_events(db: Database, campaign_id: int) -> dict[str, Any]:
    """What the stored events say, counted here the slow and obvious way."""
    columns = (Event.delivery_id, Event.variant_id, Event.type, Event.machine, Event.bounce_type)
    columns += (Event.section, Event.brief_slug, Event.narrative, Event.link_id, Event.url)
    with db.transaction() as session:
        events = session.execute(
            select(*columns, Event.machine_reason).where(
                Event.campaign_id == campaign_id, Event.delivery_id.is_not(None)
            )
        ).all()
    kinds: dict[int, set[str]] = defaultdict(set)
    variant_of: dict[int, int] = {}
    per_variant: dict[int, Counter[str]] = defaultdict(Counter)
    clicks: dict[tuple[str, str], list[int]] = defaultdict(list)
    machine: Counter[str] = Counter()
    for (
        delivery,
        variant,
        kind,
        is_machine,
        bounce,
        section,
        slug,
        narrative,
        link,
        url,
        why,
    ) in events:
        variant_of[delivery] = variant
        reader_click = kind == "clicked" and not is_machine and section not in OWN_LINK_SECTIONS
        if is_machine:
            machine[f"{kind}:{why}"] += 1
            kinds[delivery].add("machine_open" if kind == "opened" else "")
            per_variant[variant]["machine_clicks"] += kind == "clicked"
        elif kind == "opened":
            kinds[delivery].add("open")
            per_variant[variant]["opens"] += 1
        elif reader_click:
            kinds[delivery].add("click")
            per_variant[variant]["clicks"] += 1
            keys = [("link", link) if link else ("url", url)]
            if slug:
                keys.append(("brief", slug))
                if narrative:
                    keys.append(("narrative", f"{slug}{NARRATIVE_SEPARATOR}{narrative}"))
            for key in keys:
                clicks[key].append(delivery)
        elif kind != "clicked":
            kinds[delivery].add(kind)
            if kind == "bounced" and bounce:
                kinds[delivery].add(f"{bounce}_bounced")
    names = ["delivered", "bounced", "hard_bounced", "soft_bounced", "dropped", "deferred"]
    names += ["unsubscribed", "complained"]
    for delivery, had in kinds.items():
        counts = per_variant[variant_of[delivery]]
        for name in names:
            counts[name] += name in had
        counts["opened"] += bool(had & {"open", "click"})
        counts["clicked"] += "click" in had
        counts["machine_opened"] += "machine_open" in had and not had & {"open", "click"}
    tallies = {key: (len(ids), len(set(ids))) for key, ids in clicks.items()}
    return {"variants": per_variant, "tallies": tallies, "machine": dict(machine)}


def _said(report: CampaignReport) -> dict[str, Any]:
    """The same numbers, as the report gives them."""
    variants = {
        c.variant_id: Counter({name: getattr(c.figures, name) for name in FIGURES})
        for c in report.choices
    }
    tallies: dict[tuple[str, str], tuple[int, int]] = {}
    for link in report.top_links:
        tallies[("link", link.link_id) if link.link_id else ("url", link.url)] = (
            link.clicks,
            link.clickers,
        )
    for brief in report.briefs:
        tallies[("brief", brief.brief_slug)] = (brief.clicks, brief.clickers)
    for one in report.narratives:
        key = f"{one.brief_slug}{NARRATIVE_SEPARATOR}{one.narrative}"
        tallies[("narrative", key)] = (one.clicks, one.clickers)
    tallies = {key: value for key, value in tallies.items() if value != (0, 0)}
    return {"variants": variants, "tallies": tallies, "machine": report.machine_events}


def _expected(db: Database, campaign_id: int, report: CampaignReport) -> dict[str, Any]:
    found = _from_events(db, campaign_id)
    for choice in report.choices:  # variants without events: all zero
        found["variants"].setdefault(choice.variant_id, Counter())
    found["variants"] = {
        v: Counter({name: counts[name] for name in FIGURES})
        for v, counts in found["variants"].items()
    }
    return found


def test_counters_say_what_the_events_say_through_replays(db: Database, tmp_path: Path) -> None:
    sent = _sent(db, tmp_path)
    events = _events(sent, 400, seed=1)
    for start in range(0, 400, 50):
        _ingest(db, events[start : start + 50])
    _ingest(db, events[::3])  # the provider sends a third of them again, in another batching
    _ingest(db, events[100:250])
    report = _report(db, sent.campaign_id)
    assert _said(report) == _expected(db, sent.campaign_id, report)
    totals = report.totals
    assert totals.opened >= totals.clicked > 0 and totals.machine_opened > 0
    assert totals.hard_bounced > 0 and report.machine_events


def test_a_click_after_a_machine_open_moves_the_reader_out_of_machine_only(
    db: Database, tmp_path: Path
) -> None:
    sent = _sent(db, tmp_path, readers=2)
    later = utcnow() + timedelta(hours=2)

    def one(n: int, kind: str, machine: str | None = None) -> EventRecord:
        return EventRecord(
            source="first-party",
            event_id=f"e{n}",
            type=kind,  # type: ignore[arg-type]
            occurred_at=later,
            received_at=later,
            delivery_ref=sent.deliveries[0],
            campaign_ref=sent.campaign_id,
            machine_reason=machine,
            link_id=sent.links[0] if kind == "clicked" else None,
            user_agent=READER,
        )

    _ingest(db, [one(1, "opened", "head")])
    assert (_report(db, sent.campaign_id).totals.machine_opened, 0) == (1, 0)
    _ingest(db, [one(2, "clicked")])  # a later batch: the click proves a human open
    totals = _report(db, sent.campaign_id).totals
    assert (totals.machine_opened, totals.opened, totals.opens, totals.clicked) == (0, 1, 0, 1)
    _ingest(db, [one(3, "opened"), one(2, "clicked")])  # an open, and the click replayed
    totals = _report(db, sent.campaign_id).totals
    assert (totals.opened, totals.opens, totals.clicked, totals.clicks) == (1, 1, 1, 1)


def test_a_report_keeps_its_totals_when_its_events_are_deleted(
    db: Database, tmp_path: Path
) -> None:
    sent = _sent(db, tmp_path)
    _ingest(db, _events(sent, 200, seed=2))
    before = _report(db, sent.campaign_id)
    with db.transaction() as session:
        session.execute(delete(Event))
    after = _report(db, sent.campaign_id)
    assert after.totals == before.totals and after.choices == before.choices
    assert (after.briefs, after.narratives) == (before.briefs, before.narratives)
    assert (after.top_links, after.machine_events) == (before.top_links, before.machine_events)


def test_concurrent_ingest_counts_every_reader_once(db: Database, tmp_path: Path) -> None:
    """Four threads post overlapping batches (the same deliveries, half of them replays of
    each other's events) on PostgreSQL: the unique counts stay exact."""
    if db.dialect != "postgresql":
        pytest.skip("one writer at a time on SQLite")
    sent = _sent(db, tmp_path)
    events = _events(sent, 600, seed=3)
    failures: list[BaseException] = []

    def post(offset: int) -> None:
        try:
            mine = events[offset::2]  # two threads share each half: every event twice
            for start in range(0, len(mine), 20):
                _ingest(db, mine[start : start + 20])
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=post, args=(n % 2,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    report = _report(db, sent.campaign_id)
    assert _said(report) == _expected(db, sent.campaign_id, report)


def test_0020_fills_the_counters_from_the_stored_events(db: Database, tmp_path: Path) -> None:
    """Events stored before 0020 (its tables dropped and made again over them) give the
    report exactly what ingest gave it."""
    sent = _sent(db, tmp_path)
    _ingest(db, _events(sent, 300, seed=4))
    before = _report(db, sent.campaign_id)
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0019")
    assert "0020" in db.upgrade()
    after = _report(db, sent.campaign_id)
    assert after.totals == before.totals and after.choices == before.choices
    assert (after.briefs, after.narratives) == (before.briefs, before.narratives)
    assert (after.top_links, after.machine_events) == (before.top_links, before.machine_events)
    _ingest(db, _events(sent, 100, seed=5))  # and ingest goes on counting from there
    report = _report(db, sent.campaign_id)
    assert _said(report) == _expected(db, sent.campaign_id, report)


def test_the_report_reads_the_counters_by_their_keys_not_the_events(
    db: Database, tmp_path: Path
) -> None:
    """With the counters of 2,000 other campaigns beside it, a report finds its own rows by
    key (PostgreSQL is also kept off sequential scans: a table this small would be read whole,
    so what is checked is that the key can be used)."""
    sent = _sent(db, tmp_path)
    _ingest(db, _events(sent, 200, seed=6))
    others = range(10_000, 12_000)
    with db.transaction() as session:
        session.execute(
            insert(VariantRollup),
            [dict.fromkeys(FIGURES, 1) | {"variant_id": n, "campaign_id": n} for n in others],
        )
        session.execute(
            insert(VariantDeliveries),
            [
                {"variant_id": n, "status": "sent", "campaign_id": n, "deliveries": 1, "resent": 0}
                for n in others
            ],
        )
        session.execute(
            insert(CampaignTally),
            [
                {"campaign_id": n, "kind": kind, "key_hash": str(n), "key": "k", "total": 1}
                | {"readers": 1}
                for n in others
                for kind in ("brief", "link", "machine")
            ],
        )
    with db.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
        if db.dialect == "postgresql":
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        explain = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
        for statement, table in report_queries(sent.campaign_id):
            index = KEYS[table][db.dialect]
            compiled = statement.compile(
                dialect=connection.dialect, compile_kwargs={"literal_binds": True}
            )
            rows = connection.exec_driver_sql(explain + str(compiled)).all()
            plan = "\n".join(str(row[-1]) for row in rows)
            assert index in plan, plan
            assert "events" not in plan, plan


def test_an_erased_readers_delivery_leaves_the_counts_and_takes_its_marks(
    db: Database, tmp_path: Path
) -> None:
    sent = _sent(db, tmp_path)
    _ingest(db, _events(sent, 200, seed=7))
    gone = sent.deliveries[0]
    with db.transaction() as session:
        subscriber = session.scalars(select(Delivery.subscriber_id).where(Delivery.id == gone))
        session.execute(delete(Subscriber).where(Subscriber.id == subscriber.one()))
    report = _report(db, sent.campaign_id)
    assert (report.totals.recipients, report.totals.sent) == (23, 23)
    with db.transaction() as session:
        assert session.get(DeliveryRollup, gone) is None
        assert (
            session.scalars(select(DeliveryClick).where(DeliveryClick.delivery_id == gone)).all()
            == []
        )


SHARED_ROWS = ("subscriber_engagement", "delivery_rollups", "delivery_clicks", "campaign_tallies")


def test_rows_concurrent_batches_share_are_written_last(db: Database, tmp_path: Path) -> None:
    """A reader's engagement, a delivery's bits and the counters are rows that concurrent
    batches share: each stays locked from its upsert to the commit, so they are the
    batch's last statements (effects, suppressions and unsubscribes come before), and the
    variant's counters, which every batch of a campaign shares, the very last."""
    sent = _sent(db, tmp_path)
    with db.transaction() as session:
        address = session.scalar(
            select(Subscriber.email)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.id == sent.deliveries[0])
        )
    now = utcnow()
    bounce = EventRecord(  # names its recipient, so it suppresses them: an effect
        source="sendgrid",
        event_id="hard-bounce",
        type="bounced",
        occurred_at=now,
        received_at=now,
        email=address,
        delivery_ref=sent.deliveries[0],
        campaign_ref=sent.campaign_id,
        bounce_type="hard",
    )
    records = [bounce, *_events(sent, 300, seed=5)]
    assert {"opened", "clicked"} <= {r.type for r in records}
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()[:3]))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        _ingest(db, records)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    first_shared = next(i for i, text in enumerate(seen) if text.endswith(SHARED_ROWS))
    tail = seen[first_shared:]
    assert all(text.startswith("INSERT INTO") for text in tail), tail
    assert all(text.split()[2] in (*SHARED_ROWS, "variant_rollups") for text in tail), tail
    assert tail[-1] == "INSERT INTO variant_rollups"
    assert any("suppressions" in text for text in seen[:first_shared])  # effects came first
