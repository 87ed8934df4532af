"""Migration 0033 leaves sent campaigns as they were (no test, every row released), matches
the model, and undoes, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect, select, text

from campaigns.model import Delivery
from campaigns.reports import campaign_report
from campaigns.sending import send_campaign
from campaigns.subject_tests import SubjectTestPlan, set_subject_test
from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.campaigns.bounce_mail import outbox_settings
from tests.campaigns.helpers import add_subscribers, import_examples, new_campaign
from tests.schema import schema_differences


def _columns(db: Database, table: str) -> set[str]:
    return {column["name"] for column in inspect(db.engine).get_columns(table)}


def test_0033_keeps_sent_campaigns_and_goes_back(db: Database, tmp_path: Path) -> None:
    import_examples(db)
    add_subscribers(db, 30)
    settings = outbox_settings(tmp_path / "outbox", subject_test_min_cell=5)
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0030")
    assert "cell" not in _columns(db, "deliveries")
    assert "subject_candidates" not in inspect(db.engine).get_table_names()
    with db.engine.begin() as connection:  # a campaign sent before the upgrade, by hand
        connection.execute(
            text(
                "INSERT INTO campaigns (id, name, kind, issue_date, status, created_at, overrides)"
                " VALUES (9000, 'Before', 'manual', '2026-12-01', 'sent', :now, '[]')"
            ),
            {"now": "2026-12-01 07:00:00+00:00"},
        )

    assert "0033" in db.upgrade()
    assert schema_differences(db) == []
    with db.engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT test_share, test_wait, test_decided_at, test_winner FROM campaigns WHERE id = 9000"
            )
        ).one()
        assert tuple(row) == (None, None, None, None)  # no test: nothing held
    with db.transaction() as session:
        assert campaign_report(session, 9000).subject_test is None

    campaign_id = new_campaign(db)  # and a test works on the upgraded schema
    with db.transaction() as session:
        set_subject_test(session, campaign_id, SubjectTestPlan([("B", None)], 0.2, 0))
    assert send_campaign(db, settings, campaign_id).status == "sent"
    with db.transaction() as session:
        cells = set(
            session.scalars(select(Delivery.cell).where(Delivery.campaign_id == campaign_id))
        )
        assert cells == {0, 1, None}
        report = campaign_report(session, campaign_id).subject_test
        assert report is not None and report.outcome.startswith("no clear winner")

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0030")
    assert "cell" not in _columns(db, "deliveries")
    assert "test_share" not in _columns(db, "campaigns")
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM deliveries")).scalar() == 30
    db.upgrade()
