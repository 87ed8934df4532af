"""count_many counts several segments in one scan and agrees with count_members, on SQLite
and PostgreSQL (the editor's segment list shows these counts)."""

from __future__ import annotations

from newsletter.db import Database
from subscribers.segment_store import context_for, count_many, count_members
from subscribers.segments import parse_rule
from subscribers.suppression import suppress
from tests.campaigns.helpers import add_subscribers


def test_count_many_agrees_with_count_members(db: Database) -> None:
    add_subscribers(db, 4, topics=["climate"])
    add_subscribers(db, 3, start=10, topics=["europe"], status="pending")
    add_subscribers(db, 2, start=20, topics=["climate", "europe"], status="unsubscribed")
    with db.transaction() as session:
        suppress(session, "reader0@example.org", "bounced")
    rules = [
        parse_rule({"type": "topics", "any": ["climate"]}),
        parse_rule({"type": "not", "rule": {"type": "topics", "any": ["europe"]}}),
        parse_rule({"type": "everyone"}),
        parse_rule({"type": "status", "in": ["bounced"]}),
    ]
    with db.transaction() as session:
        ctx = context_for(session)
        together = count_many(session, rules, ctx)
        one_by_one = [count_members(session, rule, ctx) for rule in rules]
        assert count_many(session, [], ctx) == []
    assert together == one_by_one
    assert [(c.matching, c.mailable) for c in together] == [(6, 3), (4, 3), (9, 3), (1, 0)]
