"""suppress_many: the bulk form of suppress, with the same outcome as one call per address."""

from __future__ import annotations

from sqlalchemy import select

from newsletter.db import Database
from subscribers.addresses import parse_address
from subscribers.model import Subscriber, Suppression
from subscribers.suppression import suppress, suppress_many
from tests.subscribers.conftest import add_subscriber


def test_many_addresses_at_once_like_one_by_one(db: Database) -> None:
    with db.transaction() as session:
        for email, status in [
            ("a@example.org", "active"),
            ("b@example.org", "pending"),
            ("c@example.org", "unsubscribed"),
            ("d@example.org", "active"),
        ]:
            add_subscriber(session, email, status=status)
        suppress(session, "d@example.org", "manual")
    a, b, c, d, e = (parse_address(f"{x}@example.org") for x in "abcde")
    with db.transaction() as session:
        new = suppress_many(
            session,
            [
                (a, "bounced"),
                (b, "complained"),
                (a, "complained"),
                (c, "bounced"),
                (d, "bounced"),
                (e, "bounced"),
            ],
        )
    assert new == 4  # d was suppressed already; a's second reason is ignored
    with db.transaction() as session:
        reasons = dict(session.execute(select(Suppression.email_hash, Suppression.reason)).all())
        statuses = dict(session.execute(select(Subscriber.email, Subscriber.status)).all())
    assert reasons == {
        a.digest: "bounced",
        b.digest: "complained",
        c.digest: "bounced",
        d.digest: "manual",
        e.digest: "bounced",
    }
    assert statuses == {
        "a@example.org": "bounced",
        "b@example.org": "complained",
        "c@example.org": "unsubscribed",  # not mailed anyway: its status says more
        "d@example.org": "unsubscribed",
    }
    with db.transaction() as session:
        assert suppress_many(session, [(a, "bounced")]) == 0
        assert suppress_many(session, []) == 0
