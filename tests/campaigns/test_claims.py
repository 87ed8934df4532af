"""Claims never overlap: many lanes claiming small batches at once each get distinct rows."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from campaigns.freeze import freeze_campaign
from campaigns.service import CampaignDraft, create_campaign, delivery_counts
from campaigns.store import SqlDeliveryStore
from newsletter.config import Settings
from newsletter.db import Database
from tests.campaigns.helpers import SLUGS, add_subscribers, import_examples


def test_concurrent_claims_never_hand_out_a_row_twice(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("concurrent claims are PostgreSQL's (SQLite runs one lane)")
    import_examples(db)
    add_subscribers(db, 3_000, named=False)
    with db.transaction() as session:
        campaign_id = create_campaign(session, CampaignDraft("Race", list(SLUGS))).id
    freeze_campaign(db, campaign_id, Settings())
    store = SqlDeliveryStore(db)
    claimed: list[int] = []
    lock = threading.Lock()

    def lane() -> None:
        while (claim := store.claim(campaign_id, 37)) is not None:
            with lock:
                claimed.extend(r.delivery_id for r in claim.recipients)

    threads = [threading.Thread(target=lane) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    twice = [delivery for delivery, count in Counter(claimed).items() if count > 1]
    assert twice == []
    with db.transaction() as session:
        counts = delivery_counts(session, campaign_id)
    assert counts.get("sending", 0) == len(claimed)
    assert counts.get("sending", 0) + counts.get("queued", 0) == 3_000


def test_id_arrays_reach_postgresql_as_one_constant(db: Database) -> None:
    """The ids of a claim are one array value, read once, not text cast row by row (which
    made each update of a claim's rows take seconds on a sequential scan)."""
    if db.dialect != "postgresql":
        pytest.skip("the array parameter is PostgreSQL's")
    from sqlalchemy import update
    from sqlalchemy.dialects import postgresql

    from campaigns.model import Delivery

    store = SqlDeliveryStore(db)
    statement = update(Delivery).where(store._in(Delivery.id, range(1, 1001))).values(error="x")
    compiled = statement.compile(dialect=postgresql.psycopg.dialect())
    with db.engine.connect() as connection:
        plan = "\n".join(
            row[0]
            for row in connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
        )
    assert "'{1,2,3," in plan and "::bigint[]" in plan
    assert "cstring" not in plan and "character varying" not in plan, plan


def test_by_key_statements_never_read_the_whole_deliveries_table(db: Database) -> None:
    """The store's planner hint (``_BY_KEY_HINT``): in its by-key transactions the rows of a
    claim are reached through an index where the planner would otherwise read the table."""
    if db.dialect != "postgresql":
        pytest.skip("the planner hint is PostgreSQL's")
    from sqlalchemy import Connection
    from sqlalchemy.dialects import postgresql

    store = SqlDeliveryStore(db)
    statement = store._mine(range(1, 1001)).values(error="x")
    compiled = statement.compile(
        dialect=postgresql.psycopg.dialect(), compile_kwargs={"render_postcompile": True}
    )

    def plan(connection: Connection) -> str:
        rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
        return "\n".join(row[0] for row in rows)

    with db.engine.connect() as connection:
        unhinted = plan(connection)
    with store._by_key() as connection:
        hinted = plan(connection)
    assert "Seq Scan on deliveries" in unhinted  # the premise: without it, a whole read
    assert "Seq Scan" not in hinted and "Index" in hinted, hinted


def test_claims_of_a_local_time_campaign_read_only_due_rows(db: Database) -> None:
    """Rows of a campaign sent at the readers' local time are claimed through
    ``ix_deliveries_queued_local``: the moment bounds the index scan, so rows whose hour
    has not come are never read, and the order is the index's (no sort of the campaign)."""
    if db.dialect != "postgresql":
        pytest.skip("the plan is PostgreSQL's (SQLite claims one moment's range by equality)")
    from datetime import UTC, datetime, time

    from sqlalchemy import Connection, text

    from campaigns.service import set_local_time

    import_examples(db)
    add_subscribers(db, 3_000, named=False)
    with db.transaction() as session:
        campaign_id = create_campaign(session, CampaignDraft("Local", list(SLUGS))).id
        set_local_time(session, campaign_id, time(7, 0))
    freeze_campaign(db, campaign_id, Settings(), now=datetime(2026, 6, 1, tzinfo=UTC))
    with db.engine.begin() as connection:
        connection.execute(text("ANALYZE deliveries"))
    store = SqlDeliveryStore(db, clock=lambda: datetime(2026, 6, 1, 8, tzinfo=UTC).timestamp())
    statement = store._locking_claim(campaign_id, 1000, local=True)
    compiled = statement.compile(dialect=db.engine.dialect)

    def plan(connection: Connection) -> str:
        rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
        return "\n".join(row[0] for row in rows)

    with store._by_key() as connection:
        hinted = plan(connection)
    assert "ix_deliveries_queued_local" in hinted, hinted
    assert "Seq Scan on deliveries" not in hinted and "Sort" not in hinted, hinted
    claim = store.claim(campaign_id, 1000)
    assert claim is not None and len(claim.recipients) == 1000  # all due at 07:00 UTC
    early = SqlDeliveryStore(db, clock=lambda: datetime(2026, 6, 1, 6, tzinfo=UTC).timestamp())
    assert early.claim(campaign_id, 1000) is None  # before 07:00: nothing is due
