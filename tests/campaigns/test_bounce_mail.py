"""`bounces poll` on a Maildir: a real-shaped corpus (Gmail, Outlook, Postfix, Exim DSNs and
bounces, Yahoo and AOL complaints, an out-of-office reply, garbage) about an issue sent to the
outbox; each message's effect on deliveries, subscribers, suppressions, events and reports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from campaigns.bounces import BouncePoller
from campaigns.model import Delivery
from campaigns.reports import campaign_report
from newsletter.db import Database
from newsletter.deliverability.mailboxes import MaildirMailbox
from subscribers.addresses import email_digest
from tests.campaigns.bounce_mail import (
    Sent,
    bounce_maildir,
    corpus,
    folder_count,
    mailbox_events,
    outbox_settings,
    send_to_outbox,
    statuses,
    suppressed,
)
from tests.campaigns.helpers import payload_of
from tests.conftest import ROOT

CASES = [  # corpus file, the subscriber status after, the event (type, bounce type, status)
    ("gmail_hard.eml", "bounced", ("bounced", "hard", "5.1.1")),
    ("outlook_hard.eml", "bounced", ("bounced", "hard", "5.5.0")),
    ("postfix_hard.eml", "bounced", ("bounced", "hard", "5.1.1")),
    ("exim_hard.eml", "bounced", ("bounced", "hard", "5.1.1")),
    ("postfix_delayed.eml", "active", ("deferred", None, "4.2.2")),
    ("yahoo_arf.eml", "complained", ("complained", None, None)),
    ("aol_arf_redacted.eml", "complained", ("complained", None, None)),
    ("out_of_office.eml", "active", None),
]


def poll(db: Database, folder: Path, **changes: object) -> tuple[int, ...]:
    settings = outbox_settings(Path("outbox"), **changes)
    result = BouncePoller(db, settings).poll(MaildirMailbox(folder))
    return result.messages, result.processed, result.reviewed, result.recorded, result.unmatched


def test_each_kind_of_report_has_its_effect(
    db: Database, readers: list[Sent], tmp_path: Path
) -> None:
    messages = [corpus(name, reader) for (name, _, _), reader in zip(CASES, readers, strict=False)]
    garbage = corpus("garbage.eml", readers[9])
    box = bounce_maildir(tmp_path / "bounces", *messages, garbage)

    assert poll(db, box) == (9, 8, 1, 7, 0)

    people = statuses(db)
    by_delivery = {e.delivery_id: e for e in mailbox_events(db)}
    for (name, status, expected), reader in zip(CASES, readers, strict=False):
        assert people[reader.email] == status, name
        event = by_delivery.get(reader.delivery_id)
        if expected is None:
            assert event is None, name
            continue
        assert event is not None, name
        assert (event.type, event.bounce_type, event.smtp_status) == expected, name
        payload = payload_of(db, event.id)
        assert event.source == "first-party" and payload is not None and payload.raw is not None
        assert event.subscriber_id is not None and event.email_hash is None, name  # tied
        assert payload.raw["mailbox"] == str(box)
    assert suppressed(db) == {
        email_digest(r.email): s
        for (_, s, _), r in zip(CASES, readers, strict=False)
        if s != "active"
    }
    assert people[readers[8].email] == people[readers[9].email] == "active"
    assert (folder_count(box), folder_count(box, "processed"), folder_count(box, "review")) == (
        0,
        8,
        1,
    )
    with db.transaction() as session:
        campaign_id = session.scalar(select(Delivery.campaign_id).limit(1))
        assert campaign_id is not None
        totals = campaign_report(session, campaign_id).totals
    assert (totals.hard_bounced, totals.deferred, totals.complained) == (4, 1, 2)


def test_a_second_poll_of_the_same_messages_changes_nothing(
    db: Database, readers: list[Sent], tmp_path: Path
) -> None:
    first = corpus("gmail_hard.eml", readers[0])
    box = bounce_maildir(tmp_path / "bounces", first, corpus("postfix_delayed.eml", readers[1]))
    assert poll(db, box) == (2, 2, 0, 2, 0)
    assert poll(db, box) == (0, 0, 0, 0, 0)  # moved: nothing waits
    bounce_maildir(box, first)  # a move that failed after the commit: the message is back
    assert poll(db, box) == (1, 1, 0, 0, 0)
    assert len(mailbox_events(db)) == 2


def test_a_bounce_naming_another_address_changes_nobody(
    db: Database, readers: list[Sent], tmp_path: Path
) -> None:
    other = readers[1].email  # a real subscriber, but not the one the return path names
    box = bounce_maildir(
        tmp_path / "bounces",
        corpus("gmail_hard.eml", readers[0], RCPT=other),
        corpus("yahoo_arf.eml", readers[2], RCPT="stranger@example.net"),
    )
    assert poll(db, box) == (2, 2, 0, 2, 2)  # recorded, tied to no delivery
    assert set(statuses(db).values()) == {"active"}
    assert suppressed(db) == {}
    assert {e.delivery_id for e in mailbox_events(db)} == {None}


def test_a_forged_return_path_is_kept_for_review(
    db: Database, readers: list[Sent], tmp_path: Path
) -> None:
    number, mac = readers[0].verp.partition("+")[2].partition("@")[0].split("-")
    other_id = readers[0].verp.replace(f"+{number}-", f"+{readers[1].delivery_id:x}-")
    altered_mac = readers[0].verp.replace(mac, mac[::-1])
    box = bounce_maildir(
        tmp_path / "bounces",
        corpus("gmail_hard.eml", readers[1], VERP=other_id),
        corpus("postfix_hard.eml", readers[0], VERP=altered_mac),
    )
    assert poll(db, box) == (2, 0, 2, 0, 0)
    assert folder_count(box, "review") == 2
    assert set(statuses(db).values()) == {"active"} and mailbox_events(db) == []


def test_without_a_return_path_the_reported_message_id_ties_the_delivery(
    db: Database, readers: list[Sent], tmp_path: Path
) -> None:
    box = bounce_maildir(
        tmp_path / "bounces",
        corpus("postfix_hard.eml", readers[0], VERP="briefing@example.org"),
        corpus("outlook_hard.eml", readers[1], VERP="briefing@example.org",
               MESSAGE_ID="<guessed@example.org>"),
    )  # fmt: skip
    assert poll(db, box) == (2, 2, 0, 2, 1)
    people = statuses(db)
    assert people[readers[0].email] == "bounced"
    assert people[readers[1].email] == "active"  # its delivery id alone proves nothing


def test_soft_bounces_suppress_only_at_the_limit(
    db: Database, readers: list[Sent], tmp_path: Path
) -> None:
    again = send_to_outbox(db, outbox_settings(tmp_path / "outbox"))[readers[0].email]
    box = tmp_path / "bounces"
    bounce_maildir(box, corpus("postfix_delayed.eml", readers[0]))
    assert poll(db, box, soft_bounce_limit=2)[3] == 1
    assert statuses(db)[readers[0].email] == "active"
    bounce_maildir(box, corpus("postfix_delayed.eml", again))
    assert poll(db, box, soft_bounce_limit=2)[3] == 1
    assert statuses(db)[readers[0].email] == "bounced"
    assert suppressed(db) == {email_digest(readers[0].email): "bounced"}


def test_oversized_unclassifiable_and_broken_mail_is_kept_for_review(
    db: Database, readers: list[Sent], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    huge = corpus("gmail_hard.eml", readers[0]) + b"x" * 1_100_000
    human = b"From: ann@example.net\nTo: briefing@example.org\nSubject: hello\n\nThanks!\n"
    no_failure = corpus("postfix_hard.eml", readers[1]).replace(
        b"Action: failed", b"Action: relayed"
    )
    box = bounce_maildir(tmp_path / "bounces", huge, human, no_failure)
    assert poll(db, box) == (3, 0, 3, 0, 0)
    assert folder_count(box, "review") == 3 and folder_count(box) == 0
    reasons = " ".join(r.getMessage() for r in caplog.records)
    assert "over NEWSLETTER_BOUNCE_MAX_BYTES" in reasons
    assert "neither a bounce, a complaint nor an auto-reply" in reasons
    assert "naming no failure" in reasons
    assert set(statuses(db).values()) == {"active"}


def test_the_command_keeps_polling_until_sigterm(
    db: Database, readers: list[Sent], tmp_path: Path
) -> None:
    box = bounce_maildir(tmp_path / "bounces", corpus("exim_hard.eml", readers[0]))
    command = [sys.executable, "-c", "from newsletter.cli.app import main; main()",
               "bounces", "poll", "--maildir", str(box), "--interval", "1"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        assert process.stdout is not None
        first = process.stdout.readline()
        bounce_maildir(box, corpus("postfix_hard.eml", readers[1]))
        second = process.stdout.readline()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    assert first.startswith("1 message(s): 1 processed") and second.startswith("1 message(s)")
    people = statuses(db)
    assert people[readers[0].email] == people[readers[1].email] == "bounced"
