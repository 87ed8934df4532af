"""Migration 0025 gives campaigns their briefs' titles as frozen (filled, for campaigns frozen
before it, with the titles the briefs have now; drafts stay empty), on SQLite and
PostgreSQL, and undoes it."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, select

from campaigns.model import Campaign
from campaigns.sending import send_campaign
from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.campaigns.helpers import (
    SLUGS,
    add_subscribers,
    import_examples,
    new_campaign,
    sendgrid_settings,
)
from tests.fakes.sendgrid_server import FakeSendGrid


def _columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("campaigns")}


def test_0025_fills_the_titles_of_frozen_campaigns(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    add_subscribers(db, 2)
    sent = new_campaign(db)
    assert send_campaign(db, sendgrid_settings(sendgrid_server), sent).status == "sent"
    draft = new_campaign(db)
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0024")
    assert "brief_titles" not in _columns(db)

    assert "0025" in db.upgrade()
    with db.transaction() as session:
        titles = dict(session.execute(select(Campaign.id, Campaign.brief_titles)).all())
    assert titles[draft] is None
    assert titles[sent] is not None and len(titles[sent]) == len(SLUGS)
    assert all(isinstance(title, str) and title for title in titles[sent])

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0024")
    assert "brief_titles" not in _columns(db)
    db.upgrade()
