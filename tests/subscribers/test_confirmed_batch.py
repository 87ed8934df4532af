"""Confirmed people added as a batch (the API's vouched-for adds): a person another request
added between the batch's look-up and its insert is reported as existing, not a crash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from newsletter.db import Database
from subscribers import intake
from subscribers.intake import Arrival, IntakeResult, check_arrival, take_in
from subscribers.model import ConsentRecord, Subscriber
from tests.subscribers.conftest import add_subscriber


def test_a_person_added_meanwhile_is_reported_as_existing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.transaction() as session:
        add_subscriber(session, "raced@example.org", status="pending")
    # The look-up ran before the other request committed: it saw neither address.
    monkeypatch.setattr(intake, "known_and_suppressed", lambda connection, rows: (set(), set()))
    people = [
        check_arrival(Arrival(email, source="crm"), [], ascii_local_part=True)
        for email in ("Raced@example.org", "new@example.org")
    ]
    with db.transaction() as session:
        results = take_in(
            session, people, confirmed=True, system="crm", resend_after=timedelta(minutes=5)
        )
    assert results == [IntakeResult.EXISTS, IntakeResult.ADDED]
    with db.transaction() as session:
        statuses = dict(session.execute(select(Subscriber.email, Subscriber.status)).all())
        assert statuses == {"raced@example.org": "pending", "new@example.org": "active"}
        assert session.scalar(select(func.count()).select_from(ConsentRecord)) == 1
