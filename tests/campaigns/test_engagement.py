"""Engagement segments ("opened in the last 30 days") and tracking data in GDPR duties.

The rules are registered by the campaigns package; a campaign frozen for an engagement
segment reaches exactly the readers who engaged (machine opens do not count).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from campaigns.engagement import note_engagement
from campaigns.events import Event, EventBatch, EventRecord, SubscriberEngagement
from campaigns.ingest import IngestPolicy, record_events
from campaigns.linkmap import LinkIndexCache
from campaigns.model import Delivery
from campaigns.payloads import payloads_of
from campaigns.sending import send_campaign
from newsletter.cli.app import app
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from subscribers.gdpr import erase_subscriber, export_personal_data
from subscribers.model import Subscriber
from subscribers.segment_store import context_for, count_members
from subscribers.segments import parse_rule, recipients_by_segment
from subscribers.suppression import mailable
from tests.campaigns.helpers import (
    add_segment,
    add_subscribers,
    frozen_recipients,
    import_examples,
    new_campaign,
    sendgrid_settings,
)
from tests.campaigns.webhooks import accepted_recipients, event, ingest, recipients_of
from tests.fakes.sendgrid_server import FakeSendGrid

DAY = 86_400


def engaged_readers(db: Database, server: FakeSendGrid) -> list[str]:
    """Six readers of a sent campaign who did different things, days ago."""
    import_examples(db)
    addresses = add_subscribers(db, 6)
    campaign_id = new_campaign(db)
    assert send_campaign(db, sendgrid_settings(server), campaign_id).status == "sent"
    to = recipients_of(server, campaign_id)
    now = int(time.time())
    with db.transaction() as session:  # as if the campaign went out two months ago
        session.execute(update(Delivery).values(sent_at=utcnow() - timedelta(days=60)))
    r = [to[a] for a in addresses]
    ingest(
        db,
        [
            event(r[0], "open", timestamp=now - 5 * DAY, useragent="Mozilla/5.0 (Windows)"),
            event(
                r[1], "open", timestamp=now - 1 * DAY, sg_machine_open=True, useragent="Mozilla/5.0"
            ),
            event(
                r[2],
                "click",
                timestamp=now - 40 * DAY,
                url="https://www.reuters.com/",
                useragent="Mozilla/5.0 (X11)",
            ),
            event(r[3], "open", timestamp=now - 40 * DAY, useragent="Mozilla/5.0 (iPhone)"),
            event(
                r[4],
                "click",
                timestamp=now - 2 * DAY,
                url="https://agsi.gie.eu/",
                useragent="Mozilla/5.0 (Android)",
            ),
            event(r[5], "delivered", timestamp=now - 5 * DAY),
        ],
    )
    return addresses


def test_a_campaign_for_an_engagement_segment_reaches_the_engaged(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    a = engaged_readers(db, sendgrid_server)
    add_segment(db, "opened-30", {"type": "opened", "within_days": 30}, {})
    add_segment(db, "clicked-60", {"type": "clicked", "within_days": 60}, {})
    add_segment(
        db,
        "lapsed",
        {"type": "not", "rule": {"type": "opened", "within_days": 30}},
        {},
    )
    # a click counts as an open; Apple's machine open does not
    assert frozen_recipients(db, sendgrid_server, segments=["opened-30"]) == {a[0], a[4]}
    assert frozen_recipients(db, sendgrid_server, segments=["clicked-60"]) == {a[2], a[4]}
    assert frozen_recipients(db, sendgrid_server, segments=["lapsed"]) == {a[1], a[2], a[3], a[5]}


def test_engagement_rules_are_validated_and_known_to_the_cli(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    engaged_readers(db, sendgrid_server)
    assert parse_rule({"type": "opened", "within_days": 7}).type_name == "opened"
    for bad in ({"type": "opened"}, {"type": "clicked", "within_days": 0}):
        try:
            parse_rule(bad)
        except Exception as exc:
            assert "within_days" in str(exc)
        else:
            raise AssertionError(f"{bad} was accepted")
    result = CliRunner().invoke(
        app,
        ["segments", "add", "engaged", "--rule", json.dumps({"type": "opened", "within_days": 30})],
    )
    assert result.exit_code == 0, result.output
    assert "added segment engaged: 2 match, 2 mailable now" in result.output


def test_export_shows_tracking_events_and_erase_removes_what_identifies(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    addresses = engaged_readers(db, sendgrid_server)
    with db.transaction() as session:
        data = export_personal_data(session, addresses[0])
    json.dumps(data)
    types = [e["type"] for e in data["tracking_events"]]
    assert types.count("opened") == 1 and "processed" not in types
    assert data["engagement"]["last_opened_at"] is not None  # 5 days ago
    assert data["engagement"]["last_clicked_at"] is None
    assert data["tracking_events"][0]["provider_event"]["email"] == addresses[0]
    with db.transaction() as session:
        erase_subscriber(session, addresses[0])
    with db.transaction() as session:
        ids = session.scalars(select(Event.id)).all()
        stored = payloads_of(session.connection(), ids)
        kept = {p.raw["email"] for p in stored.values() if p.raw}
        batches = session.execute(select(EventBatch.size, EventBatch.events)).all()
        opens = [
            (email_hash, stored.get(event_id))
            for event_id, email_hash in session.execute(
                select(Event.id, Event.email_hash).where(
                    Event.type == "opened", Event.machine.is_(False)
                )
            )
        ]
    assert addresses[0] not in kept and len(kept) == 5
    # the batches shared with others are rewritten, not dropped: nothing of the address stays
    assert batches and all(size == len(entries) for size, entries in batches)
    assert addresses[0] not in json.dumps([entries for _, entries in batches])
    with db.transaction() as session:
        erased_id = session.scalars(
            select(Subscriber.id).where(Subscriber.erased_at.is_not(None))
        ).one()
        assert session.get(SubscriberEngagement, erased_id) is None
        assert session.scalar(select(func.count()).select_from(SubscriberEngagement)) == 3
        # a late open tied by our own token (first-party) brings no row back
        late = EventRecord(
            source="first-party",
            event_id="late-open",
            type="opened",
            occurred_at=utcnow(),
            received_at=utcnow(),
            subscriber_id=erased_id,
        )
        assert note_engagement(session.connection(), [late]) == 0
        assert session.get(SubscriberEngagement, erased_id) is None
        # and through ingest, which knows the erasure from its look-up of the delivery
        delivery_id = session.scalars(
            select(Delivery.id).where(Delivery.subscriber_id == erased_id)
        ).first()
        assert delivery_id is not None
        tied = EventRecord(
            source="first-party",
            event_id="late-open-2",
            type="opened",
            occurred_at=utcnow(),
            received_at=utcnow(),
            delivery_ref=delivery_id,
            replay_keeps_time=False,
        )
        policy = IngestPolicy.from_settings(Settings())
        assert record_events(session, [tied], policy, LinkIndexCache()).recorded == 1
        assert tied.subscriber_id == erased_id
        assert session.get(SubscriberEngagement, erased_id) is None
    assert any(email_hash is None and payload is None for email_hash, payload in opens)
    assert any(payload is not None for _, payload in opens)  # the others' payloads are kept


def _engagement(db: Database) -> dict[str, tuple[bool, bool]]:
    """Per address: (has a last open, has a last click)."""
    with db.transaction() as session:
        rows = session.execute(
            select(
                Subscriber.email,
                SubscriberEngagement.last_opened_at,
                SubscriberEngagement.last_clicked_at,
            ).join(SubscriberEngagement, SubscriberEngagement.subscriber_id == Subscriber.id)
        )
        return {email: (opened is not None, clicked is not None) for email, opened, clicked in rows}


def test_ingest_keeps_each_readers_last_open_and_click(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    a = engaged_readers(db, sendgrid_server)
    # a human open, a click (an open too), none for the machine open or a mere delivery
    assert _engagement(db) == {
        a[0]: (True, False),
        a[2]: (True, True),
        a[3]: (True, False),
        a[4]: (True, True),
    }
    with db.transaction() as session:
        before = session.get(SubscriberEngagement, _id(session, a[0]))
        assert before is not None
        last = before.last_opened_at
    to = {r.email: r for r in accepted_recipients(sendgrid_server.accepted)}
    now = int(time.time())
    ingest(  # an older open arriving late changes nothing; a machine open is no open
        db,
        [
            event(to[a[0]], "open", timestamp=now - 9 * DAY, useragent="Mozilla/5.0 (Windows)"),
            event(to[a[5]], "open", timestamp=now - DAY, sg_machine_open=True),
        ],
    )
    with db.transaction() as session:
        after = session.get(SubscriberEngagement, _id(session, a[0]))
        assert after is not None and after.last_opened_at == last
    assert a[5] not in _engagement(db)


def _id(session: Session, email: str) -> int:
    return session.scalars(select(Subscriber.id).where(Subscriber.email == email)).one()


def test_engagement_segments_outlive_the_events(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    a = engaged_readers(db, sendgrid_server)
    add_segment(db, "opened-30", {"type": "opened", "within_days": 30}, {})
    with db.transaction() as session:
        session.execute(delete(Event))  # pruned
    assert frozen_recipients(db, sendgrid_server, segments=["opened-30"]) == {a[0], a[4]}


def test_counting_an_engagement_segment_reads_no_events(db: Database) -> None:
    if db.engine.dialect.name != "postgresql":
        return  # the plan is PostgreSQL's
    rule = parse_rule(
        {
            "type": "any",
            "rules": [
                {"type": "opened", "within_days": 30},
                {"type": "not", "rule": {"type": "clicked", "within_days": 90}},
            ],
        }
    )
    with db.transaction() as session:
        ctx = context_for(session)
        query = select(func.count()).select_from(Subscriber).where(rule.compile(ctx))
        compiled = query.compile(session.bind, compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.execute(text(f"EXPLAIN {compiled}")).scalars())
        assert count_members(session, rule, ctx).matching == 0
    assert "subscriber_engagement" in plan and " events" not in plan, plan


# (opened in 30 days and clicked in 60) or not opened in 10: nested, negated, and true for
# readers who never engaged (no row in subscriber_engagement).
NESTED = {
    "type": "any",
    "rules": [
        {
            "type": "all",
            "rules": [
                {"type": "opened", "within_days": 30},
                {"type": "clicked", "within_days": 60},
            ],
        },
        {"type": "not", "rule": {"type": "opened", "within_days": 10}},
    ],
}


def test_the_freeze_reads_engagement_through_a_join_with_the_same_answer(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    """The freeze joins ``subscriber_engagement`` once (the rules compile to its columns)
    where a count asks it per reader (``EXISTS``): both must take the same readers."""
    a = engaged_readers(db, sendgrid_server)
    add_segment(db, "nested", NESTED, {})
    add_segment(db, "the rest", {"type": "everyone"}, {})
    rule = parse_rule(NESTED)
    with db.transaction() as session:
        by_exists = set(
            session.scalars(
                select(Subscriber.email).where(rule.compile(context_for(session)), mailable())
            )
        )
    assert by_exists == set(a[1:])  # a[0] opened 5 days ago and never clicked
    assert frozen_recipients(db, sendgrid_server, segments=["nested"]) == by_exists
    assert frozen_recipients(db, sendgrid_server, segments=["nested", "the rest"]) == set(a)


def test_the_freeze_joins_engagement_instead_of_probing_it_per_reader(db: Database) -> None:
    """A correlated ``EXISTS`` inside the first-match ``CASE`` cannot become a join: at a
    million readers it probed the engagement index twice per reader (26 % of the freeze at
    300,000 readers, ``bench/segments.py --freeze``)."""
    if db.engine.dialect.name != "postgresql":
        return  # the plan is PostgreSQL's
    rules = [(0, parse_rule(NESTED)), (1, parse_rule({"type": "everyone"}))]
    with db.transaction() as session:
        query = recipients_by_segment(rules, context_for(session))
        compiled = query.compile(session.bind, compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.execute(text(f"EXPLAIN {compiled}")).scalars())
    assert "subscriber_engagement" in plan and "SubPlan" not in plan, plan
