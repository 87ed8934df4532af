"""The sunset policy end to end: whom it asks, the mail through the outbox, the keep page,
lapsing after the grace, lapsed readers left out of a freeze, and revival by the button, a
click through the tracker and a new signup. Real web server, real outbox, both databases."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from typing import cast

import httpx
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from campaigns.events import Event
from campaigns.freeze import freeze_campaign
from campaigns.model import Delivery
from campaigns.sending import send_campaign
from campaigns.sunset import SunsetPolicy, run_sunset
from newsletter.cli.app import app
from newsletter.config import get_settings
from newsletter.db import Database, utcnow
from subscribers.directory import status_counts
from subscribers.model import ConsentRecord, QueuedMail, Subscriber
from tests.campaigns.helpers import add_subscribers, html_of, import_examples, new_campaign
from tests.subscribers.conftest import LiveServer

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari"
POLICY = SunsetPolicy(issues=3, days=90, grace_days=14)
Serve = Callable[..., LiveServer]
ISSUE_AGES = (100, 60, 20)  # days since each of three issues went out


def _ids(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        return dict(session.execute(select(Subscriber.email, Subscriber.id)).all())


def _event(db: Database, email: str, kind: str, days_ago: int, **fields: object) -> None:
    """A tracking event of ``email``'s latest delivery, ``days_ago``."""
    at = utcnow() - timedelta(days=days_ago)
    with db.transaction() as session:
        subscriber_id = _ids(db)[email]
        delivery = session.scalars(
            select(Delivery)
            .where(Delivery.subscriber_id == subscriber_id)
            .order_by(Delivery.id.desc())
        ).first()
        assert delivery is not None
        session.add(
            Event(
                source="first-party",
                event_id=f"{kind}-{email}-{days_ago}-{fields}",
                type=kind,
                occurred_at=at,
                delivery_id=delivery.id,
                campaign_id=delivery.campaign_id,
                variant_id=delivery.variant_id,
                subscriber_id=subscriber_id,
                **fields,
            )
        )


def readers_of_three_issues(db: Database, server: LiveServer) -> None:
    """reader0–reader5 got three issues (100, 60 and 20 days ago), reader6 only the last two.

    reader0 opened one 50 days ago; reader1's only open was Apple's (machine); reader2
    clicked a source 30 days ago; reader3 did nothing; reader4 only clicked the footer's
    preferences link; reader5 opened, but 120 days ago; reader6 did nothing, in two issues.
    """
    import_examples(db)
    add_subscribers(db, 6)
    for number, age in enumerate(ISSUE_AGES):
        if number == 1:
            add_subscribers(db, 1, start=6)
        campaign_id = new_campaign(db, name=f"Issue {number}")
        assert send_campaign(db, server.settings, campaign_id).status == "sent"
        with db.transaction() as session:
            session.execute(
                update(Delivery)
                .where(Delivery.campaign_id == campaign_id)
                .values(sent_at=utcnow() - timedelta(days=age))
            )
    _event(db, "reader0@example.org", "opened", 50)
    _event(db, "reader1@example.org", "opened", 10, machine=True, machine_reason="apple-mpp")
    _event(db, "reader2@example.org", "clicked", 30, section="source")
    _event(db, "reader4@example.org", "clicked", 5, section="footer")
    _event(db, "reader5@example.org", "opened", 120)


def _state(db: Database) -> dict[str, tuple[bool, bool]]:
    """Each reader: (asked, lapsed)."""
    with db.transaction() as session:
        rows = session.execute(
            select(Subscriber.email, Subscriber.reengage_sent_at, Subscriber.lapsed_at)
        ).all()
    return {r.email: (r.reengage_sent_at is not None, r.lapsed_at is not None) for r in rows}


def _keep_mails(db: Database) -> list[tuple[int, str]]:
    with db.transaction() as session:
        return list(
            session.execute(
                select(QueuedMail.subscriber_id, QueuedMail.status).where(QueuedMail.kind == "keep")
            )
        )


ASKED = {"reader1@example.org", "reader3@example.org", "reader4@example.org", "reader5@example.org"}


def test_who_is_asked_once_mailed_and_lapsed_after_the_grace(db: Database, serve: Serve) -> None:
    server = serve(tracking_scanner_seconds=0)
    readers_of_three_issues(db, server)
    with db.transaction() as session:
        dry = run_sunset(session, POLICY, dry_run=True)
    assert (dry.asked, dry.lapsed, dry.answered) == (4, 0, 0)
    assert not any(asked for asked, _ in _state(db).values()) and _keep_mails(db) == []

    with db.transaction() as session:
        assert run_sunset(session, SunsetPolicy(0, 90, 14)).asked == 0  # off
        assert run_sunset(session, SunsetPolicy(3, 101, 14)).asked == 0  # first issue too new
        assert run_sunset(session, POLICY).asked == 4
    assert {email for email, (asked, _) in _state(db).items() if asked} == ASKED
    with db.transaction() as session:
        assert run_sunset(session, POLICY).asked == 0  # asked once
    assert len(_keep_mails(db)) == 4

    report = server.drain()
    assert report.sent == 4
    mails = [m for m in server.mails() if "still want" in str(m["Subject"])]
    assert {str(m["To"]).split("<")[-1].rstrip(">") for m in mails} == ASKED
    mail = mails[0]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"<{server.url}/unsubscribe/" in str(mail["List-Unsubscribe"])
    assert re.search(r'href="[^"]+/keep/[\w.-]+"', html_of(mail))
    assert "Keep me subscribed" in html_of(mail)

    later = utcnow() + timedelta(days=13)
    with db.transaction() as session:
        assert run_sunset(session, POLICY, now=later).lapsed == 0  # grace not over
    _event(db, "reader5@example.org", "opened", 0)  # reader5 reads again: answered
    later = utcnow() + timedelta(days=15)
    with db.transaction() as session:
        dry = run_sunset(session, POLICY, dry_run=True, now=later)
        assert (dry.lapsed, dry.answered) == (3, 1)
        report = run_sunset(session, POLICY, now=later)
        assert (report.lapsed, report.answered, report.asked) == (3, 1, 0)
    state = _state(db)
    assert {email for email, (_, lapsed) in state.items() if lapsed} == ASKED - {
        "reader5@example.org"
    }
    assert state["reader5@example.org"] == (False, False)
    with db.transaction() as session:
        counts = status_counts(session)
        assert (counts["lapsed"], counts["active"]) == (3, 4)
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 7  # none deleted

    # a lapsed reader is not queued by the next issue's freeze
    campaign_id = new_campaign(db, name="Issue 4")
    freeze_campaign(db, campaign_id, server.settings)
    with db.transaction() as session:
        frozen = set(
            session.scalars(
                select(Subscriber.email)
                .join(Delivery, Delivery.subscriber_id == Subscriber.id)
                .where(Delivery.campaign_id == campaign_id)
            )
        )
    assert frozen == {f"reader{n}@example.org" for n in (0, 2, 5, 6)}


def _keep_link(server: LiveServer, to: str) -> str:
    for message in reversed(server.mails()):
        if to in str(message["To"]) and "still want" in str(message["Subject"]):
            body = cast(EmailMessage, message.get_body(("plain",))).get_content()
            found = re.search(r"https?://\S+/keep/[\w.-]+", body)
            assert found
            return found.group()
    raise AssertionError(f"no keep mail to {to}")


def _lapse_all(db: Database, server: LiveServer) -> None:
    readers_of_three_issues(db, server)
    with db.transaction() as session:
        run_sunset(session, POLICY)
    server.drain()
    with db.transaction() as session:
        assert run_sunset(session, POLICY, now=utcnow() + timedelta(days=15)).lapsed == 4


def _revivals(db: Database, email: str) -> list[object]:
    with db.transaction() as session:
        return [
            form.get("revived")
            for form in session.scalars(
                select(ConsentRecord.form)
                .join(Subscriber, Subscriber.id == ConsentRecord.subscriber_id)
                .where(Subscriber.email == email, ConsentRecord.kind == "confirm")
            )
        ]


def test_get_shows_a_button_and_post_revives(db: Database, serve: Serve) -> None:
    server = serve(tracking_scanner_seconds=0)
    _lapse_all(db, server)
    link = _keep_link(server, "reader3@example.org")
    with httpx.Client(headers={"User-Agent": BROWSER}) as client:
        for _ in range(2):  # a scanner following the link changes nothing
            page = client.get(link)
            assert page.status_code == 200 and "Keep me subscribed" in page.text
            assert page.headers["cache-control"] == "no-store"
        assert _state(db)["reader3@example.org"] == (True, True)
        done = client.post(link)
        assert done.status_code == 200 and "you stay subscribed" in done.text
        assert _state(db)["reader3@example.org"] == (False, False)
        assert _revivals(db, "reader3@example.org") == ["keep button"]
        again = client.post(link, headers={"Content-Type": "application/json"}, content="{}")
        assert again.json() == {"status": "active", "kept": False}
        assert client.get(link.replace("/keep/", "/keep/x")).status_code == 400
    with db.transaction() as session:  # kept: not asked again about the same old issues
        assert run_sunset(session, POLICY).asked == 0


def test_a_human_click_through_the_tracker_revives(db: Database, serve: Serve) -> None:
    server = serve(tracking_scanner_seconds=0)
    _lapse_all(db, server)
    issues = [
        m for m in server.mails() if "reader1@" in str(m["To"]) and "still" not in str(m["Subject"])
    ]
    html = html_of(issues[0])
    paths = sorted(set(re.findall(re.escape(server.url) + r'(/t/c/[^"]+)"', html)))
    assert paths
    with httpx.Client(base_url=server.url) as client:
        bot = client.get(paths[0], headers={"User-Agent": "Barracuda link scanner", "X": "1"})
        assert bot.status_code == 302
        assert client.head(paths[0]).status_code in (302, 405)  # a HEAD probe is a machine
        assert _state(db)["reader1@example.org"] == (True, True)
        answer = client.get(paths[0], headers={"User-Agent": BROWSER})
        assert answer.status_code == 302
    assert _state(db)["reader1@example.org"] == (False, False)
    assert _revivals(db, "reader1@example.org") == ["click"]
    assert _state(db)["reader3@example.org"] == (True, True)  # nobody else


def test_signing_up_again_and_confirming_revives(db: Database, serve: Serve) -> None:
    server = serve(tracking_scanner_seconds=0)
    _lapse_all(db, server)
    answer = httpx.post(f"{server.url}/subscribe", json={"email": "reader4@example.org"})
    assert answer.status_code == 202
    assert _state(db)["reader4@example.org"] == (True, True)  # nothing until confirmed
    assert server.drain().sent == 1
    (mail,) = [m for m in server.mails() if "confirm" in str(m["Subject"])]
    body = cast(EmailMessage, mail.get_body(("plain",))).get_content()
    found = re.search(r"https?://\S+/confirm/[\w.-]+", body)
    assert found and "reader4@" in str(mail["To"])
    link = found.group()
    assert "Confirm my subscription" in httpx.get(link).text
    assert _state(db)["reader4@example.org"] == (True, True)
    assert httpx.post(link).status_code == 200
    assert _state(db)["reader4@example.org"] == (False, False)
    assert _revivals(db, "reader4@example.org") == ["signup"]


def test_the_cli_dry_run_changes_nothing_and_the_run_prints_counts(
    db: Database, serve: Serve
) -> None:
    server = serve(tracking_scanner_seconds=0)
    readers_of_three_issues(db, server)
    runner = CliRunner()
    env = {
        "NEWSLETTER_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "NEWSLETTER_OUTBOX": str(server.outbox),
    }
    off = runner.invoke(app, ["subscribers", "sunset"], env=env)
    assert off.exit_code == 0 and "off" in off.output
    env["NEWSLETTER_SUNSET_ISSUES"] = "3"
    get_settings.cache_clear()
    dry = runner.invoke(app, ["subscribers", "sunset", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and "asked to stay: 4" in dry.output
    assert _keep_mails(db) == []
    real = runner.invoke(app, ["subscribers", "sunset"], env=env)
    assert "asked to stay: 4" in real.output
    assert len(_keep_mails(db)) == 4
    listed = runner.invoke(app, ["subscribers", "list"], env=env)
    assert "active: 7 · unsubscribed: 0 · bounced: 0 · complained: 0 · lapsed: 0" in " ".join(
        listed.output.split()
    )
