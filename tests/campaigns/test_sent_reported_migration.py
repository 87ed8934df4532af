"""Migration 0038 marks campaigns sent before it as reported (so sending them again after
the upgrade reports nothing), leaves the others unmarked, matches the model, and undoes,
on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect, select

from campaigns.model import Campaign
from campaigns.sending import send_campaign
from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.campaigns.bounce_mail import outbox_settings
from tests.campaigns.helpers import add_subscribers, import_examples, new_campaign
from tests.schema import schema_differences


def _columns(db: Database) -> set[str]:
    return {column["name"] for column in inspect(db.engine).get_columns("campaigns")}


def test_0038_marks_sent_campaigns_reported_and_goes_back(db: Database, tmp_path: Path) -> None:
    import_examples(db)
    add_subscribers(db, 3)
    sent = new_campaign(db)
    assert send_campaign(db, outbox_settings(tmp_path / "outbox"), sent).status == "sent"
    draft = new_campaign(db)
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0037")
    assert "sent_reported_at" not in _columns(db)

    assert "0038" in db.upgrade()
    assert schema_differences(db) == []
    with db.transaction() as session:
        rows = session.execute(
            select(Campaign.id, Campaign.finished_at, Campaign.sent_reported_at)
        ).all()
    moments = {row.id: (row.finished_at, row.sent_reported_at) for row in rows}
    finished, reported = moments[sent]
    assert finished is not None and reported == finished
    assert moments[draft] == (None, None)

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0037")
    assert "sent_reported_at" not in _columns(db)
    db.upgrade()
