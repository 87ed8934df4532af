"""The editor's welcome series page over HTTP, on SQLite and PostgreSQL: login required,
CSRF required, what the editor writes is escaped, bad input is a 422 that saves nothing,
and each step version links its campaign's report. Also the archive's ``/archive/latest``
and that welcome campaigns are not issues of the archive."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from campaigns.model import Delivery
from campaigns.reports import campaign_report
from campaigns.sending import run_worker, send_campaign
from campaigns.service import CampaignDraft, create_campaign
from campaigns.welcome_model import WelcomeStep
from campaigns.welcome_queue import queue_due_steps
from campaigns.welcome_steps import StepText, add_step
from newsletter.db import Database, utcnow
from newsletter.tokens import Purpose, TokenSigner
from tests.campaigns.helpers import SLUGS, add_subscribers, import_examples, links_by_section
from tests.editor.conftest import HUMAN, Editor, client, csrf_of, flashes
from tests.subscribers.conftest import LiveServer

EVIL = '<script>alert("x")</script>'


def _steps(db: Database) -> list[tuple[int, str, int, bool]]:
    with db.transaction() as session:
        rows = session.execute(
            select(WelcomeStep.delay_days, WelcomeStep.subject, WelcomeStep.version)
            .add_columns(WelcomeStep.enabled)
            .order_by(WelcomeStep.id)
        )
        return [(d, s, v, e) for d, s, v, e in rows]


def test_the_pages_need_a_login(db: Database, site: LiveServer) -> None:
    with client(site) as http:
        for path in ("/editor/welcome", "/editor/welcome/new", "/editor/welcome/1/edit"):
            answer = http.get(path)
            assert answer.status_code == 303 and "/editor/login" in answer.headers["location"]
        posted = http.post("/editor/welcome/new", data={"delay_days": "0", "subject": "x"})
        assert posted.status_code in (303, 403)
    assert _steps(db) == []


def test_add_edit_disable_escaped(db: Database, editor: Editor) -> None:
    form = editor.get("/editor/welcome/new")
    assert form.status_code == 200 and 'name="body"' in form.text
    answer = editor.post(
        "/editor/welcome/new", {"delay_days": "0", "subject": EVIL, "body": f"Hi {EVIL}"}
    )
    page = editor.follow(answer)
    assert "The welcome step is saved." in flashes(page.text)
    assert EVIL not in page.text and "&lt;script&gt;" in page.text
    assert _steps(db) == [(0, EVIL, 1, True)]
    found = re.search(r'href="/editor/welcome/(\d+)/edit"', page.text)
    assert found is not None
    step_id = int(found.group(1))

    edit = editor.get(f"/editor/welcome/{step_id}/edit")
    assert EVIL not in edit.text and "&lt;script&gt;" in edit.text
    changed = editor.post(
        f"/editor/welcome/{step_id}/edit", {"delay_days": "2", "subject": "Hello", "body": "B"}
    )
    editor.follow(changed)
    assert _steps(db) == [(2, "Hello", 2, True)]
    editor.follow(editor.post(f"/editor/welcome/{step_id}/disable"))
    assert _steps(db) == [(2, "Hello", 2, False)]
    page = editor.follow(editor.post(f"/editor/welcome/{step_id}/enable"))
    assert _steps(db)[0][3] is True and "Disable" in page.text


def test_bad_input_is_a_422_and_saves_nothing(db: Database, editor: Editor) -> None:
    for values in (
        {"delay_days": "-1", "subject": "S", "body": "B"},
        {"delay_days": "x", "subject": "S", "body": "B"},
        {"delay_days": "99999", "subject": "S", "body": "B"},
        {"delay_days": "1", "subject": "  ", "body": "B"},
        {"delay_days": "1", "subject": "S", "body": ""},
        {"delay_days": "1", "subject": "S" * 201, "body": "B"},
        {"delay_days": "\u00b2", "subject": "S", "body": "B"},  # isdigit(), yet int() refuses
        {"delay_days": "1", "subject": "S\x00", "body": "B"},  # PostgreSQL cannot store NUL
        {"delay_days": "1", "subject": "S", "body": "B\x00"},
    ):
        answer = editor.post("/editor/welcome/new", values)
        assert answer.status_code == 422, values
        assert "Nothing was saved" in answer.text
    assert _steps(db) == []
    assert editor.get("/editor/welcome/999/edit").status_code == 404
    assert editor.post("/editor/welcome/999/disable").status_code == 404


def test_a_form_without_the_csrf_token_is_refused(db: Database, editor: Editor) -> None:
    answer = editor.http.post(
        "/editor/welcome/new", data={"delay_days": "0", "subject": "S", "body": "B"}
    )
    assert answer.status_code == 403
    assert _steps(db) == []
    assert csrf_of(editor.get("/editor/welcome").text)


def test_reports_per_step_and_the_archive_leaves_welcome_mails_out(
    db: Database, site: LiveServer, editor: Editor
) -> None:
    import_examples(db)
    with db.transaction() as session:
        add_step(session, StepText(0, "Welcome aboard", "Glad you are here."))
        issue = create_campaign(session, CampaignDraft(name="Issue", brief_slugs=list(SLUGS))).id
    add_subscribers(db, 2)
    with client(site) as http:
        empty = http.get("/archive/latest")
        assert empty.status_code == 307 and empty.headers["location"] == "/archive"
    send_campaign(db, site.settings, issue)
    queue_due_steps(db, site.settings)
    run_worker(db, site.settings, stop=threading.Event(), once=True)

    page = editor.get("/editor/welcome")
    reports = page.text.split('href="/editor/campaigns/')[1:]
    assert len(reports) == 1 and "v1: 2 readers (sent)" in reports[0]
    welcome_campaign = int(reports[0].split("/")[0])
    report = editor.get(f"/editor/campaigns/{welcome_campaign}/report")
    assert report.status_code == 200
    for page_path in ("", "/preview", "/checks", "/edit", "/confirm/pause", "/report.json"):
        shown = editor.get(f"/editor/campaigns/{welcome_campaign}{page_path}")
        assert shown.status_code < 500, (page_path, shown.text[:300])
    assert editor.get("/editor/campaigns").status_code == 200
    assert editor.get("/editor/reports").status_code == 200
    assert editor.get("/editor/reports/health").status_code == 200

    with client(site) as http:
        latest = http.get("/archive/latest")
        assert latest.status_code == 307 and latest.headers["location"] == f"/archive/{issue}"
        listing = http.get("/archive").text
        assert "Welcome aboard" not in listing
        assert http.get(f"/archive/{welcome_campaign}").status_code == 404
        assert "Welcome aboard" not in http.get("/archive/feed.xml").text
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(WelcomeStep)) == 1


def test_opens_and_clicks_count_in_the_step_report(db: Database, site: LiveServer) -> None:
    with db.transaction() as session:
        add_step(session, StepText(0, "Welcome aboard", "Glad you are here."))
    add_subscribers(db, 2)
    (queued,) = queue_due_steps(db, site.settings)
    run_worker(db, site.settings, stop=threading.Event(), once=True)
    signer = TokenSigner(site.settings.signing_key())
    with db.transaction() as session:
        session.execute(update(Delivery).values(sent_at=utcnow() - timedelta(hours=1)))
        rows = session.execute(select(Delivery.id, Delivery.variant_id).order_by(Delivery.id))
        (delivery, variant), _ = rows.all()
    token = signer.sign(Purpose.TRACKING, str(delivery))
    latest = links_by_section(db, variant)["welcome"][0]
    assert latest["url"].endswith("/archive/latest")
    with client(site) as http:
        answer = http.get(f"/t/c/{token}/{latest['link_id']}", headers={"User-Agent": HUMAN})
        assert answer.status_code == 302 and answer.headers["location"] == latest["url"]
    with db.transaction() as session:
        report = campaign_report(session, queued.campaign_id)
    assert (report.totals.sent, report.totals.clicked, report.totals.opened) == (2, 1, 1)
