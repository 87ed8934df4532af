"""List health on both databases: each campaign's bounce and complaint rates judged against
their lines, the history by campaign, week and month (bounded, gaps shown), the readers
lapsed at each date (ongoing lapses, revivals, and readers who left), and `report health`."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import JSON, insert, literal, select, update
from typer.testing import CliRunner

from campaigns.charts import Line, Series, bar_chart, complaint_chart, health_charts
from campaigns.health import (
    HEALTH_COLUMNS,
    HealthHistory,
    HealthPeriod,
    health_history,
    row_dict,
)
from campaigns.health_lines import Level, bounce_verdict, complaint_verdict
from campaigns.report_tables import CsvTable, rate_text, report_csv
from campaigns.reports import campaign_report
from newsletter.cli.app import app
from newsletter.db import Database, utcnow
from subscribers.lapse import lapse_counts_at, lapsed_counts, revive_many
from subscribers.model import ConsentRecord, Subscriber
from subscribers.signup import Origin
from tests.campaigns.health_data import History
from tests.campaigns.helpers import add_subscribers

SVG = "{http://www.w3.org/2000/svg}"
runner = CliRunner()


def test_the_lines_are_gmails_and_the_bounce_lines_are_2_and_5_percent() -> None:
    assert complaint_verdict(None).level is Level.UNKNOWN
    assert complaint_verdict(0.00099).level is Level.OK
    warned = complaint_verdict(0.001)
    assert warned.level is Level.WARNING and "0.1 %" in warned.text
    over = complaint_verdict(0.003)
    assert over.level is Level.OVER and over.text == "over Gmail's 0.3 % limit"
    assert [bounce_verdict(r).level for r in (0.0199, 0.02, 0.0499, 0.05)] == [
        Level.OK, Level.WARNING, Level.WARNING, Level.OVER
    ]  # fmt: skip
    assert rate_text(0.0021) == "0.21 %" and rate_text(0.25) == "25.0 %" and rate_text(0) == "0.0 %"


def test_each_campaigns_report_judges_its_rates(db: Database, three_issues: History) -> None:
    with db.transaction() as session:
        reports = [campaign_report(session, c) for c in three_issues.campaigns]
    one, two, three = (r.health for r in reports)
    assert (reports[0].totals.sent, reports[0].totals.bounced) == (500, 30)
    assert (one.bounce.level, one.bounce.rate, one.complaint.level) == (Level.OVER, 0.06, Level.OK)
    assert two.complaint.level is Level.WARNING and two.complaint.rate == pytest.approx(1 / 500)
    assert two.unsubscribe_rate == pytest.approx(5 / 500)
    assert three.complaint.level is Level.OVER and three.complaint.text.startswith("over Gmail")
    as_json = json.loads(json.dumps(reports[2].as_dict()))
    assert as_json["health"]["complaint"]["level"] == "over"
    rows = list(csv.DictReader(io.StringIO(report_csv(reports[0], CsvTable.segments))))
    assert [(r["bounce_status"], r["complaint_status"]) for r in rows] == [("over", "ok")] * 2
    assert {"unsubscribe_rate", "complaint_rate"} <= set(rows[0])


def test_the_history_by_campaign_is_the_last_n_oldest_first(
    db: Database, three_issues: History
) -> None:
    with db.transaction() as session:
        every = health_history(session, last=12)
        last_two = health_history(session, last=2)
    assert [row.label for row in every.rows] == ["Issue 1", "Issue 2", "Issue 3"]
    assert [row.campaign_id for row in last_two.rows] == three_issues.campaigns[1:]
    levels = [(r.health.bounce.level, r.health.complaint.level) for r in every.rows]
    assert levels == [
        (Level.OVER, Level.OK), (Level.OK, Level.WARNING), (Level.OK, Level.OVER)
    ]  # fmt: skip
    data = every.as_dict()
    assert data["lines"]["complaint_limit"] == 0.003 and len(data["rows"]) == 3
    assert list(row_dict(every.rows[0])) == list(HEALTH_COLUMNS)


def test_weeks_and_months_add_campaigns_up_and_show_gaps(
    db: Database, three_issues: History
) -> None:
    now = three_issues.now
    with db.transaction() as session:
        weeks = health_history(session, by=HealthPeriod.week, last=4, now=now)
        months = health_history(session, by=HealthPeriod.month, last=3, now=now)
        recent = health_history(session, by=HealthPeriod.week, last=1, now=now)
    assert [row.campaigns for row in weeks.rows] == [1, 1, 0, 1]
    assert weeks.rows[-1].label == f"{now.isocalendar()[0]}-W{now.isocalendar()[1]:02d}"
    assert weeks.rows[2].figures.sent == 0 and weeks.rows[2].health.level is Level.UNKNOWN
    assert weeks.rows[-1].lapsed_at == now and weeks.rows[0].lapsed_at == weeks.rows[1].start
    assert [row.campaigns for row in recent.rows] == [1]  # bounded to the week asked for
    assert sum(row.campaigns for row in months.rows) == 3
    assert sum(row.figures.sent for row in months.rows) == 1500
    busiest = max(months.rows, key=lambda row: row.campaigns)
    assert busiest.figures.rate_base == "sent"
    with db.transaction() as session, pytest.raises(ValueError, match="between 1 and"):
        health_history(session, last=0)


def test_lapsed_readers_are_counted_as_they_were_at_each_date(db: Database) -> None:
    """B lapsed 25 days ago and came back 10 days ago; A lapsed 18 days ago and still is; C
    lapsed 16 days ago and unsubscribed 5 days ago; D lapsed and bounced (no time kept)."""
    add_subscribers(db, 5)
    now = utcnow()
    ago = {n: now - timedelta(days=n) for n in (25, 21, 18, 16, 14, 10, 5)}
    with db.transaction() as session:
        ids = {s.email: s.id for s in session.scalars(select(Subscriber))}
        a, b, c, d = (ids[f"reader{n}@example.org"] for n in range(4))
        for who, when in ((a, ago[18]), (b, ago[25]), (c, ago[16]), (d, ago[16])):
            session.execute(update(Subscriber).where(Subscriber.id == who).values(lapsed_at=when))
        session.execute(
            update(Subscriber)
            .where(Subscriber.id == c)
            .values(status="unsubscribed", unsubscribed_at=ago[5])
        )
        session.execute(update(Subscriber).where(Subscriber.id == d).values(status="bounced"))
    with db.transaction() as session:
        origin = Origin(source="tracking")
        assert revive_many(session, [b], origin, via="click", now=ago[10]) == 1
    with db.transaction() as session:
        record = session.scalars(select(ConsentRecord).where(ConsentRecord.subscriber_id == b))
        assert record.one().form["lapsed_at"].startswith(ago[25].date().isoformat())
        moments = [ago[21], ago[14], ago[5] + timedelta(hours=1), now]
        assert lapsed_counts(session, moments) == [1, 3, 1, 1]
        assert lapsed_counts(session, [ago[25] - timedelta(seconds=1), ago[25]]) == [0, 1]


def test_report_health_prints_tables_json_and_csv(db: Database, three_issues: History) -> None:
    table = runner.invoke(app, ["report", "health"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "Issue 1" in table.output and "6.0 % !!" in table.output
    assert "0.20 % !" in table.output and "over Gmail's 0.3 % limit" in table.output
    weekly = runner.invoke(app, ["report", "health", "--by", "week", "--last", "4", "-f", "csv"])
    assert weekly.exit_code == 0, weekly.output
    rows = list(csv.DictReader(io.StringIO(weekly.output)))
    assert [r["campaigns"] for r in rows] == ["1", "1", "0", "1"]
    assert rows[-1]["complaint_status"] == "over" and rows[0]["bounce_status"] == "over"
    as_json = runner.invoke(app, ["report", "health", "--by", "month", "-f", "json"])
    assert json.loads(as_json.output)["by"] == "month"
    refused = runner.invoke(app, ["report", "health", "--last", "0"])
    assert refused.exit_code == 2 and "--last" in refused.output
    bad = runner.invoke(app, ["report", "health", "--by", "year"])
    assert bad.exit_code == 2 and "year" in bad.output
    campaign = runner.invoke(
        app, ["report", str(three_issues.campaigns[0])], env={"COLUMNS": "200"}
    )
    assert campaign.exit_code == 0, campaign.output
    assert "list health: bounces 6.0 % of sent (over the 5 % limit" in campaign.output
    explicit = runner.invoke(app, ["report", "campaign", str(three_issues.campaigns[0])])
    assert explicit.exit_code == 0 and "list health" in explicit.output
    options_first = runner.invoke(app, ["report", "-f", "json", str(three_issues.campaigns[2])])
    assert json.loads(options_first.output)["health"]["complaint"]["level"] == "over"
    missing = runner.invoke(app, ["report", "9999"])
    assert missing.exit_code == 1 and "no campaign with id 9999" in missing.output


def test_health_charts_draw_the_lines_scaled_to_the_data(
    db: Database, three_issues: History
) -> None:
    with db.transaction() as session:
        history = health_history(session, last=12)
    charts = health_charts(history)
    complaints = ET.fromstring(str(charts["complaints"]))
    texts = ["".join(t.itertext()) for t in complaints.iter(f"{SVG}text")]
    assert "scale: 0–0.5 %" in texts  # the 0.4 % bar, rounded up
    assert "Gmail's advice (0.1 %)" in texts and "Gmail's limit (0.3 %)" in texts
    assert {"0.0 %", "0.20 %", "0.40 %"} <= set(texts)  # every figure as text
    assert len(list(complaints.iter(f"{SVG}line"))) == 2
    bounces = ET.fromstring(str(charts["bounces"]))
    assert "scale: 0–10 %" in ["".join(t.itertext()) for t in bounces.iter(f"{SVG}text")]
    hostile = bar_chart(
        "t", ['<b>"x"</b>'], [Series("s", (0.001,))], percent=True, lines=[Line(0.003, "<i>")]
    )
    assert "<i>" not in str(hostile) and "&lt;i&gt;" in str(hostile)
    with pytest.raises(ValueError, match="colour"):
        Line(0.1, "x", "red")
    empty = complaint_chart(HealthHistory(HealthPeriod.campaign, 12, "UTC", utcnow(), ()))
    assert "No campaign has started sending yet." in str(empty)


def test_lapsed_counts_read_their_indexes(db: Database) -> None:
    """Each lapsed count is an index range scan, not a read of every subscriber or consent
    record (3,000 readers, 30 of them lapsed, a consent record each)."""
    add_subscribers(db, 3000)
    now = utcnow()
    with db.transaction() as session:
        session.execute(
            update(Subscriber).where(Subscriber.id <= 30).values(lapsed_at=now - timedelta(days=3))
        )
        session.execute(
            insert(ConsentRecord).from_select(
                ["subscriber_id", "kind", "at", "form"],
                select(Subscriber.id, literal("add"), literal(now), literal({}, JSON)),
            )
        )
        revive_many(session, range(1, 11), Origin(source="tracking"), via="click", now=now)
    with db.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
        for statement, index in zip(
            lapse_counts_at(now - timedelta(days=1)),
            ("ix_subscribers_lapsed_at", "ix_consent_records_kind_at"),
            strict=True,
        ):
            compiled = statement.compile(
                dialect=connection.dialect, compile_kwargs={"literal_binds": True}
            )
            explain = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
            rows = connection.exec_driver_sql(explain + str(compiled)).all()
            plan = "\n".join(str(row[-1]) for row in rows)
            assert index in plan, plan
