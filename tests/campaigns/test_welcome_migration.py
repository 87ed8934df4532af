"""Migration 0031 adds the welcome series' tables beside existing data (subscribers and a
sent campaign stay as they were and the series works on them), matches the models, and
undoes with steps and receipts in it, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, select, text

import campaigns.welcome_model  # noqa: F401  (registers the tables on Base.metadata)
from campaigns.model import Campaign
from campaigns.sending import run_worker, send_campaign
from campaigns.welcome_queue import queue_due_steps
from campaigns.welcome_steps import StepText, add_step
from newsletter.config import get_settings
from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.campaigns.helpers import (
    add_subscribers,
    import_examples,
    new_campaign,
    outbox_mails,
    record_confirmations,
)
from tests.schema import schema_differences

TABLES = {"welcome_steps", "welcome_campaigns", "welcome_receipts"}


def _tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names()) & TABLES


def _indexed(db: Database) -> bool:
    names = {index["name"] for index in inspect(db.engine).get_indexes("subscribers")}
    return "ix_subscribers_confirmed_at" in names


def _downgrade(db: Database) -> None:
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0030")


def test_0031_adds_the_series_beside_existing_data_and_goes_back(
    db: Database, tmp_path: Path
) -> None:
    settings = get_settings().model_copy(update={"outbox": tmp_path / "outbox"})
    import_examples(db)
    add_subscribers(db, 3)
    record_confirmations(db)  # they confirmed by mail: 0039 starts their series then
    issue = new_campaign(db)
    assert send_campaign(db, settings, issue).status == "sent"
    _downgrade(db)  # the data stays; today's code may need later tables, so it ran first
    assert _tables(db) == set() and not _indexed(db)

    assert "0031" in db.upgrade()
    assert schema_differences(db) == []
    assert _tables(db) == TABLES and _indexed(db)
    with db.transaction() as session:
        add_step(session, StepText(0, "Welcome", "Hello."))
    assert [q.readers for q in queue_due_steps(db, settings)] == [3]
    run_worker(db, settings, stop=threading.Event(), once=True)
    assert len(outbox_mails(tmp_path / "outbox")) == 6
    with db.transaction() as session:
        assert session.scalar(select(Campaign.status).where(Campaign.id == issue)) == "sent"

    _downgrade(db)
    assert _tables(db) == set()
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM subscribers")).scalar() == 3
    db.upgrade()
    with db.transaction() as session:
        statuses = session.execute(select(Campaign.id, Campaign.status).order_by(Campaign.id))
        assert [status for _, status in statuses] == ["sent", "cancelled"]
