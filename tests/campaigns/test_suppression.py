"""What provider events do to subscribers: bounces, complaints and unsubscribes keep an
address out of every later send; soft bounces only after N in a row; foreign events, and
events naming another address than the delivery's recipient, do nothing. Campaigns go
through the fake SendGrid, events through the webhook's code path."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from campaigns.sending import send_campaign
from newsletter.db import Database
from subscribers.addresses import email_digest
from subscribers.model import ConsentRecord, Subscriber, Suppression
from tests.campaigns.helpers import (
    add_subscribers,
    frozen_recipients,
    import_examples,
    new_campaign,
    sendgrid_settings,
)
from tests.campaigns.webhooks import (
    event,
    event_count,
    ingest,
    post_batch,
    post_signed,
    recipients_of,
)
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.sendgrid_signing import SendGridKey
from tests.subscribers.conftest import LiveServer


def sent(db: Database, server: FakeSendGrid) -> int:
    campaign_id = new_campaign(db)
    report = send_campaign(db, sendgrid_settings(server), campaign_id)
    assert report.status == "sent", report.status_reason
    return campaign_id


def statuses(db: Database) -> dict[str, str]:
    with db.transaction() as session:
        return {s.email or "": s.status for s in session.scalars(select(Subscriber))}


def suppressions(db: Database) -> dict[str, str]:
    with db.transaction() as session:
        return {s.email_hash: s.reason for s in session.scalars(select(Suppression))}


def test_bounces_complaints_and_unsubscribes_leave_the_next_campaign(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    addresses = add_subscribers(db, 12)
    first = sent(db, sendgrid_server)
    to = recipients_of(sendgrid_server, first)
    r = [to[a] for a in addresses]
    events = [
        event(r[0], "bounce", type="bounce", reason="550 5.1.1 no such user", status="5.1.1"),
        event(r[1], "spamreport"),
        event(r[2], "unsubscribe"),
        event(r[3], "group_unsubscribe", asm_group_id=10),
        event(r[4], "dropped", reason="Bounced Address", status="5.0.0"),
        event(r[5], "dropped", reason="Invalid", status="5.0.0"),
        event(r[6], "dropped", reason="Spam Reporting Address", status="5.0.0"),
        event(r[7], "dropped", reason="Unsubscribed Address", status="5.0.0"),
        event(r[8], "bounce", type="blocked", reason="421 try later"),  # soft: counted only
        event(r[9], "deferred", response="450 greylisted", attempt="1"),
        event(r[10], "dropped", reason="Invalid SMTPAPI header"),  # our fault, not theirs
        *(event(x, "delivered") for x in r),
    ]
    result = ingest(db, events)
    assert (result.recorded, result.unmatched) == (len(events), 0)
    expected = {
        0: "bounced",
        1: "complained",
        2: "unsubscribed",
        3: "unsubscribed",
        4: "bounced",
        5: "bounced",
        6: "complained",
        7: "unsubscribed",
    }
    now = statuses(db)
    assert {i: now[a] for i, a in enumerate(addresses) if now[a] != "active"} == expected
    suppressed = suppressions(db)
    assert {i for i, a in enumerate(addresses) if email_digest(a) in suppressed} == {0, 1, 4, 5, 6}
    with db.transaction() as session:
        consent = session.scalars(
            select(ConsentRecord).where(ConsentRecord.kind == "unsubscribe")
        ).all()
    assert {c.source for c in consent} == {"sendgrid"} and len(consent) == 3
    later = frozen_recipients(db, sendgrid_server)
    assert later == {addresses[i] for i in (8, 9, 10, 11)}


def test_a_replayed_bounce_changes_nothing_more(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    (address,) = add_subscribers(db, 1)
    campaign_id = sent(db, sendgrid_server)
    bounce = [event(recipients_of(sendgrid_server, campaign_id)[address], "bounce")]
    assert ingest(db, bounce).recorded == 1
    assert ingest(db, bounce).duplicates == 1
    assert suppressions(db) == {email_digest(address): "bounced"}


def test_events_for_deliveries_we_do_not_know_change_nobody(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    addresses = add_subscribers(db, 3)
    campaign_id = sent(db, sendgrid_server)
    to = recipients_of(sendgrid_server, campaign_id)
    foreign = [
        # another system's mail to one of our readers: no custom args at all
        {**event(to[addresses[0]], "bounce"), "nl_campaign": None, "nl_delivery": None},
        # ids that contradict each other (another campaign's number)
        {**event(to[addresses[1]], "spamreport"), "nl_campaign": str(campaign_id + 100)},
        # a delivery id that does not exist
        {**event(to[addresses[2]], "unsubscribe"), "nl_delivery": "987654321"},
    ]
    result = ingest(db, foreign)
    assert (result.recorded, result.unmatched) == (3, 3)
    assert set(statuses(db).values()) == {"active"}
    assert suppressions(db) == {}


def test_soft_bounces_suppress_only_n_in_a_row(db: Database, sendgrid_server: FakeSendGrid) -> None:
    import_examples(db)
    steady, flaky = add_subscribers(db, 2)
    limit = {"soft_bounce_limit": 3}
    for round_ in range(3):
        campaign_id = sent(db, sendgrid_server)
        to = recipients_of(sendgrid_server, campaign_id)
        events = [event(to[steady], "bounce", type="blocked", reason="421 mailbox busy")]
        events.append(event(to[flaky], "deferred", response="451 try again", attempt="1"))
        if round_ == 1:  # flaky's second message got through after all
            events.append(event(to[flaky], "delivered"))
        ingest(db, events, **limit)
        if round_ < 2:
            assert set(statuses(db).values()) == {"active"}, round_
    assert statuses(db) == {steady: "bounced", flaky: "active"}
    assert suppressions(db) == {email_digest(steady): "bounced"}


def test_a_soft_bounce_limit_of_zero_never_suppresses(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    (address,) = add_subscribers(db, 1)
    for _ in range(2):
        campaign_id = sent(db, sendgrid_server)
        blocked = event(
            recipients_of(sendgrid_server, campaign_id)[address], "bounce", type="blocked"
        )
        ingest(db, [blocked], soft_bounce_limit=0)
    assert statuses(db) == {address: "active"}


def test_concurrent_deliveries_of_one_batch_record_and_suppress_once(
    db: Database, sendgrid_server: FakeSendGrid, serve: Callable[..., LiveServer]
) -> None:
    """SendGrid may post a batch again while the first post is still being written: every
    post succeeds, the events are stored once, and the effects happen once."""
    import_examples(db)
    addresses = add_subscribers(db, 40)
    campaign_id = sent(db, sendgrid_server)
    to = recipients_of(sendgrid_server, campaign_id)
    events = [event(to[a], "bounce") for a in addresses[:20]]
    events += [event(to[a], "unsubscribe") for a in addresses[20:]]
    events += [event(to[a], "delivered") for a in addresses]
    body = json.dumps(events).encode()
    key = SendGridKey()
    server = serve(sendgrid_webhook_public_key=key.public_key)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: post_signed(server, key, body), range(6)))
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    assert sum(a.json()["recorded"] for a in answers) == len(events)
    assert len(suppressions(db)) == 20
    with db.transaction() as session:
        unsubscribes = session.scalars(
            select(ConsentRecord).where(ConsentRecord.kind == "unsubscribe")
        ).all()
    assert len(unsubscribes) == 20
    assert sorted(statuses(db).values()) == ["bounced"] * 20 + ["unsubscribed"] * 20


def test_without_a_key_a_forged_batch_is_refused_and_changes_nobody(
    db: Database, sendgrid_server: FakeSendGrid, serve: Callable[..., LiveServer]
) -> None:
    """Anyone can post to the webhook: with no key configured (the default), a batch
    bouncing, reporting and unsubscribing real readers of a real issue is a 403."""
    import_examples(db)
    addresses = add_subscribers(db, 3)
    to = recipients_of(sendgrid_server, sent(db, sendgrid_server))
    forged = [
        event(to[addresses[0]], "bounce", type="bounce", reason="550 5.1.1 no such user"),
        event(to[addresses[1]], "spamreport"),
        event(to[addresses[2]], "unsubscribe"),
    ]
    answer = post_batch(serve(), json.dumps(forged).encode())
    assert answer.status_code == 403
    assert "SendGrid events are off" in answer.json()["detail"]
    assert event_count(db) == 0
    assert set(statuses(db).values()) == {"active"}
    assert suppressions(db) == {}


def test_a_signed_event_naming_another_address_changes_nobody(
    db: Database, sendgrid_server: FakeSendGrid, serve: Callable[..., LiveServer]
) -> None:
    """Events carrying a real delivery's ids but another address than its recipient's (a
    reader of ours, a stranger, garbage) are stored untied and suppress or unsubscribe
    nobody; the recipient's own address, however capitalised, still does."""
    import_examples(db)
    reader, victim = add_subscribers(db, 2)
    ours = recipients_of(sendgrid_server, sent(db, sendgrid_server))[reader]
    stranger = "someone.else@example.net"
    events = [
        event(ours, "bounce", type="bounce", reason="550 5.1.1 no such user", email=victim),
        event(ours, "spamreport", email=victim),
        event(ours, "unsubscribe", email=victim),
        event(ours, "group_unsubscribe", email=stranger),
        event(ours, "dropped", reason="Bounced Address", email=stranger),
        event(ours, "dropped", reason="Unsubscribed Address", email=victim),
        event(ours, "bounce", email="not an address"),
        {k: v for k, v in event(ours, "spamreport").items() if k != "email"},
    ]
    key = SendGridKey()
    server = serve(sendgrid_webhook_public_key=key.public_key)
    answer = post_signed(server, key, json.dumps(events).encode())
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": 8, "recorded": 8, "duplicates": 0, "unmatched": 8}
    assert statuses(db) == {reader: "active", victim: "active"}
    assert suppressions(db) == {}
    bounce = event(ours, "bounce", type="bounce", email=f"  {reader.upper()} ")
    assert post_signed(server, key, json.dumps([bounce]).encode()).json()["unmatched"] == 0
    assert statuses(db) == {reader: "bounced", victim: "active"}
    assert suppressions(db) == {email_digest(reader): "bounced"}
    with db.transaction() as session:
        assert session.scalars(select(ConsentRecord.kind)).all() == []


def test_a_soft_bounce_streak_counts_only_the_recipients_own_deferrals(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    (address,) = add_subscribers(db, 1)
    ours = recipients_of(sendgrid_server, sent(db, sendgrid_server))[address]
    ingest(db, [event(ours, "deferred", email="someone.else@example.net")], soft_bounce_limit=1)
    assert statuses(db) == {address: "active"}
    ingest(db, [event(ours, "deferred", email=address.upper())], soft_bounce_limit=1)
    assert statuses(db) == {address: "bounced"}
