"""Migration 0016 lets the mail queue hold 'fresh-link' mails, with data, on SQLite and
PostgreSQL, and undoes it (dropping only those mails)."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy.exc import IntegrityError

from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.subscribers.test_sunset_migration import _count, _queue, _seed


def test_0016_upgrade_and_downgrade_keep_the_other_mails(db: Database) -> None:
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0015")
    _seed(db)
    _queue(db, "keep")
    with pytest.raises(IntegrityError):
        _queue(db, "fresh-link")  # the old check refuses the new kind

    assert "0016" in db.upgrade()
    assert _count(db, "mail_queue") == 2  # the copied queue kept its rows
    _queue(db, "fresh-link")
    with pytest.raises(IntegrityError):
        _queue(db, "newsletter")  # still checked
    with pytest.raises(IntegrityError):
        _queue(db, "fresh-link", status="lost")  # and so is the status, through the copy

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0015")
    assert _count(db, "mail_queue") == 2  # the fresh link is gone, the others stay
    assert _count(db, "subscribers") == 1
