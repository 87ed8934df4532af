"""Migration 0015 adds the delivery window column in place and the shared-limit tables, with
a campaign and its deliveries in the database, on SQLite and PostgreSQL, and undoes it."""

from __future__ import annotations

from datetime import date

from alembic import command
from sqlalchemy import inspect, text

from campaigns.freeze import freeze_campaign
from campaigns.shaping import set_first_day, warmup_status
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.campaigns.helpers import add_subscribers, import_examples, new_campaign

TABLES = {"send_pacing", "send_quotas", "sending_domains"}


def _count(db: Database, table: str) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_0015_upgrade_and_downgrade_keep_the_campaigns(db: Database) -> None:
    import_examples(db)
    add_subscribers(db, 5)
    campaign_id = new_campaign(db)
    freeze_campaign(db, campaign_id, Settings())
    set_first_day(db, "example.org", date(2026, 12, 1))
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE campaigns SET spread_minutes = 30"))

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0014")
    assert not TABLES & set(inspect(db.engine).get_table_names())
    columns = {c["name"] for c in inspect(db.engine).get_columns("campaigns")}
    assert "spread_minutes" not in columns
    assert (_count(db, "campaigns"), _count(db, "deliveries")) == (1, 5)  # nothing cascaded
    assert _count(db, "campaign_variants") == 1

    assert "0015" in db.upgrade()
    assert set(inspect(db.engine).get_table_names()) >= TABLES
    assert (_count(db, "campaigns"), _count(db, "deliveries")) == (1, 5)
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT spread_minutes FROM campaigns")).scalar() is None
    assert warmup_status(db, Settings()) == []  # the first days went with the table
    set_first_day(db, "example.org", date(2026, 12, 1))
    assert [r.domain for r in warmup_status(db, Settings())] == ["example.org"]
