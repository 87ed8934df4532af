"""The editor's HTML forms and pages with random input, logged in: never a 500.

Schemathesis covers the JSON API (test_api_schema); the pages are not in any OpenAPI
document, so Hypothesis posts random fields (the forms' own names with odd values: huge
numbers, control characters, far-off dates, unknown ids) to every form and random query
values to every page, with a valid session and CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from campaigns.service import CampaignDraft, create_campaign
from newsletter.db import Database
from subscribers.model import Subscriber
from tests.campaigns.helpers import SLUGS, add_segment, add_subscribers, import_examples
from tests.editor.conftest import add_editor, log_in
from tests.subscribers.conftest import LiveServer

FIELDS = (
    "name",
    "issue_date",
    "subject",
    "preheader",
    "briefs",
    "segments",
    f"brief_order_{SLUGS[0]}",
    "segment_order_1",
    "send_at",
    "email",
    "addresses",
    "variant",
    "status",
    "back",
    "ready",
    "role",
    "password",
    "password_again",
    "active",
    *("q", "topic", "segment", "engaged", "days", "after", "action", "reason", "confirm_email"),
    *("confirmed", "mode", "join", "status_in", "topics_list", "topics_match", "rule_json"),
    *("created_within_days", "attribute_key", "attribute_test", "attribute_value"),
    *("opened_within_days", "opened_not", "description", "position_1"),
    *("opt_topics", "opt_max_briefs", "opt_order", "opt_narratives", "opt_subject", "opt_intro"),
    *("title", "slug", "updated", "topics", "image_url", "base_version", "facts-0-text"),
    *("facts-1-citations", "sources-0-number", "sources-0-url", "narratives-0-kind"),
    *("narratives-0-label", "narratives-0-paragraphs", "narratives-0-probability"),
    *("narratives-0-as_of", "facts-0-remove"),
    *("name", "rate_limit", "scopes", "prefix"),
)
SUBSCRIBER = "/editor/subscribers/fuzz-uid"
POSTS = (
    "/editor/campaigns/new",
    "/editor/campaigns/1/edit",
    "/editor/campaigns/1/actions/schedule",
    "/editor/campaigns/1/actions/pause",
    "/editor/campaigns/1/preview/as",
    "/editor/campaigns/1/test",
    f"/editor/briefs/{SLUGS[0]}/status",
    "/editor/admin/editors",
    "/editor/admin/editors/active",
    "/editor/login",
    f"{SUBSCRIBER}/status",
    f"{SUBSCRIBER}/erase",
    "/editor/subscribers/import",
    "/editor/segments/new",
    "/editor/segments/1/edit",
    "/editor/segments/order",
    "/editor/segments/1/delete",
    "/editor/briefs/new",
    f"/editor/briefs/{SLUGS[0]}/edit",
    "/editor/briefs/preview",
    f"/editor/briefs/{SLUGS[0]}/history/1/restore",
    *("name", "rate_limit", "scopes", "prefix"),
)
GETS = (
    "/editor/briefs",
    "/editor/campaigns/1/preview",
    "/editor/campaigns/1/confirm/schedule",
    "/editor/campaigns/1/preview/0/email",
    "/editor/login",
    "/editor/reports",
    "/editor/campaigns/1/report",
    "/editor/campaigns/1/report.csv",
    "/editor/campaigns/1/report.json",
    "/editor/subscribers",
    SUBSCRIBER,
    f"{SUBSCRIBER}/data.json",
    f"{SUBSCRIBER}/erase",
    "/editor/subscribers/export.csv",
    "/editor/segments",
    "/editor/segments/1/edit",
    "/editor/segments/1/delete",
    "/editor/briefs/new",
    f"/editor/briefs/{SLUGS[0]}/edit",
    f"/editor/briefs/{SLUGS[0]}/history",
    *("name", "rate_limit", "scopes", "prefix"),
)
QUERY = ("status", "variant", "subscriber", "send_at", "next", "table", "version")
QUERY += ("q", "topic", "segment", "engaged", "days", "after")

odd_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "9" * 5000,
            "-1",
            "0",
            "2147483648",
            "9999-12-31T23:59",
            "0001-01-01",
            "1",
            "ready",
            "admin",
            "a@example.org",
            "<script>",
            "\x00",
            "\r\n",
            "%%nl_first_name%%",
            "{{ x",
        ]
    ),
)
fields = st.dictionaries(
    st.sampled_from(FIELDS), st.one_of(odd_text, st.lists(odd_text, max_size=3)), max_size=6
)


def test_no_form_or_page_answers_with_a_server_error(
    db: Database, serve: Callable[..., LiveServer]
) -> None:
    import_examples(db)
    add_segment(db, "tech", {"type": "topics", "any": ["tech"]}, {})
    add_subscribers(db, 3)
    with db.transaction() as session:
        session.execute(
            update(Subscriber)
            .where(Subscriber.email == "reader0@example.org")
            .values(uid="fuzz-uid")
        )
        create_campaign(session, CampaignDraft(name="Issue", brief_slugs=list(SLUGS)))
    add_editor(db, "root@example.org", role="admin")
    server = serve(
        editor_login_rate_limit=0,
        editor_timezone="America/Los_Angeles",  # local 9999-12-31 23:59 is past year 9999 in UTC
    )
    with log_in(server, "root@example.org") as editor:
        http, csrf = editor.http, editor.csrf
        statuses: set[int] = set()

        @given(
            path=st.sampled_from(POSTS + GETS),
            data=fields,
            query=st.dictionaries(st.sampled_from(QUERY), odd_text, max_size=3),
        )
        @settings(
            max_examples=400,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(path: str, data: dict[str, object], query: dict[str, str]) -> None:
            if path in POSTS and path != "/editor/login":
                answer = http.post(path, data={**data, "csrf_token": csrf}, params=query)
            elif path in POSTS:
                answer = http.post(path, data={**data, "csrf_token": csrf})
            else:
                answer = http.get(path, params=query)
            statuses.add(answer.status_code)
            assert answer.status_code < 500, (path, data, query, answer.text[:300])

        exercise()
        for path, data in (  # the cases that once got through: said once more, explicitly
            ("/editor/campaigns/1/test", {"variant": "9" * 5000, "addresses": "a@example.org"}),
            ("/editor/campaigns/1/actions/schedule", {"send_at": "9999-12-31T23:59"}),
        ):
            assert http.post(path, data={**data, "csrf_token": csrf}).status_code == 303
        confirm = http.get("/editor/campaigns/1/confirm/schedule?send_at=9999-12-31T23:59")
        assert confirm.status_code == 303
        nul = http.get("/editor/campaigns/1/preview", params={"subscriber": "\x00"})
        assert nul.status_code == 422  # PostgreSQL takes no NUL in a text
        assert http.get("/editor/campaigns").status_code == 200  # still logged in
    assert {200, 303} <= statuses
