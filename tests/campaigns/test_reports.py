"""Reports on both databases: every delivery outcome counted, rates of the right base, and
charts that are valid, escaped SVG whatever the names hold."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from campaigns.charts import Series, axis_max, bar_chart, report_charts, segment_rates_chart
from campaigns.model import Delivery
from campaigns.reports import campaign_report, started_campaigns
from campaigns.routes import TrackingSite
from campaigns.sending import send_campaign
from campaigns.tracking import Hit
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.errors import NotFoundError
from newsletter.tokens import Purpose, TokenSigner
from tests.campaigns.helpers import (
    add_segment,
    add_subscribers,
    import_examples,
    links_by_section,
    new_campaign,
    sendgrid_settings,
)
from tests.fakes.sendgrid_server import FakeSendGrid

SVG = "{http://www.w3.org/2000/svg}"


def report_of(db: Database, campaign_id: int):  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return campaign_report(session, campaign_id)


def test_failed_unknown_and_sent_deliveries_are_all_counted(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    add_subscribers(db, 300)
    sendgrid_server.fail_next(400, message="The from address does not match a verified Sender.")
    sendgrid_server.drop_next(1, accept=True)  # accepted, but the answer is lost: unknown
    campaign_id = new_campaign(db)
    send_campaign(db, sendgrid_settings(sendgrid_server), campaign_id)
    report = report_of(db, campaign_id)
    totals = report.totals
    assert (totals.recipients, totals.sent, totals.failed, totals.unknown) == (300, 100, 100, 100)
    assert totals.rate_base == "delivered" and totals.delivered == 0
    assert totals.open_rate is None and totals.click_rate is None  # nothing delivered yet
    assert totals.bounce_rate == 0.0
    json.dumps(report.as_dict())


def test_a_draft_campaign_has_an_empty_report_and_empty_charts(db: Database) -> None:
    import_examples(db)
    campaign_id = new_campaign(db)
    report = report_of(db, campaign_id)
    assert report.segments == () and report.totals.recipients == 0
    assert report.provider is None and report.status == "draft"
    assert [b.clicks for b in report.briefs] == [0, 0, 0]
    charts = report_charts(report)
    assert "Nothing to show yet." in charts["segments"]
    for svg in charts.values():
        ET.fromstring(str(svg))
    with pytest.raises(NotFoundError), db.transaction() as session:
        campaign_report(session, 12345)


def test_outbox_rates_are_of_sent_and_opens_come_from_our_pixel(
    db: Database, tmp_path: Path
) -> None:
    import_examples(db)
    add_subscribers(db, 4)
    settings = Settings(outbox=tmp_path / "box")
    campaign_id = new_campaign(db)
    send_campaign(db, settings, campaign_id)
    tracker = TrackingSite.build(settings, db).tracker
    signer = TokenSigner(settings.signing_key())
    with db.transaction() as session:
        ids = sorted(session.scalars(select(Delivery.id)))
    reader = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
    for delivery_id in ids[:2]:
        token = signer.sign(Purpose.TRACKING, str(delivery_id))
        assert tracker.record_open(token, Hit(utcnow(), reader))
        assert tracker.record_open(token, Hit(utcnow() + timedelta(minutes=1), reader))
    tracker.record_open(signer.sign(Purpose.TRACKING, str(ids[2])), Hit(utcnow(), reader, True))
    report = report_of(db, campaign_id)
    totals = report.totals
    assert (totals.rate_base, totals.sent, totals.opened, totals.opens) == ("sent", 4, 2, 4)
    assert totals.machine_opened == 1 and totals.open_rate == 0.5
    assert totals.delivery_rate is None  # SMTP and the outbox know nothing of delivery
    assert report.machine_events == {"opened:head": 1}
    new_campaign(db)  # a draft: not in the list of started campaigns
    with db.transaction() as session:
        (summary,) = started_campaigns(session)
    assert (summary.campaign_id, summary.status, summary.totals) == (campaign_id, "sent", totals)


def test_a_click_proves_an_open_but_a_machine_proves_nothing(db: Database, tmp_path: Path) -> None:
    """A reader whose client showed no images sends no open, but a click proves they read
    it: they count as opened (and click-to-open can no longer pass 100 %). A machine's
    click proves nothing, and a machine's open of a mail a reader clicked is not "machine
    only"."""
    import_examples(db)
    add_subscribers(db, 5)
    settings = Settings(outbox=tmp_path / "box")
    campaign_id = new_campaign(db)
    send_campaign(db, settings, campaign_id)
    tracker = TrackingSite.build(settings, db).tracker
    signer = TokenSigner(settings.signing_key())
    with db.transaction() as session:
        rows = session.execute(select(Delivery.id, Delivery.variant_id).order_by(Delivery.id))
        ids, variants = zip(*rows.all(), strict=True)
    link_id = links_by_section(db, variants[0])["source"][0]["link_id"]
    later = utcnow() + timedelta(hours=1)  # past the scanners' window after sending
    reader = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"

    def token(n: int) -> str:
        return signer.sign(Purpose.TRACKING, str(ids[n]))

    tracker.click(token(0), link_id, Hit(later, reader))  # images off: a click, no open
    tracker.record_open(token(1), Hit(later, reader, head=True))  # a machine's open…
    tracker.click(token(1), link_id, Hit(later, reader))  # …and the reader's click
    tracker.click(token(2), link_id, Hit(later, reader, head=True))  # a machine's click only
    tracker.record_open(token(3), Hit(later, reader))  # a plain open
    totals = report_of(db, campaign_id).totals
    assert (totals.opened, totals.opens, totals.clicked, totals.machine_opened) == (3, 1, 2, 0)
    assert totals.machine_clicks == 1
    assert totals.open_rate == 3 / 5 and totals.click_to_open_rate == 2 / 3


def test_charts_escape_every_name(db: Database, tmp_path: Path) -> None:
    import_examples(db)
    add_subscribers(db, 2)
    hostile = "<script>alert(\"x\")</script> & 'Europe' \x07"
    add_segment(db, hostile, {"type": "everyone"}, {})
    campaign_id = new_campaign(db, segments=[hostile])
    send_campaign(db, Settings(outbox=tmp_path / "box"), campaign_id)
    svg = str(segment_rates_chart(report_of(db, campaign_id)))
    root = ET.fromstring(svg)  # well-formed, control character gone
    assert all(element.tag != f"{SVG}script" for element in root.iter())
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert hostile.replace("\x07", "") in titles  # the full name, as a tooltip


def test_bar_chart_scales_labels_and_refuses_bad_input() -> None:
    svg = bar_chart(
        "Clicks",
        ["a very long brief title that goes on and on and on", "short"],
        [Series("clicks", (30.0, 15.0)), Series("readers", (10.0, None), "#c05621")],
    )
    root = ET.fromstring(str(svg))
    widths = [
        float(r.get("width", "0"))
        for r in root.iter(f"{SVG}rect")
        if r.find(f"{SVG}title") is not None
    ]
    assert widths[0] > widths[2] > 0 and widths[3] == 0  # 30 is the longest; None draws none
    texts = "".join(root.itertext())
    assert "a very long brief title that go…" in texts and "–" in texts
    assert root.get("role") == "img" and root.get("aria-label") == "Clicks"
    with pytest.raises(ValueError, match="colour"):
        Series("x", (1.0,), "red;stroke:url(javascript:1)")
    with pytest.raises(ValueError, match="values"):
        bar_chart("x", ["a", "b"], [Series("s", (1.0,))])
    percent = ET.fromstring(str(bar_chart("Rates", ["a"], [Series("r", (0.25,))], percent=True)))
    assert "25.0 %" in "".join(percent.itertext())


def _bar_widths(svg: str) -> list[float]:
    root = ET.fromstring(svg)
    return [
        float(r.get("width", "0"))
        for r in root.iter(f"{SVG}rect")
        if r.find(f"{SVG}title") is not None
    ]


def test_charts_scale_to_the_data_and_say_so() -> None:
    """Rates of 2 % and 3 % drawn on a 0–100 % axis were two slivers that looked the same;
    the axis now ends at a round number just above the largest value, stated as text."""
    area = 640 - 230 - 70
    small = str(bar_chart("Rates", ["a", "b"], [Series("r", (0.02, 0.03))], percent=True))
    assert "scale: 0–5 %" in small and "2.0 %" in small and "3.0 %" in small
    assert _bar_widths(small) == [
        pytest.approx(area * 0.4, abs=0.1),
        pytest.approx(area * 0.6, abs=0.1),
    ]
    high = str(bar_chart("Rates", ["a"], [Series("r", (0.95,))], percent=True))
    assert "scale: 0–100 %" in high  # never past 100 %
    counts = str(bar_chart("Clicks", ["a", "b"], [Series("c", (30.0, 7.0))]))
    assert "scale: 0–50" in counts and _bar_widths(counts)[0] == pytest.approx(area * 0.6, abs=0.1)
    nothing = str(bar_chart("Clicks", ["a"], [Series("c", (0.0,))]))
    assert "scale" not in nothing and _bar_widths(nothing) == [0.0]
    assert [axis_max(v, False) for v in (1, 3, 12, 1999)] == [1, 5, 20, 2000]
    assert [axis_max(v, True) for v in (0.001, 0.25, 0.26, 0.7)] == pytest.approx(
        [0.001, 0.25, 0.5, 1.0]
    )
