"""Segment rules compile to SQL that selects the same people on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.db import Database
from newsletter.errors import ConflictError, InvalidInput
from subscribers.model import Subscriber
from subscribers.segment_store import (
    context_for,
    count_members,
    create_segment,
    get_segment,
    options_of,
    rule_of,
    sample_members,
)
from subscribers.segments import (
    Rule,
    RuleContext,
    dump_rule,
    parse_rule,
    recipients_by_segment,
)
from subscribers.suppression import suppress
from tests.subscribers.conftest import add_subscriber

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _people(session: Session) -> None:
    add_subscriber(
        session,
        "ana@example.com",
        topics=["europe", "climate"],
        narratives="facts-only",
        source="web",
        attributes={"plan": "pro", "seats": 3, "beta": True},
        created_at=NOW - timedelta(days=2),
    )
    add_subscriber(
        session,
        "bo@example.com",
        topics=["asia"],
        source="import",
        attributes={"plan": "free", "seats": "3"},
        created_at=NOW - timedelta(days=40),
    )
    add_subscriber(
        session,
        "cy@example.com",
        status="pending",
        topics=["europe"],
        narratives="no-forecast",
        attributes={"beta": False, "score": 1.5},
        created_at=NOW - timedelta(days=10),
    )
    add_subscriber(
        session, "di@example.com", status="unsubscribed", created_at=NOW - timedelta(days=400)
    )


def _who(session: Session, rule: dict[str, Any]) -> list[str]:
    ctx = RuleContext(dialect=session.get_bind().dialect.name, now=NOW)
    condition = parse_rule(rule).compile(ctx)
    emails = session.scalars(select(Subscriber.email).where(condition)).all()
    return sorted(e.split("@")[0] for e in emails if e)


CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"type": "everyone"}, ["ana", "bo", "cy", "di"]),
    ({"type": "status", "in": ["active"]}, ["ana", "bo"]),
    ({"type": "status", "in": ["pending", "unsubscribed"]}, ["cy", "di"]),
    ({"type": "topics", "any": ["europe"]}, ["ana", "cy"]),
    ({"type": "topics", "any": ["Asia", "climate"]}, ["ana", "bo"]),
    ({"type": "topics", "all": ["europe", "climate"]}, ["ana"]),
    ({"type": "topics", "any": ["sport"]}, []),
    ({"type": "narratives", "in": ["facts-only", "no-forecast"]}, ["ana", "cy"]),
    ({"type": "source", "in": ["import"]}, ["bo"]),
    ({"type": "created", "within_days": 30}, ["ana", "cy"]),
    ({"type": "created", "older_than_days": 30}, ["bo", "di"]),
    ({"type": "created", "after": "2026-11-01", "before": "2026-11-20"}, ["cy"]),
    ({"type": "confirmed", "within_days": 7}, ["ana"]),
    ({"type": "attribute", "key": "plan", "equals": "pro"}, ["ana"]),
    ({"type": "attribute", "key": "plan", "in": ["pro", "free"]}, ["ana", "bo"]),
    # JSON types matter: the number 3 is not the string "3"; true is not 1.
    ({"type": "attribute", "key": "seats", "equals": 3}, ["ana"]),
    ({"type": "attribute", "key": "seats", "equals": "3"}, ["bo"]),
    ({"type": "attribute", "key": "beta", "equals": True}, ["ana"]),
    ({"type": "attribute", "key": "beta", "equals": False}, ["cy"]),
    ({"type": "attribute", "key": "score", "equals": 1.5}, ["cy"]),
    ({"type": "attribute", "key": "beta", "exists": True}, ["ana", "cy"]),
    ({"type": "attribute", "key": "beta", "exists": False}, ["bo", "di"]),
    (
        {
            "type": "all",
            "rules": [
                {"type": "status", "in": ["active", "pending"]},
                {"type": "not", "rule": {"type": "topics", "any": ["climate"]}},
            ],
        },
        ["bo", "cy"],
    ),
    (
        {
            "type": "any",
            "rules": [
                {"type": "source", "in": ["import"]},
                {"type": "attribute", "key": "score", "exists": True},
            ],
        },
        ["bo", "cy"],
    ),
]


def test_each_rule_type_selects_the_right_people(db: Database) -> None:
    with db.transaction() as session:
        _people(session)
    with db.transaction() as session:
        for rule, expected in CASES:
            assert _who(session, rule) == expected, rule


def test_rules_round_trip_through_their_json_form() -> None:
    for rule, _ in CASES:
        parsed = parse_rule(rule)
        assert parse_rule(dump_rule(parsed)) == parsed


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"type": "nope"}, "unknown rule type 'nope'"),
        ({"type": "status", "in": ["gone"]}, "status rule.in.0"),
        ({"type": "topics"}, "exactly one of 'any' or 'all'"),
        ({"type": "attribute", "key": "x", "equals": 1, "exists": True}, "exactly one of"),
        ({"type": "attribute", "key": "no spaces", "exists": True}, "key"),
        ({"type": "created"}, "within_days"),
        ({"type": "all", "rules": []}, "at least 1"),
        ({"type": "status", "in": ["active"], "extra": 1}, "extra"),
        ("status", "JSON object"),
    ],
)
def test_bad_rules_say_what_is_wrong(rule: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        parse_rule(rule)
    assert caught.value.field == "rule"


def test_first_matching_segment_wins_and_only_mailable_people_are_selected(db: Database) -> None:
    with db.transaction() as session:
        _people(session)
        add_subscriber(session, "ed@example.com", topics=["europe"])
        suppress(session, "ed@example.com", "complained")
    with db.transaction() as session:
        ctx = RuleContext(dialect=db.dialect, now=NOW)
        segments: list[tuple[int, Rule]] = [
            (10, parse_rule({"type": "topics", "any": ["europe"]})),
            (20, parse_rule({"type": "attribute", "key": "plan", "exists": True})),
            (30, parse_rule({"type": "everyone"})),
        ]
        rows = session.execute(recipients_by_segment(segments, ctx)).all()
        by_email = {
            session.get_one(Subscriber, subscriber_id).email: segment_id
            for subscriber_id, segment_id in rows
        }
        # ana matches 10 and 20: the first wins. cy (pending), di (unsubscribed) and
        # ed (suppressed after a complaint) are not mailable.
        assert by_email == {"ana@example.com": 10, "bo@example.com": 20}
        without_catch_all = recipients_by_segment(segments[:1], ctx)
        assert len(session.execute(without_catch_all).all()) == 1


def test_segments_are_stored_with_validated_rule_and_options(db: Database) -> None:
    with db.transaction() as session:
        _people(session)
        create_segment(
            session,
            "europe",
            {"type": "topics", "any": ["europe"]},
            options={"topics": ["Europe"], "narratives": "facts-only"},
            description="Readers of the Europe desk",
        )
    with db.transaction() as session:
        segment = get_segment(session, "europe")
        assert options_of(segment).topics == ["europe"]
        assert options_of(segment).narratives == "facts-only"
        ctx = context_for(session, NOW)
        counts = count_members(session, rule_of(segment), ctx)
        assert (counts.matching, counts.mailable) == (2, 1)
        assert [s.email for s in sample_members(session, rule_of(segment), ctx)] == [
            "ana@example.com",
            "cy@example.com",
        ]
        with pytest.raises(ConflictError, match="already exists"):
            create_segment(session, "europe", {"type": "everyone"})
        with pytest.raises(InvalidInput, match=r"options\.narratives"):
            create_segment(session, "x", {"type": "everyone"}, options={"narratives": "some"})
