"""The admin's API keys page: admins only, CSRF-protected, a new key shown once (never in
the session cookie) and working on /api/v1 at once; refusals shown at the form, escaped;
revoking stops the key."""

from __future__ import annotations

import re

from newsletter.db import Database
from tests.editor.conftest import Editor, client
from tests.subscribers.conftest import LiveServer

PAGE = "/editor/admin/apikeys"
_KEY = re.compile(r'<code id="new-key">(nlk_[^<]+)</code>')


def test_an_admin_makes_a_key_that_works_once_shown_then_revokes_it(
    db: Database, site: LiveServer, admin: Editor
) -> None:
    answer = admin.post(
        PAGE,
        {"name": "cms", "rate_limit": "60", "scopes": ["briefs:read", "reports:read"]},
    )
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    found = _KEY.search(answer.text)
    assert found, answer.text[:2000]
    key = found.group(1)
    assert "set-cookie" not in answer.headers or key not in answer.headers["set-cookie"]
    listed = admin.get(PAGE).text
    assert key not in listed and "cms" in listed and key[:12] in listed
    assert "root@example.org" in listed  # who made it
    with client(site) as http:
        headers = {"Authorization": f"Bearer {key}"}
        assert http.get("/api/v1/briefs", headers=headers).status_code == 200
        assert http.get("/api/v1/campaigns", headers=headers).status_code == 403

    page = admin.follow(admin.post(f"{PAGE}/revoke", {"prefix": key[:12]}))
    assert "The API key &#39;cms&#39; is revoked" in page.text
    with client(site) as http:
        assert (
            http.get("/api/v1/briefs", headers={"Authorization": f"Bearer {key}"}).status_code
            == 401
        )


def test_refusals_are_shown_at_the_form_and_escaped(admin: Editor) -> None:
    answer = admin.post(PAGE, {"name": "<b>x</b>", "rate_limit": "60", "scopes": ["briefs:read"]})
    assert answer.status_code == 422
    assert "name: must be 1–60 letters" in answer.text
    assert "<b>x</b>" not in answer.text and "&lt;b&gt;x&lt;/b&gt;" in answer.text
    answer = admin.post(PAGE, {"name": "cms", "rate_limit": "60"})
    assert answer.status_code == 422 and "name at least one scope" in answer.text
    answer = admin.post(PAGE, {"name": "cms", "rate_limit": "lots", "scopes": ["briefs:read"]})
    assert answer.status_code == 422 and "must be a whole number" in answer.text
    answer = admin.post(PAGE, {"name": "cms", "rate_limit": "60", "scopes": ["root"]})
    assert answer.status_code == 422 and "unknown scope &#39;root&#39;" in answer.text
    assert not _KEY.search(admin.get(PAGE).text)


def test_only_admins_with_the_csrf_token(db: Database, site: LiveServer, editor: Editor) -> None:
    assert editor.get(PAGE).status_code == 403
    answer = editor.post(PAGE, {"name": "cms", "rate_limit": "60", "scopes": ["briefs:read"]})
    assert answer.status_code == 403
    with client(site) as http:
        assert http.get(PAGE).status_code == 303  # to the login page
        assert http.post(PAGE, data={"name": "cms"}).status_code in (303, 403)


def test_an_admin_post_without_the_token_is_refused(admin: Editor) -> None:
    answer = admin.http.post(
        PAGE, data={"name": "cms", "rate_limit": "60", "scopes": ["briefs:read"]}
    )
    assert answer.status_code == 403
    assert "cms" not in admin.get(PAGE).text.split("<tbody>")[1].split("</tbody>")[0]
