"""Subject tests: cells dealt at the freeze, the rest held, decided once by human clicks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from campaigns.checks import StartRefused
from campaigns.events import EventRecord
from campaigns.freeze import freeze_campaign
from campaigns.ingest import IngestPolicy, record_events
from campaigns.linkmap import LinkIndexCache
from campaigns.model import Campaign, Delivery, Variant
from campaigns.preflight import run_preflight
from campaigns.reports import campaign_report
from campaigns.rollups import VariantRollup
from campaigns.sending import run_worker, send_campaign
from campaigns.significance import two_proportion_test
from campaigns.subject_tests import (
    CellFigures,
    SubjectTestPlan,
    cell_figures,
    decide_due_tests,
    set_subject_test,
    subject_test_report,
    verdict,
)
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.deliverability.dns_check import Status
from newsletter.errors import InvalidInput, RenderError
from tests.campaigns.bounce_mail import outbox_settings
from tests.campaigns.helpers import (
    add_subscribers,
    import_examples,
    links_by_section,
    new_campaign,
    outbox_mails,
    sendgrid_settings,
)
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.smtp_server import FakeSmtpServer

READER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
POLICY = IngestPolicy.from_settings(Settings())
SUBJECT_B = "Subject B: the cold snap"


def test_two_proportion_test_against_known_values() -> None:
    # statsmodels.stats.proportion.proportions_ztest([200, 150], [1000, 1000])
    found = two_proportion_test(200, 1000, 150, 1000)
    assert found.z == pytest.approx(2.94245, abs=1e-5)
    assert found.p_value == pytest.approx(0.0032563, abs=1e-6)
    assert found.confidence == pytest.approx(0.9967437, abs=1e-6)
    assert two_proportion_test(150, 1000, 200, 1000).z == pytest.approx(-2.94245, abs=1e-5)
    assert two_proportion_test(12, 300, 10, 300).p_value == pytest.approx(0.66397, abs=1e-5)
    assert two_proportion_test(0, 0, 5, 10).p_value == 1.0  # nobody: no evidence
    assert two_proportion_test(0, 10, 0, 10).p_value == 1.0  # no clicks at all
    with pytest.raises(ValueError):
        two_proportion_test(11, 10, 0, 10)


def _tested_campaign(db: Database, *, share: float = 0.1, wait: float = 60.0) -> int:
    import_examples(db)
    campaign_id = new_campaign(db)
    plan = SubjectTestPlan([(SUBJECT_B, "Preheader B")], share, wait)
    with db.transaction() as session:
        set_subject_test(session, campaign_id, plan)
    return campaign_id


def _settings(tmp_path: Path, **changes: object) -> Settings:
    return outbox_settings(tmp_path / "outbox", **{"subject_test_min_cell": 100, **changes})


def _subjects(tmp_path: Path) -> Counter[str]:
    return Counter(str(m["Subject"]) for m in outbox_mails(tmp_path / "outbox"))


def _cells(db: Database, campaign_id: int) -> dict[int, int | None]:
    with db.transaction() as session:
        rows = session.execute(
            select(Delivery.subscriber_id, Delivery.cell).where(Delivery.campaign_id == campaign_id)
        )
        return {subscriber: cell for subscriber, cell in rows}


def _due_now(db: Database, campaign_id: int) -> None:
    """The test's wait over: the freeze and its cells' mail that long ago."""
    with db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.frozen_at is not None
        wait = timedelta(minutes=campaign.test_wait or 0)
        campaign.frozen_at = campaign.frozen_at - wait
        session.execute(
            update(Delivery)
            .where(Delivery.campaign_id == campaign_id, Delivery.cell.is_not(None))
            .values(sent_at=campaign.frozen_at, updated_at=campaign.frozen_at)
        )


def _events(db: Database, campaign_id: int, cell: int, kind: str, count: int, **kw: object) -> None:
    """``count`` events of ``kind`` on as many of ``cell``'s sent deliveries (an hour later)."""
    with db.transaction() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.variant_id)
            .where(Delivery.campaign_id == campaign_id, Delivery.cell == cell)
            .order_by(Delivery.id)
            .limit(count)
        ).all()
    later = utcnow() + timedelta(hours=1)
    records = []
    for delivery_id, variant_id in rows:
        content = links_by_section(db, variant_id)["fact-citation"][0]["link_id"]
        records.append(
            EventRecord(
                source="first-party",
                event_id=f"{kind}-{delivery_id}",
                type=kind,  # type: ignore[arg-type]
                occurred_at=later,
                received_at=later,
                delivery_ref=delivery_id,
                campaign_ref=campaign_id,
                link_id=content if kind == "clicked" else None,
                user_agent=READER,
                **kw,  # type: ignore[arg-type]
            )
        )
    with db.transaction() as session:
        record_events(session, records, POLICY, LinkIndexCache())


def test_cells_are_dealt_by_a_stable_hash_and_the_rest_is_held(
    db: Database, tmp_path: Path
) -> None:
    add_subscribers(db, 2000)
    campaign_id = _tested_campaign(db)
    settings = _settings(tmp_path)
    report = send_campaign(db, settings, campaign_id)
    cells = _cells(db, campaign_id)
    for subscriber_id, cell in cells.items():  # the hash, in the open
        spot = (subscriber_id % 1000) * 7919 % 1000
        assert cell == (spot // 100 if spot < 200 else None)
    assert Counter(cells.values()) == {0: 200, 1: 200, None: 1600}
    assert report.status == "sending"  # the rest waits for the decision
    assert report.counts == {"sent": 400, "queued": 1600}
    assert _subjects(tmp_path)[SUBJECT_B] == 200 and len(_subjects(tmp_path)) == 2
    # a worker's round before the wait is over sends nothing more
    run_worker(db, settings, stop=threading.Event(), once=True)
    assert sum(_subjects(tmp_path).values()) == 400
    with db.transaction() as session:
        variants = session.scalars(select(Variant).where(Variant.campaign_id == campaign_id))
        by_cell = {v.cell: v for v in variants}
    assert by_cell[1].subject == SUBJECT_B and "Preheader B" in by_cell[1].html
    assert by_cell[0].subject == by_cell[None].subject != SUBJECT_B


def test_the_winner_by_human_clicks_goes_to_the_rest(db: Database, tmp_path: Path) -> None:
    add_subscribers(db, 2000)
    campaign_id = _tested_campaign(db)
    settings = _settings(tmp_path)
    send_campaign(db, settings, campaign_id)
    first_subject = next(s for s in _subjects(tmp_path) if s != SUBJECT_B)
    # opens are no evidence: cell A has every open, human and machine, and few clicks
    _events(db, campaign_id, 0, "opened", 200)
    _events(db, campaign_id, 0, "opened", 200, machine_reason="machine-open")
    _events(db, campaign_id, 0, "clicked", 10)
    _events(db, campaign_id, 1, "clicked", 40)
    _events(db, campaign_id, 1, "clicked", 100, machine_reason="scanner")  # bots: ignored
    assert decide_due_tests(db, settings) == []  # not due yet
    _due_now(db, campaign_id)
    run_worker(db, settings, stop=threading.Event(), once=True, schedule=True)
    with db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        assert campaign.test_winner == 1 and campaign.test_decided_at is not None
        assert campaign.status == "sent" and campaign.status_reason is None
    assert _subjects(tmp_path) == {SUBJECT_B: 200 + 1600, first_subject: 200}
    assert decide_due_tests(db, settings) == []  # decided once


def test_a_cell_with_more_clickers_than_sent_is_clamped_not_an_error(
    db: Database, tmp_path: Path
) -> None:
    """Clicks counted for deliveries that were later re-counted can leave a cell's unique
    clickers above its sent count: the figures say 'all of them', the test still decides."""
    add_subscribers(db, 2000)
    campaign_id = _tested_campaign(db)
    settings = _settings(tmp_path)
    send_campaign(db, settings, campaign_id)
    _events(db, campaign_id, 0, "clicked", 10)
    _events(db, campaign_id, 1, "clicked", 40)
    with db.transaction() as session:
        cell_b = select(Variant.id).where(Variant.campaign_id == campaign_id, Variant.cell == 1)
        session.execute(
            update(VariantRollup)
            .where(VariantRollup.variant_id.in_(cell_b))
            .values(clicked=VariantRollup.clicked + 200)  # 240 clickers of 200 sent
        )
    with db.transaction() as session:
        figures = {c.position: c for c in cell_figures(session, campaign_id)}
        assert (figures[1].sent, figures[1].clickers, figures[1].rate) == (200, 200, 1.0)
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        report = subject_test_report(session, campaign)
        assert report is not None and report.cells[1].clickers == 200
        assert (report.cells[0].confidence_best_beats_it or 0) > 0.99
    _due_now(db, campaign_id)
    run_worker(db, settings, stop=threading.Event(), once=True, schedule=True)
    with db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.test_winner == 1


def test_no_clear_winner_sends_the_first_subject(db: Database, tmp_path: Path) -> None:
    add_subscribers(db, 2000)
    campaign_id = _tested_campaign(db, wait=0)
    settings = _settings(tmp_path)
    # with no wait, `newsletter send` decides when the cells are out, and sends the rest
    report = send_campaign(db, settings, campaign_id)
    assert report.status == "sent"
    with db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        assert campaign.test_decided_at is not None and campaign.test_winner is None
    subjects = _subjects(tmp_path)
    assert subjects[SUBJECT_B] == 200 and sum(subjects.values()) == 2000


def _cell_statuses(db: Database, campaign_id: int) -> Counter[str]:
    with db.transaction() as session:
        return Counter(
            session.scalars(
                select(Delivery.status).where(
                    Delivery.campaign_id == campaign_id, Delivery.cell.is_not(None)
                )
            )
        )


def test_not_decided_while_cell_mail_is_still_queued(db: Database, tmp_path: Path) -> None:
    """With no wait, or an hourly send limit that holds the cells back, a test is not
    decided on cells that have not gone out: only once none is queued or being sent."""
    add_subscribers(db, 1000)
    campaign_id = _tested_campaign(db, wait=0)
    limited = _settings(tmp_path, send_limit_per_hour=50)
    freeze_campaign(db, campaign_id, limited)
    tomorrow = utcnow() + timedelta(days=1)
    assert decide_due_tests(db, limited, now=tomorrow) == []  # nothing sent at all
    run_worker(db, limited, stop=threading.Event(), once=True)
    assert _cell_statuses(db, campaign_id) == {"sent": 50, "queued": 150}
    assert decide_due_tests(db, limited, now=tomorrow) == []  # a quarter of the cells out
    with db.transaction() as session:
        campaign = session.get_one(Campaign, campaign_id)
        assert campaign.test_decided_at is None
        report = campaign_report(session, campaign_id).subject_test
        assert report is not None and report.decides_at is None
        assert report.outcome.startswith("undecided: waits for every test cell's mail")
    settings = _settings(tmp_path)
    run_worker(db, settings, stop=threading.Event(), once=True)  # the rest of the cells
    assert _cell_statuses(db, campaign_id) == {"sent": 200}
    assert decide_due_tests(db, settings, now=tomorrow) == [campaign_id]


def test_the_wait_counts_from_the_last_cell_mail_sent(db: Database, tmp_path: Path) -> None:
    """Frozen two hours ago, but the last cell's mail went out (after a send limit) half an
    hour ago: an hour's wait is over half an hour from now, not already."""
    add_subscribers(db, 1000)
    campaign_id = _tested_campaign(db, wait=60)
    settings = _settings(tmp_path)
    send_campaign(db, settings, campaign_id)
    now = utcnow()
    with db.transaction() as session:
        session.get_one(Campaign, campaign_id).frozen_at = now - timedelta(hours=2)
        cells = (Delivery.campaign_id == campaign_id, Delivery.cell.is_not(None))
        session.execute(update(Delivery).where(*cells).values(sent_at=now - timedelta(hours=2)))
        last = session.scalars(select(Delivery.id).where(*cells).limit(1)).one()
        session.execute(
            update(Delivery).where(Delivery.id == last).values(sent_at=now - timedelta(minutes=30))
        )
    assert decide_due_tests(db, settings, now=now) == []
    assert decide_due_tests(db, settings, now=now + timedelta(minutes=29)) == []
    assert decide_due_tests(db, settings, now=now + timedelta(minutes=31)) == [campaign_id]


def test_cells_under_the_minimum_are_refused_and_nothing_is_frozen(
    db: Database, tmp_path: Path
) -> None:
    add_subscribers(db, 2000)
    campaign_id = _tested_campaign(db)
    settings = _settings(tmp_path).model_copy(update={"subject_test_min_cell": 201})
    with pytest.raises(StartRefused, match="smallest cell would have 200 recipients"):
        freeze_campaign(db, campaign_id, settings)
    with db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.frozen_at is None
        assert campaign.status == "draft"
        assert (
            session.scalars(select(Variant).where(Variant.campaign_id == campaign_id)).all() == []
        )
    assert _cells(db, campaign_id) == {}


@pytest.mark.parametrize(
    ("subjects", "share", "wait", "field"),
    [
        ([], 0.1, 60, "subject_test"),
        ([("B", None), ("C", None), ("D", None), ("E", None)], 0.1, 60, "subject_test"),
        ([("  ", None)], 0.1, 60, "subject_test"),
        ([("B", None)], 0.5, 60, "test_share"),
        ([("B", None)], 0.0001, 60, "test_share"),
        ([("B", None)], float("nan"), 60, "test_share"),  # round() raised, not refused
        ([("B", None)], float("inf"), 60, "test_share"),
        ([("B", None)], 1e306, 60, "test_share"),
        ([("B", None)], -1e306, 60, "test_share"),
        ([("B", None)], 0.1, -1, "test_wait"),
    ],
)
def test_bad_plans_are_refused_saying_which_value(
    db: Database, subjects: list[tuple[str, str | None]], share: float, wait: float, field: str
) -> None:
    import_examples(db)
    campaign_id = new_campaign(db)
    with pytest.raises(InvalidInput) as refused, db.transaction() as session:
        set_subject_test(session, campaign_id, SubjectTestPlan(subjects, share, wait))
    assert refused.value.field == field


def test_a_test_subject_jinja_cannot_parse_is_refused(db: Database) -> None:
    import_examples(db)
    campaign_id = new_campaign(db)
    with pytest.raises(RenderError, match="subject_test:1"), db.transaction() as session:
        set_subject_test(session, campaign_id, SubjectTestPlan([("{{ oops", None)], 0.1, 60))


def test_the_frozen_subject_travels_through_sendgrid(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    add_subscribers(db, 2000)
    campaign_id = _tested_campaign(db, wait=0)
    settings = sendgrid_settings(sendgrid_server, subject_test_min_cell=100)
    assert send_campaign(db, settings, campaign_id).status == "sent"
    subjects: Counter[str] = Counter()
    for accepted in sendgrid_server.accepted:
        for item in accepted.personalizations:
            subjects[str(item.get("subject", accepted.body.get("subject")))] += 1
    assert subjects[SUBJECT_B] == 200 and sum(subjects.values()) == 2000


def test_the_frozen_subject_travels_through_smtp(db: Database, smtp_server: FakeSmtpServer) -> None:
    add_subscribers(db, 1000)
    campaign_id = _tested_campaign(db, wait=0)
    url = f"smtp://127.0.0.1:{smtp_server.port}"
    settings = Settings(provider="smtp", smtp_url=url, subject_test_min_cell=50)
    assert send_campaign(db, settings, campaign_id).status == "sent"
    subjects = Counter(
        str(message_from_bytes(r.data, policy=policy.default)["Subject"])
        for r in smtp_server.received
    )
    assert subjects[SUBJECT_B] == 100 and sum(subjects.values()) == 1000


def test_a_due_schedule_whose_cells_are_too_small_is_paused_with_the_reason(
    db: Database, tmp_path: Path
) -> None:
    add_subscribers(db, 1000)
    campaign_id = _tested_campaign(db)
    with db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.status, campaign.send_at = "scheduled", utcnow() - timedelta(minutes=1)
    settings = _settings(tmp_path, subject_test_min_cell=101)
    run_worker(db, settings, stop=threading.Event(), once=True, schedule=True)
    with db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.status == "paused"
        assert "smallest cell would have 100 recipients" in (campaign.status_reason or "")
    assert _cells(db, campaign_id) == {} and _subjects(tmp_path) == Counter()


def test_two_deciders_at_once_decide_once(db: Database, tmp_path: Path) -> None:
    if db.dialect != "postgresql":
        pytest.skip("several schedulers run against PostgreSQL only")
    add_subscribers(db, 2000)
    campaign_id = _tested_campaign(db)
    settings = _settings(tmp_path)
    send_campaign(db, settings, campaign_id)
    _events(db, campaign_id, 1, "clicked", 60)
    _due_now(db, campaign_id)
    results: list[list[int]] = []
    # hold the campaign row so that both deciders reach their conditional UPDATE together
    with db.engine.connect() as blocker:
        blocker.execute(
            text("SELECT id FROM campaigns WHERE id = :id FOR UPDATE"), {"id": campaign_id}
        )
        threads = [
            threading.Thread(target=lambda: results.append(decide_due_tests(db, settings)))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        assert results == []  # both are waiting at the row
        blocker.commit()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == [[], [campaign_id]]
    with db.transaction() as session:
        decided = session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(test_share=Campaign.test_share)
            .returning(Campaign.test_winner)
        ).scalar_one()
    assert decided == 1


def test_the_preflight_says_when_cells_would_be_too_small(db: Database, tmp_path: Path) -> None:
    add_subscribers(db, 1000)
    campaign_id = _tested_campaign(db)
    for floor, status in [(100, Status.PASS), (101, Status.FAIL)]:
        settings = _settings(tmp_path, subject_test_min_cell=floor, compliance_checks=False)
        report = run_preflight(db, campaign_id, settings)
        item = next(i for i in report.items if i.check == "subject test")
        assert item.status is status
        assert item.summary.startswith("2 subjects, about 100 recipients per test cell")
    plain = new_campaign(db, name="No test")
    assert all(i.check != "subject test" for i in run_preflight(db, plain, settings).items)


def test_the_verdict_ranks_by_human_click_rate_and_needs_the_confidence() -> None:
    a, b, c = (CellFigures(0, "A", 1000, 150), CellFigures(1, "B", 1000, 200),
               CellFigures(2, "C", 1000, 190))  # fmt: skip
    found = verdict([a, b, c], 0.95)  # B leads C only a little: not clear
    assert (found.best, found.runner_up, found.winner) == (1, 2, None)
    assert verdict([a, b], 0.95).winner == 1  # B over A: 99.7 % sure
    assert verdict([a, b], 0.999).winner is None
    assert verdict([CellFigures(0, "A", 0, 0), CellFigures(1, "B", 0, 0)], 0.95).winner is None
    assert verdict([a], 0.95).winner is None
