"""Reports and segment counts read from ``NEWSLETTER_READ_DATABASE_URL`` when it is set (a
read replica in production; here a second database of the same kind with other rows, so
that where a figure came from shows), in read-only transactions, on SQLite and PostgreSQL.
Everything that writes still goes to the main database; a replica behind the code's schema
is refused with a message."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.config import get_settings
from newsletter.db import Database, open_database, open_read_database
from newsletter.errors import ConfigurationError
from newsletter.migrate import alembic_config
from subscribers.model import Segment
from tests.campaigns.helpers import add_segment, add_subscribers
from tests.conftest import POSTGRES_URL
from tests.editor.conftest import add_editor, log_in
from tests.subscribers.conftest import LiveServer

runner = CliRunner()


@pytest.fixture
def replica(db: Database, tmp_path: Path) -> Iterator[Database]:
    """A second migrated database of the same kind as ``db``, standing in for a replica."""
    if db.dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'replica.db'}"
        database = open_database(url)
        yield database
        database.dispose()
        return
    schema = f"r_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    database = open_database(url.render_as_string(hide_password=False))
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _url(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


def _segment_names(output: str) -> list[str]:
    return [row["name"] for row in json.loads(output)]


def test_a_read_transaction_refuses_writes_and_leaves_the_connection_writable(
    db: Database,
) -> None:
    row = {"name": "sneaky", "rule": {"type": "everyone"}, "options": {}}
    with pytest.raises(DBAPIError), db.reading() as session:
        session.execute(insert(Segment).values(**row))
    with db.transaction() as session:  # the pooled connection writes again
        session.execute(insert(Segment).values(**row))
    with db.reading() as session:
        assert session.scalars(select(Segment.name)).all() == ["sneaky"]


def test_the_cli_reads_counts_and_reports_from_the_read_database(
    db: Database, replica: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_segment(db, "on-the-primary", {"type": "everyone"}, {})
    add_segment(replica, "on-the-replica", {"type": "everyone"}, {})
    add_subscribers(replica, 3)
    monkeypatch.setenv("NEWSLETTER_READ_DATABASE_URL", _url(replica))
    get_settings.cache_clear()

    listed = runner.invoke(app, ["segments", "list", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert _segment_names(listed.output) == ["on-the-replica"]
    assert json.loads(listed.output)[0]["matching"] == 3
    shown = runner.invoke(app, ["segments", "show", "on-the-replica"])
    assert shown.exit_code == 0, shown.output

    added = runner.invoke(app, ["segments", "add", "written", "--rule", '{"type": "everyone"}'])
    assert added.exit_code == 0, added.output  # a write goes to the main database
    with db.transaction() as session:
        assert set(session.scalars(select(Segment.name))) == {"on-the-primary", "written"}
    with replica.transaction() as session:
        assert list(session.scalars(select(Segment.name))) == ["on-the-replica"]

    missing = runner.invoke(app, ["report", "1"])  # no campaign on the replica
    assert missing.exit_code != 0


def test_the_editor_reads_counts_from_the_read_database(
    db: Database, replica: Database, serve: Callable[..., LiveServer]
) -> None:
    add_segment(db, "on-the-primary", {"type": "everyone"}, {})
    add_segment(replica, "on-the-replica", {"type": "everyone"}, {})
    add_editor(db, "ann@example.org")  # logging in writes: on the main database
    site = serve(read_database_url=_url(replica))
    editor = log_in(site, "ann@example.org")
    try:
        page = editor.http.get("/editor/segments").text
        assert "on-the-replica" in page and "on-the-primary" not in page
        reports = editor.http.get("/editor/reports")
        assert reports.status_code == 200
    finally:
        editor.http.close()


def test_a_read_database_behind_the_schema_is_refused(db: Database, replica: Database) -> None:
    with replica.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0017")
    with pytest.raises(ConfigurationError) as refused:
        open_read_database(_url(replica), db)
    assert "at revision 0017" in str(refused.value)
    assert "NEWSLETTER_READ_DATABASE_URL" in str(refused.value)
    assert open_read_database(None, db) is db


def test_the_web_app_reads_from_the_main_database_when_the_read_one_is_behind(
    db: Database,
    replica: Database,
    serve: Callable[..., LiveServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_segment(db, "on-the-primary", {"type": "everyone"}, {})
    with replica.engine.begin() as connection:  # a deploy migrated the primary a moment ago
        command.downgrade(alembic_config(connection), "0017")
    add_editor(db, "ann@example.org")
    with caplog.at_level("WARNING", logger="newsletter.web"):
        site = serve(read_database_url=_url(replica))  # signups and the rest still start
    assert "reports and counts read from the main database" in caplog.text
    editor = log_in(site, "ann@example.org")
    try:
        assert "on-the-primary" in editor.http.get("/editor/segments").text
    finally:
        editor.http.close()


def test_a_malformed_read_url_is_named_without_its_password(db: Database) -> None:
    with pytest.raises(ConfigurationError) as refused:
        open_read_database("postgresql://news:s3cret@db.example:notaport/news", db)
    assert "NEWSLETTER_READ_DATABASE_URL is not a database URL" in str(refused.value)
    assert "s3cret" not in str(refused.value)
