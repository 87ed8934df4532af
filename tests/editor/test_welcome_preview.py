"""Previewing a welcome step and sending a test of it, over HTTP on SQLite and PostgreSQL:
login and CSRF required, the step's text escaped, the HTML in the campaign preview's
sandboxed frames at desktop and phone widths, the plain text beside it, and a test that
reaches only the logged-in editor's address through the provider, marked as a test,
untracked, creating no campaign, receipt or delivery."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from email.message import EmailMessage
from typing import cast

from sqlalchemy import func, select

from campaigns.model import Campaign, Delivery
from campaigns.welcome_model import WelcomeReceipt
from campaigns.welcome_steps import StepText, add_step
from newsletter.db import Database
from tests.editor.conftest import Editor, add_editor, client, flashes, log_in
from tests.subscribers.conftest import LiveServer

EVIL = '<script>alert("x")</script>'


def _step(db: Database, subject: str = "Welcome to {newsletter}", body: str = "Hi.") -> int:
    with db.transaction() as session:
        return add_step(session, StepText(2, subject, body)).id


def _rows(db: Database) -> list[int]:
    """How many campaigns, deliveries and welcome receipts there are."""
    with db.transaction() as session:
        return [
            int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (Campaign, Delivery, WelcomeReceipt)
        ]


def test_preview_and_test_need_a_login(db: Database, site: LiveServer) -> None:
    step_id = _step(db)
    with client(site) as http:
        for path in (
            f"/editor/welcome/{step_id}/preview",
            f"/editor/welcome/{step_id}/preview/email",
        ):
            answer = http.get(path)
            assert answer.status_code == 303 and "/editor/login" in answer.headers["location"]
        assert http.post(f"/editor/welcome/{step_id}/test").status_code in (303, 403)
    assert site.mails() == []


def test_the_preview_shows_frames_text_and_escapes_the_step(db: Database, editor: Editor) -> None:
    step_id = _step(db, f"Hello {EVIL}", f"First {EVIL} paragraph.\n\nSecond one & more.")
    page = editor.get(f"/editor/welcome/{step_id}/preview")
    assert page.status_code == 200
    assert EVIL not in page.text and "&lt;script&gt;" in page.text
    frames = re.findall(r'<iframe class="w(\d+)" sandbox src="([^"]+)"', page.text)
    src = f"/editor/welcome/{step_id}/preview/email"
    assert frames == [("600", src), ("375", src)]
    text = re.search(r'<pre class="text" id="text-part">(.*?)</pre>', page.text, re.S)
    assert text is not None and "Second one &amp; more." in text.group(1)
    assert "&lt;script&gt;" in text.group(1)
    assert "ann@example.org" in page.text  # where the test goes
    assert f'action="/editor/welcome/{step_id}/test"' in page.text

    document = editor.get(f"/editor/welcome/{step_id}/preview/email")
    assert document.status_code == 200
    assert "sandbox" in document.headers["content-security-policy"]
    assert EVIL not in document.text and "First &lt;script&gt;" in document.text
    assert "/unsubscribe/" in document.text and "%%nl_" not in document.text
    assert "/t/o/" not in document.text and "/t/c/" not in document.text  # untracked

    listing = editor.get("/editor/welcome")
    assert f'href="/editor/welcome/{step_id}/preview"' in listing.text
    assert (
        f'href="/editor/welcome/{step_id}/preview"'
        in editor.get(f"/editor/welcome/{step_id}/edit").text
    )
    for path in ("/editor/welcome/999/preview", "/editor/welcome/999/preview/email"):
        assert editor.get(path).status_code == 404
    assert editor.get("/editor/welcome/0/preview").status_code == 422
    assert _rows(db) == [0, 0, 0]


def test_a_test_goes_to_the_editor_alone_marked_and_untracked(
    db: Database, editor: Editor, site: LiveServer
) -> None:
    step_id = _step(db, body=f"Hi {EVIL}.")
    refused = editor.http.post(f"/editor/welcome/{step_id}/test", data={})  # no CSRF token
    assert refused.status_code == 403 and site.mails() == []

    sent = editor.post(f"/editor/welcome/{step_id}/test", {"addresses": "victim@example.org"})
    assert sent.headers["location"] == f"/editor/welcome/{step_id}/preview"
    page = editor.follow(sent)
    assert "Test sent through outbox to ann@example.org." in flashes(page.text)
    (mail,) = site.mails()
    assert str(mail["To"]) == "ann@example.org"  # the form's "addresses" is ignored
    assert str(mail["Subject"]) == f"[TEST] Welcome to {site.settings.newsletter_name}"
    html = cast(EmailMessage, mail.get_body(("html",))).get_content()
    assert "Test send." in html and EVIL not in html and "&lt;script&gt;" in html
    assert "/t/o/" not in html and "/t/c/" not in html and "%%nl_" not in html
    assert _rows(db) == [0, 0, 0]
    assert editor.post("/editor/welcome/999/test").status_code == 404


def test_a_provider_that_refuses_is_said_and_nothing_is_left(
    db: Database, serve: Callable[..., LiveServer]
) -> None:
    with socket.socket() as closed:  # a port nobody listens on: SMTP cannot connect
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    site = serve(provider="smtp", smtp_url=f"smtp://127.0.0.1:{port}", smtp_timeout=2)
    add_editor(db, "ann@example.org")
    editor = log_in(site, "ann@example.org")
    step_id = _step(db)
    page = editor.follow(editor.post(f"/editor/welcome/{step_id}/test"))
    (message,) = flashes(page.text)
    assert message.startswith("Test not sent: ") and "SMTP" in message, message
    assert _rows(db) == [0, 0, 0]
    editor.http.close()
