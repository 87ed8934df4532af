"""Migration 0039 gives ``subscribers.welcome_from`` (and its index) to readers whose consent
history shows a confirmation by mail, none to readers imported or added as confirmed (nor to
one whose only later ``confirm`` record is a revival from a lapse, nor to pending ones),
matches the model, and undoes, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, select, update

from campaigns.welcome_queue import queue_due_steps
from campaigns.welcome_steps import StepText, add_step
from newsletter.config import get_settings
from newsletter.db import Database, utcnow
from newsletter.migrate import alembic_config
from subscribers.addresses import parse_address
from subscribers.csv_io import ImportOptions, import_csv
from subscribers.directory import NewSubscriber, add_subscriber
from subscribers.model import Subscriber
from subscribers.signup import Origin, SignupForm, confirm, revive, signup
from tests.schema import schema_differences

WEB = Origin(source="web")
RESEND = timedelta(minutes=10)


def _column_and_index(db: Database) -> tuple[bool, bool]:
    columns = {column["name"] for column in inspect(db.engine).get_columns("subscribers")}
    indexes = {index["name"] for index in inspect(db.engine).get_indexes("subscribers")}
    return "welcome_from" in columns, "ix_subscribers_welcome_from" in indexes


def _downgrade(db: Database) -> None:
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0038")


def _sign_up(db: Database, email: str, *, confirmed: bool) -> None:
    form = SignupForm(address=parse_address(email), form={})
    with db.transaction() as session:
        signup(session, form, WEB, resend_after=RESEND)
    if confirmed:
        with db.transaction() as session:
            uid = session.scalars(select(Subscriber.uid).where(Subscriber.email == email)).one()
            confirm(session, uid, WEB)


def test_0039_starts_the_series_of_readers_who_confirmed_by_mail_only(
    db: Database, tmp_path: Path
) -> None:
    settings = get_settings().model_copy(update={"outbox": tmp_path / "outbox"})
    _sign_up(db, "optin@example.org", confirmed=True)
    _sign_up(db, "pending@example.org", confirmed=False)
    lines = "email\nimported@example.org\nlapsed@example.org\n"
    options = ImportOptions(known_topics=(), confirmed=True, welcome=True)
    assert import_csv(db, io.StringIO(lines), source_name="t", options=options).errors == []
    with db.transaction() as session:
        new = NewSubscriber("added@example.org", confirmed=True, welcome=True)
        add_subscriber(session, new, known_topics=(), origin=Origin(source="cli"))
        lapsed = session.scalars(
            select(Subscriber).where(Subscriber.email == "lapsed@example.org")
        ).one()
        lapsed.lapsed_at = utcnow() - timedelta(days=1)
        session.flush()
        assert revive(session, lapsed, WEB, via="signup")  # a later 'confirm' record
    with db.transaction() as session:  # what the older code kept: nothing of a welcome
        session.execute(update(Subscriber).values(welcome_from=None))
    _downgrade(db)
    assert _column_and_index(db) == (False, False)

    assert "0039" in db.upgrade()
    assert _column_and_index(db) == (True, True)
    assert schema_differences(db) == []
    with db.transaction() as session:
        rows = session.execute(
            select(Subscriber.email, Subscriber.confirmed_at, Subscriber.welcome_from)
        ).all()
    starts = {row.email: row.welcome_from for row in rows}
    confirmed = {row.email: row.confirmed_at for row in rows}
    assert starts["optin@example.org"] == confirmed["optin@example.org"] is not None
    assert {email for email, start in starts.items() if start is not None} == {"optin@example.org"}
    with db.transaction() as session:
        add_step(session, StepText(0, "Welcome", "Hello."))
    assert [q.readers for q in queue_due_steps(db, settings)] == [1]

    _downgrade(db)
    assert _column_and_index(db) == (False, False)
    db.upgrade()
