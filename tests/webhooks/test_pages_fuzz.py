"""The webhooks page's forms with random input, logged in as an admin: never a 500.

URLs are drawn from values refused before any DNS lookup, or IP literals (the tests stay
on loopback); ids include PostgreSQL's integer overflow and junk."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.db import Database
from tests.editor.conftest import add_editor, log_in
from tests.subscribers.conftest import LiveServer, serve  # noqa: F401  (a fixture)
from tests.webhooks.conftest import register

PAGE = "/editor/admin/webhooks"
POSTS = (PAGE, f"{PAGE}/enabled", f"{PAGE}/delete", f"{PAGE}/test", f"{PAGE}/retry")
URLS = st.sampled_from(
    [
        "",
        "x",
        "https://",
        "ftp://1.2.3.4/",
        "https://1.2.3.4:99999/",
        "https://user:pw@1.2.3.4/",
        "https://1.2.3.4/\x00",
        "https://1.2.3.4/a b",
        "https://[::1/",
        "https://10.0.0.1/" + "a" * 3000,
        "http://127.0.0.1:9/",
    ]
)
odd = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["-1", "0", "1", "2", "2147483648", "9" * 400, "\x00", "campaign.sent"]),
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "url": URLS,
        "events": st.lists(odd, max_size=3),
        "endpoint_id": odd,
        "message_id": odd,
        "enabled": odd,
    },
)


def test_no_webhook_form_answers_with_a_server_error(
    db: Database,
    serve: Callable[..., LiveServer],  # noqa: F811
) -> None:
    register(db, "http://127.0.0.1:9/hooks")  # port 9: nothing listens, attempts fail fast
    add_editor(db, "root@example.org", role="admin")
    server = serve(
        editor_login_rate_limit=0,
        webhooks_allow_private_addresses=True,
        webhook_timeout_seconds=0.5,
    )
    with log_in(server, "root@example.org") as editor:
        http, csrf = editor.http, editor.csrf

        @given(path=st.sampled_from(POSTS), data=fields)
        @settings(
            max_examples=150,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(path: str, data: dict[str, object]) -> None:
            answer = http.post(path, data={**data, "csrf_token": csrf})
            assert answer.status_code < 500, (path, data, answer.text[:300])

        exercise()
        assert http.get(PAGE).status_code == 200
