"""The admin's webhooks page on a live server: admins only, CSRF, a secret shown once,
refusals at the form (escaped), a test event and a retry attempted at once against the
loopback receiver, with the log showing the last answer."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from standardwebhooks import Webhook

from newsletter.db import Database
from tests.editor.conftest import Editor, add_editor, client, log_in
from tests.subscribers.conftest import LiveServer, serve  # noqa: F401  (a fixture)
from tests.webhooks.receiver import Receiver

PAGE = "/editor/admin/webhooks"
_SECRET = re.compile(r'<code id="new-secret">(whsec_[^<]+)</code>')


@pytest.fixture
def site(serve: Callable[..., LiveServer]) -> LiveServer:  # noqa: F811
    return serve(webhooks_allow_private_addresses=True, webhook_timeout_seconds=0.5)


@pytest.fixture
def admin(db: Database, site: LiveServer) -> Editor:
    add_editor(db, "root@example.org", role="admin")
    return log_in(site, "root@example.org")


def test_admin_adds_tests_retries_and_deletes(admin: Editor, receiver: Receiver) -> None:
    answer = admin.post(PAGE, {"url": receiver.url, "events": ["campaign.sent"]})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    found = _SECRET.search(answer.text)
    assert found, answer.text[:2000]
    secret = found.group(1)
    listed = admin.get(PAGE).text
    assert secret not in listed and receiver.url in listed and "root@example.org" in listed

    receiver.script = [500]
    page = admin.follow(admin.post(f"{PAGE}/test", {"endpoint_id": "1"}))
    assert "not delivered (HTTP 500)" in page.text
    assert "HTTP 500" in page.text and "answer 500 &lt;b&gt;from the receiver" in page.text
    assert "<b>from the receiver" not in page.text, "the receiver's answer is escaped"
    page = admin.follow(admin.post(f"{PAGE}/retry", {"message_id": "1"}))
    assert "Message 1: delivered." in page.text
    body = Webhook(secret).verify(receiver.received[-1].body, receiver.received[-1].headers)
    assert body["type"] == "webhook.test"

    page = admin.follow(admin.post(f"{PAGE}/enabled", {"endpoint_id": "1", "enabled": "0"}))
    assert "Endpoint 1 is disabled." in page.text
    page = admin.follow(admin.post(f"{PAGE}/delete", {"endpoint_id": "1"}))
    assert "and its messages are deleted" in page.text and "No endpoints yet." in page.text
    page = admin.follow(admin.post(f"{PAGE}/delete", {"endpoint_id": "1"}))
    assert "no webhook endpoint 1" in page.text


def test_refusals_are_shown_at_the_form_and_escaped(admin: Editor) -> None:
    answer = admin.post(PAGE, {"url": "ftp://<b>x</b>/", "events": ["campaign.sent"]})
    assert answer.status_code == 422 and "only http:// and https://" in answer.text
    assert "<b>x</b>" not in answer.text and "&lt;b&gt;x&lt;/b&gt;" in answer.text
    answer = admin.post(PAGE, {"url": "https://93.184.215.14/h"})
    assert answer.status_code == 422 and "choose at least one" in answer.text
    answer = admin.post(PAGE, {"url": "https://93.184.215.14/h", "events": ["<i>x</i>"]})
    assert answer.status_code == 422 and "&lt;i&gt;x&lt;/i&gt;" in answer.text
    assert not _SECRET.search(admin.get(PAGE).text)


def test_only_admins_with_the_csrf_token(db: Database, site: LiveServer, admin: Editor) -> None:
    add_editor(db, "ann@example.org")
    editor = log_in(site, "ann@example.org")
    assert editor.get(PAGE).status_code == 403
    answer = editor.post(PAGE, {"url": "https://93.184.215.14/h", "events": ["campaign.sent"]})
    assert answer.status_code == 403
    with client(site) as http:
        assert http.get(PAGE).status_code == 303  # to the login page
        assert http.post(PAGE, data={"url": "https://93.184.215.14/h"}).status_code in (303, 403)
    answer = admin.http.post(
        PAGE, data={"url": "https://93.184.215.14/h", "events": ["campaign.sent"]}
    )
    assert answer.status_code == 403
    assert "No endpoints yet." in admin.get(PAGE).text
    assert admin.post(f"{PAGE}/retry", {"message_id": "abc"}).status_code == 422
