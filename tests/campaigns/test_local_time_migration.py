"""Migration 0032 keeps existing rows' meaning (no zone, no local time, sent at once),
matches the models, and goes back, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from campaigns.freeze import freeze_campaign
from campaigns.service import CampaignDraft, create_campaign
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.campaigns.helpers import SLUGS, add_subscribers, import_examples
from tests.schema import schema_differences

NEW = {"subscribers": "time_zone", "campaigns": "local_send_time", "deliveries": "not_before"}


def _has_new_columns(db: Database) -> dict[str, bool]:
    inspector = inspect(db.engine)
    return {
        table: column in {c["name"] for c in inspector.get_columns(table)}
        for table, column in NEW.items()
    }


def test_0032_upgrades_with_data_and_goes_back(db: Database, tmp_path: object) -> None:
    import_examples(db)
    add_subscribers(db, 5)
    with db.transaction() as session:
        campaign_id = create_campaign(session, CampaignDraft("Before", list(SLUGS))).id
    freeze_campaign(db, campaign_id, Settings(outbox=f"{tmp_path}/outbox"))
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0030")
    assert not any(_has_new_columns(db).values())
    assert "0032" in db.upgrade()
    assert all(_has_new_columns(db).values())
    assert schema_differences(db) == []
    with db.engine.connect() as connection:
        zones = connection.execute(text("SELECT count(time_zone) FROM subscribers")).scalar()
        local = connection.execute(text("SELECT count(local_send_time) FROM campaigns")).scalar()
        queued = connection.execute(
            text("SELECT count(*), count(not_before) FROM deliveries")
        ).one()
    assert (zones, local, tuple(queued)) == (0, 0, (5, 0))
    indexes = {i["name"] for i in inspect(db.engine).get_indexes("deliveries")}
    assert "ix_deliveries_queued_local" in indexes
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0030")
    assert not any(_has_new_columns(db).values())
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM deliveries")).scalar() == 5
    db.upgrade()
